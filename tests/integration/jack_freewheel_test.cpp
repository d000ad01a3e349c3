// Freewheel: an hour of music at 48 kHz runs through two probes in seconds, with every
// note still on its exact frame. (PipeWire freewheels linked clients only: these are.)
#include "jack_test_common.hpp"

#include <algorithm>
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

    // Freewheel first: PipeWire then moves the graph to its freewheel driver, whose frame
    // counter is elsewhere, so notes are placed on the timeline that freewheel runs on.
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(sender.set_freewheel(true));
    ASSERT_TRUE(wait_until(
        [&] {
            return sender.counters().freewheel_cycles >= 4 &&
                   receiver.counters().freewheel_cycles >= 4;
        },
        generous));
    sender.drain();
    for (const auto& g : sender.gaps()) {
        std::printf("jack_freewheel[%s]: frame counter jumped from %lld to %lld\n",
                    to_string(server.backend()), static_cast<long long>(g.from),
                    static_cast<long long>(g.to));
    }
    const Window window({&sender, &receiver});

    // A note every 100 ms + 1 frame (coprime with the period): 36k notes an hour, each at an
    // exact multiple of `every`.
    constexpr Frame every = 4801;
    constexpr Frame hour = Frame{48000} * 3600;
    const std::size_t notes = static_cast<std::size_t>(hour / every) + 1;
    sender.generate_every(every);
    const bool done = wait_received(receiver, notes, std::chrono::minutes(5));
    sender.generate_every(0);
    EXPECT_TRUE(sender.wait_cycles(4, generous));
    EXPECT_TRUE(sender.set_freewheel(false));
    const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(done) << explain(sender, receiver);
    sender.drain();
    ASSERT_TRUE(wait_received(receiver, sender.sent().size(), 5s)) << explain(sender, receiver);
    ASSERT_EQ(window.disturbance(), "");

    const auto& got = receiver.received();
    const auto& sent = sender.sent();
    ASSERT_EQ(got.size(), sent.size()) << explain(sender, receiver);
    ASSERT_GE(got.size(), notes);
    const auto in_gap = [&](Frame f) {
        return std::any_of(sender.gaps().begin(), sender.gaps().end(),
                           [&](const ProbeGap& g) { return f >= g.from && f < g.to; });
    };
    for (std::size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i].frame, sent[i].frame) << "note " << i;
        ASSERT_EQ(got[i].data, sent[i].data) << "note " << i;
        ASSERT_EQ(got[i].frame % every, 0) << "note " << i;
        if (i > 0) {
            for (Frame f = got[i - 1].frame + every; f < got[i].frame; f += every) {
                ASSERT_TRUE(in_gap(f)) << "note at " << f << " lost";
            }
        }
    }
    ASSERT_GE(got.back().frame - got.front().frame, hour);
    EXPECT_GT(receiver.counters().freewheel_cycles, 0U); // the freewheel callback reached the Cycle
    EXPECT_EQ(sender.counters().late, 0U);
    EXPECT_EQ(receiver.counters().record_overflow, 0U);
    std::printf("jack_freewheel[%s]: 1 h of music (%zu notes over %lld frames) in %.1f s, all "
                "exact\n",
                to_string(server.backend()), got.size(),
                static_cast<long long>(got.back().frame - got.front().frame), secs);
}

} // namespace
} // namespace lockstep::test
