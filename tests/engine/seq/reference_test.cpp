// The engine against the independent exact reference of docs/seq.md (tests/seqref): random
// models (swing, microtiming, ratchets, probability, layers, mute/solo, gate; 12-, 16- and
// 5-step patterns in a song chain), tempo changes at exact positions, runs that cross
// JACK's 32-bit frame wrap, at several cycle sizes. Every event on out, clock and sync must
// be the reference's, on the same frame, with the same count.
#include "engine.hpp"
#include "jack/offline.hpp"
#include "seqref/reference.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace lockstep::seq {
namespace {

using seqref::cpp_rational;

struct Scenario {
    Model model = default_model();
    std::uint64_t seed = 0;
    Bpm bpm = Bpm(120);
    std::vector<std::pair<Position, Bpm>> changes;
};

Scenario random_scenario(std::uint64_t seed, bool song) {
    std::mt19937_64 rng(seed);
    auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    Scenario s;
    s.seed = rng();
    Model& m = s.model;
    m.tracks = static_cast<std::uint8_t>(uni(3, 8));
    // Notes distinct across tracks and layers, so only a track's own hits meet on a note.
    for (int t = 0; t < m.tracks; ++t) {
        Track& tr = m.track[static_cast<std::size_t>(t)];
        tr.channel = static_cast<std::uint8_t>(uni(0, 2) == 0 ? t % 16 : 9);
        tr.gate = static_cast<std::uint8_t>(uni(1, 96));
        tr.mute = uni(0, 9) == 0;
        tr.solo = uni(0, 14) == 0;
        for (int l = 0; l < max_layers; ++l) {
            tr.notes[static_cast<std::size_t>(l)] =
                static_cast<std::int8_t>(l == 0 || uni(0, 1) == 0 ? 30 + t * 4 + l : -1);
        }
    }
    // Patterns 0 (16 steps over 4 beats), 1 (12 over 4: triplets), 2 (5 over 5/4).
    const int steps[3] = {16, 12, 5};
    const int beats_num[3] = {4, 4, 5};
    const int beats_den[3] = {1, 1, 4};
    for (int p = 0; p < 3; ++p) {
        Pattern& pat = m.pattern[static_cast<std::size_t>(p)];
        pat.steps = static_cast<std::uint8_t>(steps[p]);
        pat.beats_num = beats_num[p];
        pat.beats_den = beats_den[p];
        pat.swing = static_cast<std::int16_t>(uni(0, 2) == 0 ? 0 : uni(0, 1000));
        for (int t = 0; t < m.tracks; ++t) {
            for (int k = 0; k < steps[p]; ++k) {
                Step& st = pat.grid[static_cast<std::size_t>(t)][static_cast<std::size_t>(k)];
                st.on = uni(0, 9) < 4;
                st.velocity = static_cast<std::uint8_t>(uni(1, 127));
                st.probability = static_cast<std::uint8_t>(uni(0, 3) == 0 ? uni(0, 100) : 100);
                st.ratchet = static_cast<std::uint8_t>(uni(0, 3) == 0 ? uni(1, max_ratchet) : 1);
                st.micro =
                    static_cast<std::int8_t>(uni(0, 2) == 0 ? uni(-max_micro, max_micro) : 0);
                st.layers = static_cast<std::uint8_t>(uni(0, 15));
            }
        }
    }
    if (song) {
        m.song.enabled = true;
        m.song.loop = true;
        m.song.length = 4;
        m.song.chain[0] = {0, 2};
        m.song.chain[1] = {1, 1};
        m.song.chain[2] = {2, 3};
        m.song.chain[3] = {1, 2};
    } else {
        m.selected = static_cast<std::uint8_t>(uni(0, 1));
    }
    s.bpm = Bpm(1373, 10);
    // A change every 8 beats, among a few tempos, plus some at odd exact positions.
    const Bpm tempos[] = {Bpm(1417, 10), Bpm(1299, 10), Bpm(150), Bpm(1373, 10)};
    for (int i = 1; i <= 6; ++i) {
        s.changes.emplace_back(Position(8 * i), tempos[(i - 1) % 4]);
    }
    s.changes.emplace_back(Position(1, 3) + Position(50), Bpm(1000, 7));
    s.changes.emplace_back(Position(7, 960) + Position(55), Bpm(97));
    EXPECT_EQ(check(m), nullptr);
    return s;
}

seqref::Performance reference_of(const Scenario& s, std::uint32_t rate, Frame origin, Frame until) {
    seqref::Performance p;
    p.model = s.model;
    p.seed = s.seed;
    p.rate = rate;
    p.bpm = seqref::to_q(s.bpm);
    for (const auto& [at, bpm] : s.changes) {
        p.changes.push_back({seqref::to_q(at), seqref::to_q(bpm)});
    }
    p.origin = origin;
    p.until = until;
    return p;
}

struct EngineRun {
    std::vector<jack::TimedMidi> out, clock, sync;
    std::uint64_t refused = 0;
    EngineCounters counters;
};

// Plays `s` on the engine offline: cycles of `nframes` (0: random lengths 1..2048) from
// `first` to `until`; play applies at frame `origin` (exactly, like a timetagged /seq/play);
// an optional stop at `stop`. Tempo changes are sent before play, in reverse order.
EngineRun run_engine(const Scenario& s, std::uint32_t rate, Frame first, Frame origin, Frame until,
                     std::uint32_t nframes, std::optional<Frame> stop = {}) {
    Published<Model> model(std::make_unique<const Model>(s.model));
    EngineOptions o;
    o.tempo = s.bpm;
    o.seed = s.seed;
    Engine engine(o, model);
    jack::OfflineDriver driver({.midi_in = 0, .midi_out = 3, .audio_in = 0, .audio_out = 0}, rate,
                               4096, 65536);
    for (auto it = s.changes.rbegin(); it != s.changes.rend(); ++it) {
        ToEngine m;
        m.kind = ToEngineKind::tempo;
        m.has_position = true;
        m.position = it->first;
        m.bpm = it->second;
        EXPECT_TRUE(engine.send(m));
    }
    ToEngine play;
    play.kind = ToEngineKind::play;
    play.frame = origin;
    EXPECT_TRUE(engine.send(play));
    if (stop) {
        ToEngine m;
        m.kind = ToEngineKind::stop;
        m.frame = *stop;
        EXPECT_TRUE(engine.send(m));
    }
    std::mt19937 rng(static_cast<unsigned>(first));
    Frame f = first;
    while (f < until) {
        const std::uint32_t n =
            nframes != 0 ? nframes : std::uniform_int_distribution<std::uint32_t>(1, 2048)(rng);
        driver.run_cycle(engine, f, n);
        f += n;
        FromEngine fb;
        while (engine.receive(fb)) {
        }
    }
    EngineRun r;
    // Only what lies before `until` (the last cycle may run past it).
    for (std::size_t port = 0; port < 3; ++port) {
        auto& dst = port == port_out ? r.out : port == port_clock ? r.clock : r.sync;
        for (const auto& e : driver.midi_out(port)) {
            if (e.frame < until) {
                dst.push_back(e);
            }
        }
    }
    r.refused = driver.midi_late() + driver.midi_overflow() + driver.midi_invalid();
    r.counters = engine.counters();
    return r;
}

// Zero differences and the same count; the first few differences for the failure message.
::testing::AssertionResult same(const char* what, const std::vector<jack::TimedMidi>& got,
                                const std::vector<seqref::Event>& want) {
    std::size_t diffs = 0;
    std::string first;
    const std::size_t n = std::max(got.size(), want.size());
    for (std::size_t i = 0; i < n; ++i) {
        const bool equal = i < got.size() && i < want.size() && got[i].frame == want[i].frame &&
                           got[i].bytes == want[i].bytes;
        if (!equal) {
            if (++diffs <= 5) {
                first += "\n  #" + std::to_string(i) + " engine: " +
                         (i < got.size() ? seqref::to_string({got[i].frame, got[i].bytes})
                                         : std::string("-")) +
                         " reference: " +
                         (i < want.size() ? seqref::to_string(want[i]) : std::string("-"));
            }
        }
    }
    if (diffs == 0) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << what << ": " << diffs << " differences, engine " << got.size()
           << " events, reference " << want.size() << first;
}

constexpr std::uint32_t rate = 48000;
constexpr Frame wrap = Frame{1} << 32;

struct Case {
    std::uint64_t seed;
    bool song;
    std::uint32_t nframes;
};

class SeqEngineVsReference : public ::testing::TestWithParam<Case> {};

TEST_P(SeqEngineVsReference, EveryEventOnItsFrame) {
    const Case c = GetParam();
    const Scenario s = random_scenario(c.seed, c.song);
    // Play lands mid-cycle, 10 s before JACK's 32-bit counter wraps; 70 beats or so.
    const Frame first = wrap - 480000 - 777;
    const Frame origin = wrap - 480000;
    const Frame until = origin + 1'500'000;
    const EngineRun e = run_engine(s, rate, first, origin, until, c.nframes);
    const seqref::Output want = seqref::play(reference_of(s, rate, origin, until));
    EXPECT_TRUE(same("out", e.out, want.out));
    EXPECT_TRUE(same("clock", e.clock, want.clock));
    EXPECT_TRUE(same("sync", e.sync, want.sync));
    EXPECT_EQ(e.refused, 0U);
    EXPECT_EQ(e.counters.events_dropped, 0U);
    EXPECT_EQ(e.counters.tempo_refused, 0U);
    EXPECT_GT(want.out.size(), 20U); // the scenario really plays
    std::printf("seq_engine_reference: %zu notes, %zu clock, %zu sync events compared\n",
                want.out.size(), want.clock.size(), want.sync.size());
}

TEST_P(SeqEngineVsReference, StopAtAnExactFrame) {
    const Case c = GetParam();
    const Scenario s = random_scenario(c.seed + 1000, c.song);
    const Frame origin = wrap - 100000 + 13;
    const Frame stop = origin + 345'679;
    const Frame until = origin + 600'000;
    const EngineRun e = run_engine(s, rate, origin - 5, origin, until, c.nframes, stop);
    seqref::Performance p = reference_of(s, rate, origin, until);
    p.stop_frame = stop;
    const seqref::Output want = seqref::play(p);
    EXPECT_TRUE(same("out", e.out, want.out));
    EXPECT_TRUE(same("clock", e.clock, want.clock));
    EXPECT_TRUE(same("sync", e.sync, want.sync));
    EXPECT_EQ(e.refused, 0U);
}

std::vector<Case> cases() {
    std::vector<Case> v;
    std::uint64_t seed = 1;
    for (const std::uint32_t n : {64U, 256U, 1024U, 4096U, 0U}) {
        for (const bool song : {true, false}) {
            v.push_back({seed++, song, n});
            v.push_back({seed++, song, n});
        }
    }
    return v;
}

INSTANTIATE_TEST_SUITE_P(RandomModels, SeqEngineVsReference, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& i) {
                             return std::string(i.param.song ? "song" : "pattern") + "_cycle" +
                                    (i.param.nframes == 0 ? std::string("random")
                                                          : std::to_string(i.param.nframes)) +
                                    "_seed" + std::to_string(i.param.seed);
                         });

} // namespace
} // namespace lockstep::seq
