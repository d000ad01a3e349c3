// The Teensy sketch's glue (firmware/teensy/lockstep_box/lockstep_box.ino) on the host, against
// fake Teensy headers (firmware/teensy/hostcheck): setup() and loop() wire the core Device to
// USB serial, the device clock, the boot id and the trigger outputs' timer. One process is one
// boot (setup() runs once), so the steps are one test in order.
#include "../lockstep_box/box_boot_id.hpp"
#include "../lockstep_box/box_outputs.hpp"
#include "fake_box.hpp"
#include "src/core/protocol.hpp"

#include <Arduino.h>
#include <EEPROM.h>
#include <IntervalTimer.h>

#include <gtest/gtest.h>

#include <vector>

namespace {

namespace proto = lockstep::fw::proto;
using lockstep::fw::DeviceTime;

void send(const proto::Message& m, std::uint16_t seq) {
    std::uint8_t buf[proto::max_wire_frame];
    const std::size_t n = proto::encode(m, seq, buf, sizeof buf);
    ASSERT_GT(n, 0U);
    Serial.rx.insert(Serial.rx.end(), buf, buf + n);
}

// Runs loop() until the host's bytes are consumed (and a few more times), then decodes every
// frame the device wrote since the last call.
std::vector<proto::Frame> run_and_collect() {
    for (int i = 0; i < 100 && !Serial.rx.empty(); ++i) {
        loop();
    }
    for (int i = 0; i < 5; ++i) {
        loop();
    }
    proto::Decoder decoder;
    std::vector<proto::Frame> frames;
    for (const std::uint8_t b : Serial.tx) {
        if (auto f = decoder.push(b)) {
            frames.push_back(*f);
        }
    }
    Serial.tx.clear();
    EXPECT_EQ(decoder.counters().crc_errors + decoder.counters().framing_errors, 0U);
    return frames;
}

TEST(TeensyGlue, OneBoot) {
    setup();
    EXPECT_TRUE(Serial.begun);
    EXPECT_EQ(fake::interrupt_masks, 0);

    // The boot counter in EEPROM went from erased (0xFFFFFFFF) to 0; the boot id mixes it
    // with the unique id. Consecutive counters give different ids.
    std::uint32_t counter = 1;
    EEPROM.get(0, counter);
    EXPECT_EQ(counter, 0U);
    const std::uint32_t boot_id = box::boot_id_of(0, HW_OCOTP_CFG0, HW_OCOTP_CFG1);
    EXPECT_NE(boot_id, box::boot_id_of(1, HW_OCOTP_CFG0, HW_OCOTP_CFG1));

    // Nothing from the host: nothing to the host.
    EXPECT_TRUE(run_and_collect().empty());
    EXPECT_GT(fake::frames_shown, 0U); // the first view was drawn

    // hello -> hello_reply with our boot id, the build's outputs and the queue size.
    send(proto::Hello{proto::version, 0xBEEF}, 0);
    auto frames = run_and_collect();
    ASSERT_EQ(frames.size(), 1U);
    ASSERT_EQ(frames[0].message.type, proto::Type::hello_reply);
    const proto::HelloReply& r = frames[0].message.hello_reply;
    EXPECT_EQ(r.nonce, 0xBEEFU);
    EXPECT_EQ(r.boot_id, boot_id);
    EXPECT_EQ(r.outputs, lockstep::fw::outputs);

    // ping -> pong stamped with box::now(): received <= sent, both after the hello.
    const DeviceTime before_ping = fake::clock_ns;
    send(proto::Ping{777}, 1);
    frames = run_and_collect();
    ASSERT_EQ(frames.size(), 1U);
    ASSERT_EQ(frames[0].message.type, proto::Type::pong);
    EXPECT_EQ(frames[0].message.pong.host_time, 777U);
    EXPECT_GT(frames[0].message.pong.received, before_ping);
    EXPECT_GE(frames[0].message.pong.sent, frames[0].message.pong.received);

    // A trigger 2 ms ahead on output 1: acked, and the edge handler was kicked, so the timer
    // is armed for it.
    const DeviceTime at = fake::clock_ns + 2'000'000;
    fake::timer = fake::Timer{};
    send(proto::Trigger{at, 1, 0}, 2);
    frames = run_and_collect();
    ASSERT_EQ(frames.size(), 1U);
    ASSERT_EQ(frames[0].message.type, proto::Type::ack);
    EXPECT_EQ(frames[0].message.ack.status, proto::AckStatus::ok);
    EXPECT_EQ(fake::interrupt_masks, 0);
    ASSERT_NE(fake::timer.handler, nullptr);
    EXPECT_GE(fake::timer.begins, 1U);
    EXPECT_EQ(fake::pin_levels[box::output_pins[0]], 0);

    // The timer fires at the trigger's time: output 1's pin rises; 15 ms later it falls.
    fake::clock_ns = at;
    fake::timer.handler();
    EXPECT_EQ(fake::pin_levels[box::output_pins[0]], 1);
    ASSERT_NE(fake::timer.handler, nullptr); // re-armed for the fall
    fake::clock_ns = at + 15'000'000;
    fake::timer.handler();
    EXPECT_EQ(fake::pin_levels[box::output_pins[0]], 0);
    EXPECT_EQ(box::scheduler().counters().fired, 1U);

    // stats: the trigger counted as fired, the four host frames received.
    send(proto::StatsRequest{}, 3);
    frames = run_and_collect();
    ASSERT_EQ(frames.size(), 1U);
    ASSERT_EQ(frames[0].message.type, proto::Type::stats);
    EXPECT_EQ(frames[0].message.stats.boot_id, boot_id);
    EXPECT_EQ(frames[0].message.stats.triggers_fired, 1U);
    EXPECT_EQ(frames[0].message.stats.rx_frames, 4U);

    // The host goes quiet for 2 s: the link is lost (its transport never played, so the box
    // stays stopped). Then the keyboard: space turns step 1 of track 1 on, Enter plays; the
    // standalone sequencer's first step reaches the scheduler through Device::poll() and the
    // timer raises output 1.
    fake::clock_ns += 2'000'000'000;
    loop();
    fake::keys.push_back(lockstep::fw::KeyEvent::of(lockstep::fw::Key::space));
    fake::keys.push_back(lockstep::fw::KeyEvent::of(lockstep::fw::Key::enter));
    fake::timer = fake::Timer{};
    const unsigned shown = fake::frames_shown;
    loop();
    EXPECT_TRUE(fake::keys.empty());
    EXPECT_GT(fake::frames_shown, shown); // the edit and play were drawn
    // Play starts 10 ms ahead; the step is scheduled once it is within the lookahead.
    for (int i = 0; i < 20 && fake::timer.handler == nullptr; ++i) {
        fake::clock_ns += 1'000'000;
        loop();
    }
    ASSERT_NE(fake::timer.handler, nullptr) << "no step scheduled, or no kick";
    // The timer may fire early (the handler re-arms); step the clock until the pin rises.
    for (int i = 0; i < 20'000 && fake::pin_levels[box::output_pins[0]] == 0; ++i) {
        fake::clock_ns += 1000;
        if (fake::timer.handler != nullptr) {
            fake::timer.handler();
        }
    }
    EXPECT_EQ(fake::pin_levels[box::output_pins[0]], 1);
    EXPECT_EQ(box::scheduler().counters().fired, 2U);
    EXPECT_EQ(box::scheduler().counters().late, 0U);
    EXPECT_EQ(fake::interrupt_masks, 0);
}

} // namespace
