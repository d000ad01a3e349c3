// Freewheel: an hour of music at 48 kHz runs through two probes in seconds, with every
// note still on its exact frame. (PipeWire freewheels linked clients only: these are.)
#include "jack_test_common.hpp"

#include <algorithm>
#include <chrono>

namespace lockstep::test {
namespace {

TEST(JackFreewheel, AnHourOfMusicInSecondsWithEveryNoteExact) {
    // A long period: fewer, cheaper-per-frame cycles.
    const ServerOptions opts{.rate = 48000, .period = 4096, .sync = true};
    on_undisturbed_server(
        opts,
        [](TestServer& server) -> std::string {
            server.use_in_this_process();
            const auto linked = linked_probe_options(server, "fw");
            Probe sender(linked.sender);
            Probe receiver(linked.receiver);
            EXPECT_TRUE(start_linked(sender, receiver));
            EXPECT_TRUE(sender.wait_cycles(4, generous));
            if (::testing::Test::HasFailure()) {
                return "";
            }

            // Freewheel first. PipeWire then moves the graph to its freewheel driver, whose frame
            // counter starts from its own origin (the adapter moves on to the next 2^32 epoch,
            // jack/cycle_frames.hpp). Around that switch PipeWire 0.3.65 now and then hands a
            // client the next cycle's position (one period ahead, then the right one again):
            // that client's frames then stay a period ahead of the others'. The ramp shows it,
            // and such a run is repeated.
            const auto t0 = std::chrono::steady_clock::now();
            EXPECT_TRUE(sender.set_freewheel(true));
            EXPECT_TRUE(wait_until(
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
            if (const Frame d = receiver.counters().audio_last_delay; d != 0) {
                sender.set_freewheel(false);
                return "the clients disagree by " + std::to_string(d) +
                       " frames after the switch to freewheel";
            }
            const Window window({&sender, &receiver});
            const auto bad_ramp_cycles = receiver.counters().audio_cycles_bad;

            // A note every 100 ms + 1 frame (coprime with the period): 36k notes an hour, each
            // at an exact multiple of `every`.
            constexpr Frame every = 4801;
            constexpr Frame hour = Frame{48000} * 3600;
            const std::size_t notes = static_cast<std::size_t>((hour + every - 1) / every) + 1;
            sender.generate_every(every);
            const bool done = wait_received(receiver, notes, std::chrono::minutes(5));
            sender.generate_every(0);
            const bool stopped = sender.wait_cycles(4, generous);
            sender.drain();
            const bool all = wait_received(receiver, sender.sent().size(), 5s);
            // All of it judged before leaving freewheel: that switch moves PipeWire's clients
            // again.
            const auto ramp = receiver.counters();
            const std::string why = window.disturbance();
            const bool left = sender.set_freewheel(false);
            const auto secs =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (!why.empty()) {
                return why;
            }
            // PipeWire 0.3.65 (no RT, no session manager) can also hand a client the next
            // cycle's position in the middle of a freewheel run: the ramp then shows the two
            // clients a period apart for the rest of it. That is the server's doing, so the run
            // is repeated there; on jackd2 the same disagreement fails the test below.
            if (server.backend() == Backend::pipewire &&
                (ramp.audio_last_delay != 0 || ramp.audio_cycles_bad != bad_ramp_cycles)) {
                return "the clients disagreed by " + std::to_string(ramp.audio_last_delay) +
                       " frames during the run";
            }
            EXPECT_TRUE(done) << explain(sender, receiver);
            EXPECT_TRUE(stopped);
            EXPECT_TRUE(all) << explain(sender, receiver);
            EXPECT_TRUE(left);

            const auto& got = receiver.received();
            const auto& sent = sender.sent();
            EXPECT_EQ(got.size(), sent.size()) << explain(sender, receiver);
            EXPECT_GE(got.size(), notes);
            if (::testing::Test::HasFailure() || got.empty()) {
                return "";
            }
            const auto in_gap = [&](Frame f) {
                return std::any_of(sender.gaps().begin(), sender.gaps().end(),
                                   [&](const ProbeGap& g) { return f >= g.from && f < g.to; });
            };
            std::size_t wrong = 0;
            std::size_t lost = 0;
            for (std::size_t i = 0; i < got.size() && i < sent.size(); ++i) {
                wrong += got[i].frame != sent[i].frame || got[i].data != sent[i].data ||
                         got[i].frame % every != 0;
                if (i > 0) {
                    for (Frame f = got[i - 1].frame + every; f < got[i].frame; f += every) {
                        lost += in_gap(f) ? 0 : 1;
                    }
                }
            }
            EXPECT_EQ(wrong, 0U) << explain(sender, receiver);
            EXPECT_EQ(lost, 0U);
            EXPECT_GE(got.back().frame - got.front().frame, hour);
            EXPECT_EQ(sender.counters().late, 0U);
            EXPECT_EQ(receiver.counters().record_overflow, 0U);
            EXPECT_EQ(ramp.audio_cycles_bad, bad_ramp_cycles); // the ramp agrees throughout
            EXPECT_EQ(ramp.audio_last_delay, 0);
            std::printf("jack_freewheel[%s]: 1 h of music (%zu notes over %lld frames) in %.1f s, "
                        "all exact\n",
                        to_string(server.backend()), got.size(),
                        static_cast<long long>(got.back().frame - got.front().frame), secs);
            return "";
        },
        /*attempts=*/6); // PipeWire's switch to freewheel disturbs a third of them or so
}

} // namespace
} // namespace lockstep::test
