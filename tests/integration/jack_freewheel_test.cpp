// Freewheel: an hour of music at 48 kHz runs through two probes in seconds, with every
// note still on its exact frame. (PipeWire freewheels linked clients only: these are.)
#include "jack_test_common.hpp"

#include <chrono>

namespace lockstep::test {
namespace {

TEST(JackFreewheel, AnHourOfMusicInSecondsWithEveryNoteExact) {
    // A long period: fewer, cheaper-per-frame cycles.
    TestServer server({.rate = 48000, .period = 4096, .sync = true});
    if (!server.supports_freewheel()) {
        GTEST_SKIP() << "freewheel does not run on " << to_string(server.backend());
    }
    server.use_in_this_process();
    auto so = probe_options(server, "fw-sender");
    so.midi_in = false;
    so.connections = {{"out", "fw-receiver:in"}};
    auto ro = probe_options(server, "fw-receiver");
    ro.midi_out = false;
    Probe sender(so);
    Probe receiver(ro);
    ASSERT_TRUE(start_and_run(receiver));
    ASSERT_TRUE(start_and_run(sender));
    ASSERT_TRUE(
        wait_until([&] { return sender.client().connected("out", "fw-receiver:in"); }, generous));
    ASSERT_TRUE(sender.wait_cycles(4, generous));

    // A note every 100 ms + 1 frame (coprime with the period): 36k notes an hour.
    constexpr Frame every = 4801;
    constexpr Frame hour = Frame{48000} * 3600;
    Frame start = 0;
    ASSERT_TRUE(sender.now(start));
    const Frame first = start + 48000; // clear of the cycles already under way
    for (Frame f = first; f < first + hour; f += every) {
        ASSERT_TRUE(sender.schedule(f, {0x90, static_cast<std::uint8_t>((f / every) & 0x7F), 100}));
    }
    const std::size_t notes = static_cast<std::size_t>((hour + every - 1) / every);

    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(sender.client().set_freewheel(true));
    const bool done = wait_received(receiver, notes, std::chrono::minutes(5));
    ASSERT_TRUE(sender.client().set_freewheel(false));
    const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(done) << "received " << receiver.received().size() << " of " << notes;
    sender.drain();

    const auto& got = receiver.received();
    ASSERT_EQ(got.size(), notes);
    ASSERT_EQ(sender.sent().size(), notes);
    for (std::size_t i = 0; i < notes; ++i) {
        const Frame want = first + static_cast<Frame>(i) * every;
        ASSERT_EQ(got[i].frame, want) << "note " << i;
        ASSERT_EQ(sender.sent()[i].frame, want) << "note " << i;
        ASSERT_EQ(got[i].data, sender.sent()[i].data) << "note " << i;
    }
    EXPECT_GT(receiver.counters().freewheel_cycles, 0U); // the freewheel callback reached the Cycle
    EXPECT_EQ(sender.counters().late, 0U);
    EXPECT_EQ(receiver.counters().record_overflow, 0U);
    std::printf("jack_freewheel[%s]: 1 h of music (%zu notes, %lld frames) in %.1f s, all exact\n",
                to_string(server.backend()), notes, static_cast<long long>(hour), secs);
}

} // namespace
} // namespace lockstep::test
