// lockstep-seq through JACK, against the exact reference of docs/seq.md (tests/seqref):
// ONE SIMULATED HOUR in freewheel at 137.3 BPM with a tempo change every 8 bars (cycling
// through 141.7, 129.9, 150 and 137.3, sent as /seq/tempo/at before play), swing,
// microtiming, ratchets, probability, layers, a 16-step and a 12-step (triplet) pattern in
// a looping song chain, all set up over OSC. The probe records every MIDI event of seq:out
// with its frame; the reference reproduces every frame and the exact event count. At
// periods 64, 256 and 1024, on jackd2 and (setup `pipewire`) PipeWire; and 60 s in real
// time on a synchronous jackd.
#include "seq_test_common.hpp"

#include <algorithm>
#include <chrono>

namespace lockstep::test {
namespace {

constexpr std::uint32_t rate = 48000;

// Sets up the song over OSC (and in the mirror). Step 0 of the first slot's pattern plays
// track 0 at velocity 120, so the first event is the note-on at the play frame: position
// 0's frame, the origin of the tempo map.
void set_up_song(SeqSetup& s, int tempo_changes) {
    s.tracks(4);
    s.gate(0, 80);
    s.gate(2, 20);
    s.note(3, 1, 70);
    // Pattern 0: 16 steps over 4 beats, swing 0.3.
    s.swing(0, 300);
    for (int k : {0, 4, 8, 12}) {
        s.step(0, 0, k, 120);
    }
    s.step(0, 0, 14, 90);
    s.ratchet(0, 0, 14, 2);
    s.step(0, 1, 4, 110);
    s.step(0, 1, 12, 110);
    s.micro(0, 1, 12, -6);
    s.step(0, 1, 15, 60);
    s.micro(0, 1, 15, 30); // late: into the next instance
    for (int k = 1; k < 16; k += 2) {
        s.step(0, 2, k, 70 + k);
    }
    s.ratchet(0, 2, 7, 3);
    s.ratchet(0, 2, 15, 2);
    s.micro(0, 2, 3, 10);
    s.step(0, 3, 6, 90);
    s.ratchet(0, 3, 6, 4);
    s.layers(0, 3, 6, 0b11);
    s.step(0, 3, 10);
    s.probability(0, 3, 10, 60);
    // Pattern 1: 12 steps over 4 beats (eighth-note triplets), swing 0.5.
    s.length(1, 12);
    s.swing(1, 500);
    s.step(1, 0, 0, 120);
    s.step(1, 0, 6, 100);
    s.step(1, 1, 3);
    s.step(1, 1, 9);
    s.ratchet(1, 1, 9, 2);
    for (int k = 0; k < 12; ++k) {
        s.step(1, 2, k, 50 + 5 * k);
    }
    s.ratchet(1, 2, 11, 3);
    s.probability(1, 2, 5, 40);
    s.step(1, 3, 5);
    s.micro(1, 3, 5, 20);
    s.ratchet(1, 3, 5, 3);
    s.channel(3, 2);
    // The chain: pattern 0 twice, pattern 1 once, looped.
    s.chain(0, 0, 2);
    s.chain(1, 1, 1);
    s.song(true, true);
    // A change every 8 bars (32 beats).
    const std::int64_t tempos[] = {141700, 129900, 150000, 137300};
    for (int i = 1; i <= tempo_changes; ++i) {
        s.tempo_at(32 * i, 1, tempos[(i - 1) % 4]);
    }
}

struct ExactRun {
    std::uint32_t period = 256;
    bool freewheel = true;
    bool sync = true;
    Frame music = Frame{rate} * 3600; // frames of music compared
    std::chrono::milliseconds timeout = std::chrono::minutes(5);
};

// One attempt on `server`: "" after its assertions, or why the server disturbed it.
std::string play_and_compare(TestServer& server, const ExactRun& run) {
    server.use_in_this_process();
    const std::string tag = "sx" + std::to_string(run.period);
    ProbeOptions po = probe_options(server, tag + "-rec");
    po.midi_out = false;
    po.capacity = 1 << 18;
    Probe rec(po);
    EXPECT_TRUE(start_and_run(rec));
    SeqProcess seq(server, tag + "-seq",
                   {"--seed", "7", "--tempo", "137.3", "--connect", "out=" + rec.port("in")});
    EXPECT_TRUE(seq.ready());
    if (::testing::Test::HasFailure()) {
        return "";
    }
    SeqSetup setup(seq);
    // Enough changes for the whole run at the slowest tempo (129.9 BPM), and some more.
    const auto beats = run.music * 150 / 60 / rate;
    set_up_song(setup, static_cast<int>(beats / 32) + 4);
    EXPECT_EQ(seq.errors(), "");
    EXPECT_TRUE(
        wait_until([&] { return rec.client().connected("in", seq.port("out")); }, generous));
    if (::testing::Test::HasFailure()) {
        return "";
    }

    // Freewheel first (one client toggles it), and let it settle.
    const auto t0 = std::chrono::steady_clock::now();
    if (run.freewheel) {
        EXPECT_TRUE(rec.set_freewheel(true));
        EXPECT_TRUE(wait_until([&] { return rec.counters().freewheel_cycles >= 8; }, generous));
    }
    const Window window({&rec});
    seq.send(Message("/seq/play"));

    // The first event is track 0's note-on at the play frame.
    EXPECT_TRUE(wait_received(rec, 1, generous)) << seq.proc().output();
    if (::testing::Test::HasFailure()) {
        rec.set_freewheel(false);
        return "";
    }
    const ProbeEvent first = rec.received().front();
    const Frame origin = first.frame;
    const Frame until = origin + run.music;
    const bool done = wait_until(
        [&] {
            rec.drain();
            Frame now = 0;
            return rec.now(now) && now > until + 4 * Frame{run.period};
        },
        run.timeout);
    rec.drain();
    std::string why = window.disturbance(/*shared_gaps_ok=*/false);
    if (run.freewheel) {
        EXPECT_TRUE(rec.set_freewheel(false));
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_TRUE(done) << "the music did not reach " << until;
    EXPECT_EQ(rec.counters().record_overflow, 0U);

    seqref::Performance& perf = setup.performance();
    perf.seed = 7;
    perf.rate = rate;
    perf.bpm = seqref::cpp_rational(1373, 10);
    perf.origin = origin;
    perf.until = until;
    perf.clock = false;
    seqref::Output want = seqref::play(perf);
    auto got = as_events(rec.received(), until);
    // PipeWire 0.3.65 (no RT, a loaded machine) skips cycles of clients now and then, also
    // in freewheel: nothing is emitted or recorded there. On PipeWire the frames of such a
    // gap, and the cycle after it (where late events could go), are left out of the
    // comparison on both sides; everything else must match exactly. jackd2 runs every
    // cycle: a gap there repeats the run.
    std::size_t excluded = 0;
    if (server.backend() == Backend::pipewire && !why.empty()) {
        const auto gaps = rec.gaps();
        const auto in_gap = [&](const seqref::Event& e) {
            for (const auto& g : gaps) {
                if (e.frame >= g.from && e.frame < g.to + Frame{run.period}) {
                    return true;
                }
            }
            return false;
        };
        const auto before = want.out.size();
        std::erase_if(want.out, in_gap);
        excluded = before - want.out.size();
        std::erase_if(got, in_gap);
        if (excluded < want.out.size() / 100) {
            why.clear(); // a few gaps: judged on the rest
        }
    }
    std::size_t diffs = 0;
    const auto same = same_events(got, want.out, &diffs);
    if (why.empty() && diffs != 0) {
        std::fprintf(stderr, "seq_exact: %s\n", same.message()); // what the retry is about
    }
    if (!why.empty() || (server.backend() == Backend::pipewire && diffs != 0)) {
        // PipeWire 0.3.65 may hand a client the next cycle's position in the middle of a
        // run (see jack_freewheel_test): the server's doing, so the run is repeated there.
        return why.empty() ? "clients disagreed on frames mid-run (" + std::to_string(diffs) +
                                 " differences)"
                           : why;
    }
    EXPECT_EQ(first.bytes().size(), 3U);
    EXPECT_EQ(first.data[0], 0x99);
    EXPECT_EQ(first.data[1], 36);
    EXPECT_EQ(first.data[2], 120);
    EXPECT_TRUE(same);
    EXPECT_EQ(got.size(), want.out.size());
    EXPECT_GT(want.out.size(), 300U);
    std::printf("seq_exact[%s, period %u%s]: %zu events over %.1f s of music (%zu instances, "
                "%zu tempo changes) compared with the reference: %zu differences (%zu left out "
                "in skipped cycles); %.1f s\n",
                to_string(server.backend()), run.period,
                run.freewheel ? ", freewheel" : ", real time", got.size(),
                static_cast<double>(run.music) / rate, want.instances, perf.changes.size(), diffs,
                excluded, secs);
    return "";
}

class SeqExactHour : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(SeqExactHour, EveryNoteOfAnHourOnItsExactFrame) {
    ExactRun run;
    run.period = GetParam();
    int attempts = 4;
    if (backend_from_env() == Backend::pipewire && run.period < 1024) {
        // PipeWire 0.3.65 without RT on a loaded 2-core machine skips client cycles and now
        // and then hands one client the next cycle's position, in freewheel too: seen here
        // as the seq's events all one period early from some point on (the recorder's frames
        // shifted) or missing (the seq's cycle skipped). The chance grows with the number of
        // cycles, and no hour at period 64 or 256 (56k-225k cycles) came through undisturbed.
        // So on PipeWire these periods play about 10k cycles (as the hour at period 1024
        // does); jackd2 plays the whole hour at every period.
        run.music = Frame{10000} * run.period;
    }
#if defined(LOCKSTEP_RTSAN)
    // The RTSan build is for RealtimeSanitizer's reports: 10k cycles at every period (the
    // instrumented hour at period 64 took 7.5 minutes); the plain build plays the hour.
    run.music = std::min(run.music, Frame{10000} * run.period);
    if (backend_from_env() == Backend::pipewire && run.period == 64) {
        // Under RTSan on PipeWire the instrumented recorder misses every other cycle of
        // 1.3 ms, attempt after attempt: one attempt, whose exactness is printed when
        // disturbed (on_undisturbed_server); that pass is for RealtimeSanitizer's reports.
        attempts = 1;
    }
#endif
    on_undisturbed_server(
        {.rate = rate, .period = run.period, .sync = true},
        [&](TestServer& server) { return play_and_compare(server, run); }, attempts);
}

INSTANTIATE_TEST_SUITE_P(Periods, SeqExactHour, ::testing::Values(64U, 256U, 1024U),
                         [](const auto& i) { return "period" + std::to_string(i.param); });

TEST(SeqExactRealTime, SixtySecondsOnASynchronousJackd) {
    if (backend_from_env() != Backend::jackd) {
        GTEST_SKIP() << "real-time run on jackd -S only (PipeWire has no synchronous mode)";
    }
    ExactRun run;
    run.period = 256;
    run.freewheel = false;
    run.music = Frame{rate} * 60;
    run.timeout = std::chrono::minutes(3);
    TestServer server({.rate = rate, .period = run.period, .sync = true});
    EXPECT_EQ(play_and_compare(server, run), "");
}

} // namespace
} // namespace lockstep::test
