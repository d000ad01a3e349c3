// Changing the buffer size while clients run (jack_set_buffer_size from a client) doesn't
// disturb the adapter: notes stay exact, the audio ramp stays frame-exact, nothing the
// timeline holds is dropped, and the changes are counted.
#include "jack_test_common.hpp"

namespace lockstep::test {
namespace {

std::uint32_t period_of(Probe& p) {
    CycleTiming t{};
    return p.client().timing(t) ? t.nframes : 0;
}

TEST(JackBufferSize, ChangingThePeriodWhileRunningKeepsEverythingExact) {
    on_undisturbed_server({.period = 256, .sync = true}, [](TestServer& server) -> std::string {
        server.use_in_this_process();
        const auto opts = linked_probe_options(server, "bs");
        Probe sender(opts.sender);
        Probe receiver(opts.receiver);
        EXPECT_TRUE(start_linked(sender, receiver));
        EXPECT_TRUE(receiver.wait_cycles(8, generous));
        if (::testing::Test::HasFailure()) {
            return "";
        }

        const Window window({&sender, &receiver});
        constexpr Frame every = 333;
        sender.generate_every(every);
        EXPECT_TRUE(wait_received(receiver, 1));
        const Frame first_note =
            receiver.received().empty() ? 0 : receiver.received().front().frame;
        for (std::uint32_t size : {128U, 1024U, 64U, 256U}) {
            if (!sender.client().set_buffer_size(size)) {
                ADD_FAILURE() << to_string(server.backend()) << " refuses jack_set_buffer_size("
                              << size << ")";
                return "";
            }
            EXPECT_TRUE(wait_until(
                [&] { return period_of(receiver) == size && period_of(sender) == size; }, generous))
                << "period stays " << period_of(receiver) << " instead of " << size;
            EXPECT_TRUE(receiver.wait_cycles(20, generous));
        }
        sender.generate_every(0);
        EXPECT_TRUE(sender.wait_cycles(4, generous));
        sender.drain();
        const bool all = wait_received(receiver, sender.sent().size(), 5s);
        if (auto why = window.disturbance(); !why.empty()) {
            return why;
        }
        EXPECT_TRUE(all) << explain(sender, receiver);

        // JACK moves its frame counter when the period changes (jackd2 back by the
        // difference: the adapter moves on to the next 2^32 epoch; PipeWire forward to a
        // multiple of the new period). Frames no cycle covered can carry no note; every other note
        // is there, at its exact frame.
        const auto& got = receiver.received();
        EXPECT_EQ(got.size(), sender.sent().size()) << explain(sender, receiver);
        const auto in_gap = [&](Frame f) {
            return std::any_of(sender.gaps().begin(), sender.gaps().end(),
                               [&](const ProbeGap& g) { return f >= g.from && f < g.to; });
        };
        std::size_t skipped = 0;
        for (std::size_t i = 0; i < got.size() && i < sender.sent().size(); ++i) {
            EXPECT_EQ(got[i].frame, sender.sent()[i].frame)
                << i << ": " << explain(sender, receiver);
            EXPECT_EQ(got[i].frame % every, 0) << i;
            if (i > 0) {
                for (Frame f = got[i - 1].frame + every; f < got[i].frame; f += every) {
                    EXPECT_TRUE(in_gap(f)) << "note at " << f << " lost";
                    ++skipped;
                }
            }
        }
        for (const auto& g : sender.gaps()) {
            EXPECT_GT(g.to, g.from); // never backwards
        }
        const auto rc = receiver.counters();
        EXPECT_LT(rc.audio_last_bad_frame, first_note)
            << "ramp broken at frame " << rc.audio_last_bad_frame;
        EXPECT_EQ(rc.audio_last_delay, 0);
        EXPECT_GE(receiver.client().stats().buffer_size_changes, 4U);
        EXPECT_GE(sender.client().stats().buffer_size_changes, 4U);
        EXPECT_EQ(receiver.client().stats().oversized_cycles, 0U);
        EXPECT_EQ(sender.counters().late, 0U);
        std::printf("jack_buffer_size[%s]: %zu notes exact across 4 period changes; %zu gaps in "
                    "JACK's frame counter, %zu notes fell in them; frame jumps seen by the "
                    "adapter: %llu\n",
                    to_string(server.backend()), got.size(), sender.gaps().size(), skipped,
                    static_cast<unsigned long long>(sender.client().stats().frame_jumps));
        return "";
    });
}

} // namespace
} // namespace lockstep::test
