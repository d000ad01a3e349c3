// The bridge's serial link against a fake box on a pseudo-terminal (fake_device.hpp):
// handshake, clock lock with a 500 ppm fast device clock, trigger times in the device's
// clock, garbage on the line, device reboot (new boot id), unplug and replug.
#include "fake_device.hpp"
#include "harness/process.hpp"
#include "link.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <random>

namespace {

using namespace lockstep;
using namespace lockstep::bridge;
using namespace std::chrono_literals;
using lockstep::test::FakeDevice;
using lockstep::test::raw_now_ns;
using lockstep::test::TempDir;
using lockstep::test::wait_until;
namespace proto = lockstep::fw::proto;

constexpr std::int64_t skew_ppm = 500;

struct LinkFixture : ::testing::Test {
    TempDir dir{"bridge-link"};
    std::string path = dir.path() + "/ttyLockstep";
    FakeDevice device{path, skew_ppm};
    SpscQueue<ToSerial> queue{256};
    std::unique_ptr<Link> link;

    void SetUp() override {
        LinkOptions o;
        o.device = path;
        link = std::make_unique<Link>(o, queue);
        link->start();
    }
    void TearDown() override { link->stop(); }

    bool locked_with(std::uint64_t min_pongs) const {
        const LinkStatus s = link->status();
        return s.state == LinkState::locked && s.pongs >= min_pongs;
    }

    // Sends a trigger for host time now + 10 ms mapped with the published line and checks
    // that the fake device received it at its own clock's reading of that host time.
    void expect_trigger_on_time(std::uint16_t mask) {
        SyncedLine l;
        ASSERT_TRUE(link->line(l));
        ASSERT_TRUE(l.line.valid);
        const std::int64_t h = raw_now_ns() + 10'000'000;
        ToSerial m;
        m.kind = ToSerialKind::trigger;
        m.epoch = l.epoch;
        m.device_ns = l.line.to_device(h);
        m.mask = mask;
        const std::size_t before = device.received(proto::Type::trigger).size();
        ASSERT_TRUE(queue.try_push(m));
        ASSERT_TRUE(wait_until(
            [&] { return device.received(proto::Type::trigger).size() > before; }, 5000ms));
        const auto got = device.received(proto::Type::trigger).back();
        EXPECT_EQ(got.message.trigger.mask, mask);
        EXPECT_EQ(got.message.trigger.width_us, 15'000U);
        const auto truth = static_cast<std::int64_t>(device.device_at(h));
        const auto at = static_cast<std::int64_t>(got.message.trigger.at);
        EXPECT_LT(std::llabs(at - truth), 200'000) << "trigger off by " << at - truth << " ns";
        EXPECT_LT(got.host_ns, h) << "the trigger reached the device after its time";
    }
};

TEST_F(LinkFixture, LocksOntoA500ppmClockAndSendsTriggersInDeviceTime) {
    ASSERT_TRUE(wait_until([&] { return locked_with(40); }, 10000ms))
        << to_string(link->status().state);
    const LinkStatus s = link->status();
    EXPECT_EQ(s.boot_id, device.boot_id());
    EXPECT_EQ(s.device, path);
    EXPECT_NEAR(s.drift_ppm, 500.0, 25.0);
    EXPECT_GT(s.rtt_min_ns, 0);
    EXPECT_LE(s.rtt_min_ns, s.rtt_median_ns);
    EXPECT_LE(s.rtt_median_ns, s.rtt_max_ns);
    EXPECT_EQ(s.reconnects, 0U);
    // The session began with the state: a transport message.
    EXPECT_FALSE(device.received(proto::Type::transport).empty());
    for (std::uint16_t mask : {1, 2, 4, 8}) {
        expect_trigger_on_time(mask);
    }
    EXPECT_EQ(link->status().triggers_sent, 4U);
    EXPECT_EQ(link->status().dropped, 0U);
}

TEST_F(LinkFixture, StaleEpochTriggersAreDroppedNotFired) {
    ASSERT_TRUE(wait_until([&] { return locked_with(10); }, 10000ms));
    SyncedLine l;
    ASSERT_TRUE(link->line(l));
    ToSerial m;
    m.kind = ToSerialKind::trigger;
    m.epoch = l.epoch - 1; // mapped with a line of another session
    m.device_ns = 1;
    m.mask = 1;
    ASSERT_TRUE(queue.try_push(m));
    ASSERT_TRUE(wait_until([&] { return link->status().dropped == 1; }, 5000ms));
    EXPECT_TRUE(device.received(proto::Type::trigger).empty());
}

TEST_F(LinkFixture, GarbageOnTheLineIsCountedAndTheLinkStaysLocked) {
    ASSERT_TRUE(wait_until([&] { return locked_with(10); }, 10000ms));
    std::mt19937 rng(7);
    std::vector<std::uint8_t> junk(3000);
    for (auto& b : junk) {
        b = static_cast<std::uint8_t>(rng());
    }
    junk.push_back(0);
    device.garbage(junk);
    ASSERT_TRUE(wait_until([&] { return link->status().garbage_bytes > 0; }, 5000ms));
    const std::uint64_t pongs = link->status().pongs;
    ASSERT_TRUE(wait_until([&] { return locked_with(pongs + 20); }, 10000ms));
    EXPECT_EQ(link->status().reconnects, 0U);
    expect_trigger_on_time(1);
}

TEST_F(LinkFixture, ANewBootIdResyncsAndResendsTheState) {
    ASSERT_TRUE(wait_until([&] { return locked_with(10); }, 10000ms));
    // A step, so that there is state to re-send.
    ToSerial step;
    step.kind = ToSerialKind::step;
    step.pattern = 3;
    step.step = 5;
    step.tracks = 0x9;
    step.host_ns = raw_now_ns();
    ASSERT_TRUE(queue.try_push(step));
    ASSERT_TRUE(wait_until([&] { return !device.received(proto::Type::step).empty(); }, 5000ms));
    const std::size_t transports = device.received(proto::Type::transport).size();
    const std::size_t steps = device.received(proto::Type::step).size();

    device.reboot(0xCAFE'F00D);
    ASSERT_TRUE(wait_until([&] { return link->status().reboots == 1; }, 5000ms));
    ASSERT_TRUE(wait_until(
        [&] {
            const LinkStatus s = link->status();
            return s.boot_id == 0xCAFE'F00D && s.state == LinkState::locked;
        },
        10000ms));
    EXPECT_GT(device.received(proto::Type::transport).size(), transports);
    const auto all_steps = device.received(proto::Type::step);
    ASSERT_GT(all_steps.size(), steps);
    EXPECT_EQ(all_steps.back().message.step.pattern, 3);
    EXPECT_EQ(all_steps.back().message.step.step, 5);
    EXPECT_EQ(all_steps.back().message.step.tracks, 0x9);
    const std::uint64_t pongs = link->status().pongs;
    ASSERT_TRUE(wait_until([&] { return locked_with(pongs + 20); }, 10000ms));
    expect_trigger_on_time(2);
}

TEST_F(LinkFixture, UnplugAndReplugReconnectsWithinOneSecond) {
    ASSERT_TRUE(wait_until([&] { return locked_with(10); }, 10000ms));
    device.unplug();
    ASSERT_TRUE(wait_until([&] { return link->status().state == LinkState::searching; }, 5000ms));
    const std::uint64_t handshakes = link->status().handshakes;
    const auto t0 = std::chrono::steady_clock::now();
    device.plug();
    ASSERT_TRUE(wait_until([&] { return link->status().handshakes > handshakes; }, 5000ms));
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(took, 1s) << "reconnect took "
                        << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                        << " ms";
    EXPECT_EQ(link->status().reconnects, 1U);
    const std::uint64_t pongs = link->status().pongs;
    ASSERT_TRUE(wait_until([&] { return locked_with(pongs + 20); }, 10000ms));
    expect_trigger_on_time(4);
}

} // namespace
