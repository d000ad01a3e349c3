// lockstep-seq engine, one test per feature of docs/seq.md. Expected frames come from the
// formulas (exact reference map in rig.hpp), never from the engine's output.
#include "chance.hpp"
#include "expect.hpp"
#include "rig.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace lockstep::seq::test {
namespace {

constexpr std::uint32_t rate = 48000;
constexpr Frame f0 = 480017; // an arbitrary start frame
const Bpm bpm137(137);

EngineOptions opts(Bpm b = bpm137) {
    EngineOptions o;
    o.tempo = b;
    return o;
}

Step on_step(int velocity = 100) {
    Step s;
    s.on = true;
    s.velocity = static_cast<std::uint8_t>(velocity);
    return s;
}

// Hits of one track of a 16-step, 4-beat pattern, gate g, for `instances` instances.
std::vector<Hit> simple_hits(const Model& m, int track, int instances) {
    std::vector<Hit> v;
    const Pattern& p = m.pattern[0];
    const Track& tr = m.track[static_cast<std::size_t>(track)];
    const Position d = p.step_length();
    for (int i = 0; i < instances; ++i) {
        for (int k = 0; k < p.steps; ++k) {
            const Step& s = p.grid[static_cast<std::size_t>(track)][static_cast<std::size_t>(k)];
            if (!s.on) {
                continue;
            }
            const Position on = p.length() * Position(i) + d * Position(k);
            v.push_back(Hit{track, 0, tr.channel, tr.notes[0], s.velocity, on,
                            on + d * Position(tr.gate, 96)});
        }
    }
    return v;
}

TEST(SeqEngine, StepsLandOnTheirExactFrames) {
    Model m = default_model();
    auto& g = m.pattern[0].grid[0];
    g[0] = g[3] = g[6] = g[13] = on_step();
    g[3].velocity = 77;
    Rig rig(opts(), m);
    ASSERT_TRUE(rig.send(msg(ToEngineKind::play)));
    const Frame end = f0 + 200000; // ~9.5 beats at 137 BPM
    rig.run(f0, end, 64);
    const RefMap ref(rate, bpm137, f0);
    EXPECT_EQ(notes(rig.out(port_out)), expected(simple_hits(m, 0, 3), ref, end));
    EXPECT_EQ(rig.allocs().allocations, 0U);
    EXPECT_EQ(rig.late(), 0U);
    const auto fb = rig.feedback();
    ASSERT_FALSE(fb.empty());
    EXPECT_EQ(fb[0].kind, FromEngineKind::started);
    EXPECT_EQ(fb[0].frame, f0);
    EXPECT_TRUE(rig.engine().status().playing);
}

TEST(SeqEngine, TracksChannelsLayersAndOrderWithinAFrame) {
    Model m = default_model();
    m.track[0].notes[1] = 50;
    m.track[0].notes[3] = 52; // layer 2 unset: bit 2 sends nothing
    m.track[1].channel = 2;
    m.track[2].notes[0] = 36; // same note as track 0, other layer order
    m.track[2].channel = 3;
    auto& p = m.pattern[0];
    p.grid[0][0] = on_step(90);
    p.grid[0][0].layers = 0b1111;
    p.grid[1][0] = on_step(80);
    p.grid[2][0] = on_step(70);
    p.grid[1][1] = on_step(60);
    m.track[1].gate = 96; // track 1's step-0 note-off meets its step-1 note-on
    Rig rig(opts(), m);
    rig.send(msg(ToEngineKind::play));
    const Frame end = f0 + 40000;
    rig.run(f0, end, 64);
    const RefMap ref(rate, bpm137, f0);
    const Position d(1, 4);
    std::vector<Hit> hits{
        {0, 0, 9, 36, 90, 0, d / Position(2)}, {0, 1, 9, 50, 90, 0, d / Position(2)},
        {0, 3, 9, 52, 90, 0, d / Position(2)}, {1, 0, 2, 37, 80, 0, d},
        {2, 0, 3, 36, 70, 0, d / Position(2)}, {1, 0, 2, 37, 60, d, d + d},
    };
    const auto want = expected(hits, ref, end);
    EXPECT_EQ(notes(rig.out(port_out)), want);
    // Spelled out for frame f0: note-ons in track order, then layer order.
    ASSERT_GE(want.size(), 5U);
    EXPECT_EQ(want[0], note_on(f0, 9, 36, 90));
    EXPECT_EQ(want[1], note_on(f0, 9, 50, 90));
    EXPECT_EQ(want[2], note_on(f0, 9, 52, 90));
    EXPECT_EQ(want[3], note_on(f0, 2, 37, 80));
    EXPECT_EQ(want[4], note_on(f0, 3, 36, 70));
}

TEST(SeqEngine, SwingDelaysOddSteps) {
    Model m = default_model();
    auto& p = m.pattern[0];
    p.swing = 500; // odd steps w*d/2 = d/4 late
    for (int k = 0; k < 16; ++k) {
        p.grid[0][static_cast<std::size_t>(k)] = on_step();
    }
    Rig rig(opts(), m);
    rig.send(msg(ToEngineKind::play));
    const Frame end = f0 + 100000;
    rig.run(f0, end, 64);
    const RefMap ref(rate, bpm137, f0);
    const Position d(1, 4);
    std::vector<Hit> hits;
    for (int i = 0; i < 2; ++i) {
        for (int k = 0; k < 16; ++k) {
            const Position on = Position(4 * i) + d * Position(k) +
                                (k % 2 == 1 ? Position(500, 1000) * d / Position(2) : Position(0));
            hits.push_back(Hit{0, 0, 9, 36, 100, on, on + d / Position(2)});
        }
    }
    EXPECT_EQ(notes(rig.out(port_out)), expected(hits, ref, end));
}

TEST(SeqEngine, VelocityRatchetMicrotimingAndTheClampToTheInstanceStart) {
    Model m = default_model();
    auto& p = m.pattern[0];
    p.swing = 1000;
    auto& row = p.grid[0];
    row[0] = on_step(11);
    row[0].micro = -20; // would fall before the instance start: played at S
    row[2] = on_step(22);
    row[2].ratchet = 3;
    row[2].micro = 10;
    row[15] = on_step(33);
    row[15].ratchet = 2;
    row[15].micro = 40; // with swing, its second hit lands after the instance's end
    m.track[0].gate = 96;
    Rig rig(opts(), m);
    rig.send(msg(ToEngineKind::play));
    const Frame end = f0 + 190000;
    rig.run(f0, end, 64);
    const RefMap ref(rate, bpm137, f0);
    const Position d(1, 4);
    std::vector<Hit> hits;
    for (int i = 0; i < 3; ++i) {
        const Position s(4 * i);
        hits.push_back(Hit{0, 0, 9, 36, 11, s, s + d});
        for (int j = 0; j < 3; ++j) {
            const Position e = s + d * Position(2) + d * Position(10, 96) + d * Position(j, 3);
            hits.push_back(Hit{0, 0, 9, 36, 22, e, e + d / Position(3)});
        }
        for (int j = 0; j < 2; ++j) {
            const Position e =
                s + d * Position(15) + d / Position(2) + d * Position(40, 96) + d * Position(j, 2);
            hits.push_back(Hit{0, 0, 9, 36, 33, e, e + d / Position(2)});
        }
    }
    // Step 15's second hit of instance i overlaps step 0 of instance i + 1 (same note): the
    // retrigger rule applies there, so compare only up to the first such overlap.
    const Frame overlap = ref.emitted(Position(4));
    auto got = notes(rig.out(port_out));
    auto want = expected(hits, ref, end);
    const auto cut = [&](std::vector<Event>& v) {
        v.erase(
            std::remove_if(v.begin(), v.end(), [&](const Event& e) { return e.frame >= overlap; }),
            v.end());
    };
    cut(got);
    cut(want);
    EXPECT_EQ(got, want);
    // The late hit itself (after the instance's end) still plays.
    const Position late0 =
        d * Position(15) + d / Position(2) + d * Position(40, 96) + d / Position(2);
    ASSERT_GT(late0, Position(4));
    const Event late_on = note_on(ref.emitted(late0), 9, 36, 33);
    const auto all = notes(rig.out(port_out));
    EXPECT_NE(std::find(all.begin(), all.end(), late_on), all.end());
}

TEST(SeqEngine, GateLength) {
    Model m = default_model();
    m.pattern[0].grid[0][0] = on_step();
    m.pattern[0].grid[0][5] = on_step();
    m.pattern[0].grid[0][5].ratchet = 4;
    m.track[0].gate = 10;
    Rig rig(opts(), m);
    rig.send(msg(ToEngineKind::play));
    const Frame end = f0 + 60000;
    rig.run(f0, end, 64);
    const RefMap ref(rate, bpm137, f0);
    const Position d(1, 4);
    std::vector<Hit> hits{{0, 0, 9, 36, 100, 0, d * Position(10, 96)}};
    for (int j = 0; j < 4; ++j) {
        const Position e = d * Position(5) + d * Position(j, 4);
        hits.push_back(Hit{0, 0, 9, 36, 100, e, e + d / Position(4) * Position(10, 96)});
    }
    EXPECT_EQ(notes(rig.out(port_out)), expected(hits, ref, end));
}

TEST(SeqEngine, MuteAndSolo) {
    Model m = default_model();
    for (int t = 0; t < 4; ++t) {
        m.pattern[0].grid[static_cast<std::size_t>(t)][0] = on_step();
    }
    m.track[1].mute = true;
    Rig rig(opts(), m);
    rig.send(msg(ToEngineKind::play));
    rig.run(f0, f0 + 1000, 64);
    std::set<int> keys;
    for (const Event& e : notes(rig.out(port_out))) {
        keys.insert(e.bytes[1]);
    }
    EXPECT_EQ(keys, (std::set<int>{36, 38, 39}));
    m.track[2].solo = true;
    m.track[3].solo = true;
    m.track[3].mute = true; // muted wins over solo
    rig.publish(m);
    rig.clear();
    const Frame bar = RefMap(rate, bpm137, f0).emitted(4);
    rig.run(f0 + 1000, bar + 1000, 64);
    keys.clear();
    for (const Event& e : notes(rig.out(port_out))) {
        if (e.frame >= bar) {
            keys.insert(e.bytes[1]);
        }
    }
    EXPECT_EQ(keys, (std::set<int>{38}));
}

TEST(SeqEngine, SameNoteRetriggerEndsTheHeldNoteFirst) {
    Model m = default_model();
    m.track[0].gate = 96;
    auto& row = m.pattern[0].grid[0];
    row[0] = on_step();
    row[1] = on_step(50);
    row[1].micro = -24; // at 3d/4, while step 0's note (until d) is held
    Rig rig(opts(), m);
    rig.send(msg(ToEngineKind::play));
    const Frame end = f0 + 20000;
    rig.run(f0, end, 64);
    const RefMap ref(rate, bpm137, f0);
    const Position d(1, 4);
    const Frame a = ref.emitted(0);
    const Frame b = ref.emitted(d * Position(3, 4));
    const Frame c = ref.emitted(d * Position(3, 4) + d);
    ASSERT_LT(c, end);
    const std::vector<Event> want{note_on(a, 9, 36, 100), note_off(b, 9, 36), note_on(b, 9, 36, 50),
                                  note_off(c, 9, 36)};
    EXPECT_EQ(notes(rig.out(port_out)), want);
}

TEST(SeqEngine, ProbabilityIsReproducibleForASeedAndDiffersForAnother) {
    Model m = default_model();
    for (int k = 0; k < 16; ++k) {
        m.pattern[0].grid[0][static_cast<std::size_t>(k)] = on_step();
        m.pattern[0].grid[0][static_cast<std::size_t>(k)].probability = 50;
    }
    const Frame end = f0 + 4 * 84100;
    const auto play = [&](std::uint64_t seed) {
        EngineOptions o = opts();
        o.seed = seed;
        Rig rig(o, m);
        rig.send(msg(ToEngineKind::play));
        rig.run(f0, end, 128);
        return notes(rig.out(port_out));
    };
    const auto expect_for = [&](std::uint64_t seed) {
        std::vector<Hit> hits;
        for (const Hit& h : simple_hits(m, 0, 5)) {
            const auto i = static_cast<std::uint64_t>(h.on.floor() / 4);
            const int k = static_cast<int>(
                ((h.on - Position(4 * static_cast<std::int64_t>(i))) * Position(4)).floor());
            if (step_fires(seed, 0, i, k, 50)) {
                hits.push_back(h);
            }
        }
        return expected(hits, RefMap(rate, bpm137, f0), end);
    };
    const auto a = play(1);
    EXPECT_EQ(a, expect_for(1));
    EXPECT_EQ(a, play(1));
    const auto b = play(2);
    EXPECT_EQ(b, expect_for(2));
    EXPECT_NE(a, b);
    EXPECT_GT(a.size(), 20U);
}

TEST(SeqEngine, TempoChangeAtTheNextStepBoundary) {
    Model m = default_model();
    for (int k = 0; k < 16; ++k) {
        m.pattern[0].grid[0][static_cast<std::size_t>(k)] = on_step();
    }
    Rig rig(opts(), m);
    rig.send(msg(ToEngineKind::play));
    const Frame x = f0 + 30011; // the change's timetag frame, mid-cycle
    rig.send(tempo_msg(Bpm(1000, 7), x));
    const Frame end = f0 + 200000;
    rig.run(f0, end, 64);
    RefMap ref(rate, bpm137, f0);
    const Position d(1, 4);
    std::int64_t k = 0;
    while (ref.emitted(d * Position(k)) < x) {
        ++k;
    }
    const Position at = d * Position(k);
    ref.change(at, Bpm(1000, 7));
    EXPECT_EQ(notes(rig.out(port_out)), expected(simple_hits(m, 0, 4), ref, end));
    bool applied = false;
    for (const FromEngine& f : rig.feedback()) {
        if (f.kind == FromEngineKind::tempo_applied) {
            applied = true;
            EXPECT_EQ(f.position, at);
            EXPECT_EQ(f.frame, ref.emitted(at));
        }
    }
    EXPECT_TRUE(applied);
    EXPECT_EQ(rig.engine().status().bpm, Bpm(1000, 7));
}

TEST(SeqEngine, TempoChangesAtPositionsInAnyOrder) {
    Model m = default_model();
    for (int k = 0; k < 16; ++k) {
        m.pattern[0].grid[0][static_cast<std::size_t>(k)] = on_step();
    }
    m.pattern[0].grid[0][3].micro = 30;
    Rig rig(opts(), m);
    rig.send(msg(ToEngineKind::play));
    rig.send(tempo_at_msg(8, 160));
    rig.send(tempo_at_msg(6, 100));
    rig.send(tempo_at_msg(Position(13, 3), Bpm(1373, 10)));
    const Frame end = f0 + 300000;
    rig.run(f0, f0 + 640, 64);
    // One more sent later, between two already scheduled ones.
    rig.send(tempo_at_msg(Position(7, 1), Bpm(549, 4)));
    rig.run(f0 + 640, end, 64);
    RefMap ref(rate, bpm137, f0);
    ref.change(Position(13, 3), Bpm(1373, 10));
    ref.change(6, 100);
    ref.change(7, Bpm(549, 4));
    ref.change(8, 160);
    std::vector<Hit> hits = simple_hits(m, 0, 5);
    for (Hit& h : hits) {
        if (h.on - Position(4) * Position((h.on / Position(4)).floor()) == Position(3, 4)) {
            h.on = h.on + Position(1, 4) * Position(30, 96);
            h.off = h.on + Position(1, 8);
        }
    }
    EXPECT_EQ(notes(rig.out(port_out)), expected(hits, ref, end));
    EXPECT_EQ(rig.engine().counters().tempo_refused, 0U);
}

TEST(SeqEngine, RetroactiveTempoChangeIsRefused) {
    Model m = default_model();
    m.pattern[0].grid[0][0] = on_step();
    m.pattern[0].grid[0][8] = on_step();
    Rig rig(opts(), m);
    rig.send(msg(ToEngineKind::play));
    rig.run(f0, f0 + 64000, 64); // ~3 beats
    rig.feedback();
    rig.send(tempo_at_msg(1, 150));
    const Frame end = f0 + 200000;
    rig.run(f0 + 64000, end, 64);
    EXPECT_EQ(notes(rig.out(port_out)),
              expected(simple_hits(m, 0, 3), RefMap(rate, bpm137, f0), end));
    EXPECT_EQ(rig.engine().counters().tempo_refused, 1U);
    const auto fb = rig.feedback();
    const auto it = std::find_if(fb.begin(), fb.end(), [](const FromEngine& f) {
        return f.kind == FromEngineKind::tempo_refused;
    });
    ASSERT_NE(it, fb.end());
    EXPECT_EQ(it->reason, Reason::bad_position);
}

TEST(SeqEngine, ClearTempoDropsChangesNotReachedYet) {
    Model m = default_model();
    m.pattern[0].grid[0][0] = on_step();
    m.pattern[0].grid[0][8] = on_step();
    Rig rig(opts(), m);
    rig.send(msg(ToEngineKind::play));
    rig.send(tempo_at_msg(2, 90));
    rig.send(tempo_at_msg(8, 200));
    rig.send(msg(ToEngineKind::clear_tempo, f0 + 100000)); // after beat 2, before beat 8
    const Frame end = f0 + 300000;
    rig.run(f0, end, 64);
    RefMap ref(rate, bpm137, f0);
    ref.change(2, 90);
    EXPECT_EQ(notes(rig.out(port_out)), expected(simple_hits(m, 0, 3), ref, end));
    EXPECT_EQ(rig.engine().status().bpm, Bpm(90));
}

TEST(SeqEngine, TempoMapBeyondTheExactnessLimitIsRebasedAndSaysSo) {
    Model m = default_model();
    for (int k = 0; k < 16; ++k) {
        m.pattern[0].grid[0][static_cast<std::size_t>(k)] = on_step();
    }
    Rig rig(opts(), m);
    rig.send(msg(ToEngineKind::play));
    std::int64_t p = 4294967291; // prime-ish numerators near 2^32: anchors grow fast
    for (std::int64_t k = 1; k <= 40; ++k) {
        rig.send(tempo_at_msg(Position(k, 2), Bpm(p, 30000000)));
        p -= 2 * (1 + k % 5);
    }
    const Frame end = f0 + 600000;
    rig.run(f0, end, 64);
    int rebased = 0;
    for (const FromEngine& f : rig.feedback()) {
        EXPECT_NE(f.kind, FromEngineKind::tempo_refused);
        if (f.kind == FromEngineKind::tempo_applied && f.reason == Reason::not_exact) {
            ++rebased;
        }
    }
    EXPECT_GE(rebased, 1);
    // Still one note per sixteenth, in order, about 1/4 beat apart at ~143 BPM.
    const auto v = notes(rig.out(port_out));
    Frame last = 0;
    int ons = 0;
    for (const Event& e : v) {
        if (e.bytes[0] == 0x99) {
            if (ons > 0) {
                EXPECT_NEAR(static_cast<double>(e.frame - last), 5028.0, 60.0);
            }
            last = e.frame;
            ++ons;
        }
    }
    EXPECT_GT(ons, 100);
}

TEST(SeqEngine, TimetaggedPlayAndStopMidCycle) {
    Model m = default_model();
    m.track[0].gate = 96;
    for (int k = 0; k < 16; ++k) {
        m.pattern[0].grid[0][static_cast<std::size_t>(k)] = on_step();
    }
    Rig rig(opts(), m);
    const Frame start = f0 + 37;
    const Frame stop = f0 + 50000 + 13;
    rig.send(msg(ToEngineKind::play, start));
    rig.send(msg(ToEngineKind::stop, stop));
    const Frame end = f0 + 100000;
    rig.run(f0, end, 64);
    const RefMap ref(rate, bpm137, start);
    auto want = expected(simple_hits(m, 0, 1), ref, stop);
    const Position d(1, 4);
    std::int64_t k = 0;
    while (ref.emitted(d * Position(k + 1)) < stop) {
        ++k;
    }
    // Step k's note is sounding at the stop frame (gate 96 = the whole step).
    ASSERT_LT(ref.emitted(d * Position(k)), stop);
    want.push_back(note_off(stop, 9, 36));
    EXPECT_EQ(notes(rig.out(port_out)), want);
    const auto& clock = rig.out(port_clock);
    ASSERT_FALSE(clock.empty());
    EXPECT_EQ(clock.back(), (Event{stop, {0xFC}}));
    EXPECT_EQ(rig.out(port_sync).back(), (Event{stop, {0xF0, 0x7D, 0x02, 0xF7}}));
    EXPECT_FALSE(rig.engine().status().playing);
}

TEST(SeqEngine, MidiClockStartTicksStopAndSongPosition) {
    Rig rig(opts(), default_model());
    rig.send(msg(ToEngineKind::play));
    const Frame end = f0 + 50000;
    const Frame stop = f0 + 40001;
    rig.send(msg(ToEngineKind::stop, stop));
    rig.run(f0, end, 100);
    const RefMap ref(rate, bpm137, f0);
    std::vector<Event> want{{f0, {0xFA}}};
    for (std::int64_t n = 0; ref.emitted(Position(n, 24)) < stop; ++n) {
        want.push_back(Event{ref.emitted(Position(n, 24)), {0xF8}});
    }
    want.push_back(Event{stop, {0xFC}});
    EXPECT_EQ(rig.out(port_clock), want);

    // Locate while playing: song position + continue, ticks from the position on.
    rig.clear();
    const Frame g = end + 1000;
    rig.send(msg(ToEngineKind::play, g));
    ToEngine loc = msg(ToEngineKind::locate, g + 5000);
    loc.position = Position(35, 4); // 8.75 beats: 16th 35, tick 210
    rig.send(loc);
    const Frame end2 = g + 20000;
    rig.run(end, end2, 100);
    const RefMap ref2(rate, bpm137, g);
    std::vector<Event> want2{{g, {0xFA}}};
    for (std::int64_t n = 0; ref2.emitted(Position(n, 24)) < g + 5000; ++n) {
        want2.push_back(Event{ref2.emitted(Position(n, 24)), {0xF8}});
    }
    want2.push_back(Event{g + 5000, {0xF2, 35, 0}});
    want2.push_back(Event{g + 5000, {0xFB}});
    // After the locate, position 35/4 is emitted on frame g + 5000 and later positions keep
    // their place in the tempo map relative to it.
    const RefMap song(rate, bpm137, 0);
    for (std::int64_t n = 210;; ++n) {
        const Frame f = g + 5000 + song.emitted(Position(n, 24)) - song.emitted(Position(35, 4));
        if (f >= end2) {
            break;
        }
        want2.push_back(Event{f, {0xF8}});
    }
    EXPECT_EQ(rig.out(port_clock), want2);
}

TEST(SeqEngine, SyncSysexPerStepWithTheMaskOfTracksThatFire) {
    Model m = default_model();
    m.tracks = 10;
    m.pattern[0].grid[0][0] = on_step();
    m.pattern[0].grid[9][0] = on_step();
    m.pattern[0].grid[7][1] = on_step();
    m.pattern[0].grid[3][1] = on_step();
    m.track[3].mute = true;
    m.pattern[0].swing = 1000; // sync ignores swing
    Rig rig(opts(), m);
    rig.send(msg(ToEngineKind::play));
    const Frame end = f0 + 20000;
    rig.run(f0, end, 64);
    const RefMap ref(rate, bpm137, f0);
    std::vector<Event> want;
    for (std::int64_t k = 0; ref.emitted(Position(k, 4)) < end; ++k) {
        std::uint32_t mask = 0;
        if (k == 0) {
            mask = 1U | (1U << 9);
        } else if (k == 1) {
            mask = 1U << 7;
        }
        want.push_back(Event{ref.emitted(Position(k, 4)),
                             {0xF0, 0x7D, 0x01, 0, static_cast<std::uint8_t>(k),
                              static_cast<std::uint8_t>(mask & 0x7F),
                              static_cast<std::uint8_t>((mask >> 7) & 0x7F), 0, 0, 0, 0xF7}});
    }
    EXPECT_EQ(rig.out(port_sync), want);
}

TEST(SeqEngine, PerTrackPortsCarryEachTrackAlone) {
    Model m = default_model();
    m.pattern[0].grid[0][0] = on_step();
    m.pattern[0].grid[2][1] = on_step();
    EngineOptions o = opts();
    o.track_ports = true;
    Rig rig(o, m);
    rig.send(msg(ToEngineKind::play));
    const Frame end = f0 + 30000;
    rig.run(f0, end, 64);
    const RefMap ref(rate, bpm137, f0);
    const Position d(1, 4);
    EXPECT_EQ(rig.out(port_track0 + 0),
              expected({{0, 0, 9, 36, 100, 0, d / Position(2)}}, ref, end));
    EXPECT_TRUE(rig.out(port_track0 + 1).empty());
    EXPECT_EQ(rig.out(port_track0 + 2),
              expected({{2, 0, 9, 38, 100, d, d + d / Position(2)}}, ref, end));
    EXPECT_EQ(notes(rig.out(port_out)).size(), 4U);
}

TEST(SeqEngine, StopThenPlayStartsAgainFromPositionZero) {
    Model m = default_model();
    for (int k = 0; k < 16; k += 2) {
        m.pattern[0].grid[0][static_cast<std::size_t>(k)] = on_step();
        m.pattern[0].grid[0][static_cast<std::size_t>(k)].probability = 60;
    }
    Rig rig(opts(), m);
    rig.send(msg(ToEngineKind::play));
    rig.send(msg(ToEngineKind::stop, f0 + 150000));
    const Frame g = f0 + 200000;
    rig.send(msg(ToEngineKind::play, g));
    rig.send(msg(ToEngineKind::stop, g + 150000));
    rig.run(f0, g + 200000, 64);
    std::vector<Event> first;
    std::vector<Event> second;
    for (const Event& e : rig.out(port_out)) {
        if (e.frame < g) {
            first.push_back(e);
        } else {
            Event s = e;
            s.frame -= g - f0;
            second.push_back(s);
        }
    }
    EXPECT_FALSE(first.empty());
    EXPECT_EQ(first, second);
}

TEST(SeqEngine, PatternSelectSwitchesAtTheInstanceEnd) {
    Model m = default_model();
    m.pattern[0].grid[0][0] = on_step();
    m.pattern[1].steps = 12; // triplet eighths over 4 beats
    m.pattern[1].grid[1][0] = on_step();
    m.pattern[1].grid[1][1] = on_step();
    Rig rig(opts(), m);
    rig.send(msg(ToEngineKind::play));
    rig.run(f0, f0 + 30000, 64); // inside the first instance
    m.selected = 1;
    rig.publish(m);
    const Frame end = f0 + 200000;
    rig.run(f0 + 30000, end, 64);
    const RefMap ref(rate, bpm137, f0);
    const Position d1(1, 3);
    std::vector<Hit> hits{{0, 0, 9, 36, 100, 0, Position(1, 8)}};
    for (int i = 1; i < 3; ++i) {
        for (int k = 0; k < 2; ++k) {
            const Position on = Position(4 * i) + d1 * Position(k);
            hits.push_back(Hit{1, 0, 9, 37, 100, on, on + d1 / Position(2)});
        }
    }
    EXPECT_EQ(notes(rig.out(port_out)), expected(hits, ref, end));
}

Model song_model() {
    Model m = default_model();
    m.pattern[0].grid[0][0] = on_step();
    m.pattern[1].steps = 6;
    m.pattern[1].beats_num = 3; // 3 beats, half-beat steps
    m.pattern[1].grid[1][0] = on_step();
    m.pattern[1].grid[1][5] = on_step();
    m.pattern[1].grid[1][5].micro = 48; // lands on the song's end
    m.song.enabled = true;
    m.song.loop = false;
    m.song.length = 2;
    m.song.chain[0] = ChainSlot{0, 2};
    m.song.chain[1] = ChainSlot{1, 1};
    return m;
}

TEST(SeqEngine, SongChainPlaysRepeatsAndStopsAtTheEnd) {
    const Model m = song_model();
    Rig rig(opts(), m);
    rig.send(msg(ToEngineKind::play));
    const Frame end = f0 + 300000;
    rig.run(f0, end, 64);
    const RefMap ref(rate, bpm137, f0);
    const Frame stop = ref.emitted(11);
    std::vector<Hit> hits{{0, 0, 9, 36, 100, 0, Position(1, 8)},
                          {0, 0, 9, 36, 100, 4, 4 + Position(1, 8)},
                          {1, 0, 9, 37, 100, 8, 8 + Position(1, 4)}};
    // Step 5 of pattern 1 with +48/96: at 8 + 5/2 + 1/4 = 10.75, note-off at 11: at the stop.
    hits.push_back(Hit{1, 0, 9, 37, 100, Position(43, 4), 11});
    EXPECT_EQ(notes(rig.out(port_out)), expected(hits, ref, stop + 1));
    EXPECT_FALSE(rig.engine().status().playing);
    const auto fb = rig.feedback();
    const auto it = std::find_if(fb.begin(), fb.end(), [](const FromEngine& f) {
        return f.kind == FromEngineKind::stopped;
    });
    ASSERT_NE(it, fb.end());
    EXPECT_EQ(it->reason, Reason::chain_end);
    EXPECT_EQ(it->frame, stop);
    EXPECT_EQ(rig.out(port_clock).back(), (Event{stop, {0xFC}}));
}

TEST(SeqEngine, SongChainLoops) {
    Model m = song_model();
    m.song.loop = true;
    m.pattern[1].grid[1][5].micro = 0;
    Rig rig(opts(), m);
    rig.send(msg(ToEngineKind::play));
    const Frame end = f0 + 300000; // ~14.3 beats
    rig.run(f0, end, 64);
    const RefMap ref(rate, bpm137, f0);
    std::vector<Hit> hits;
    for (const Position base : {Position(0), Position(11)}) {
        hits.push_back({0, 0, 9, 36, 100, base, base + Position(1, 8)});
        hits.push_back({0, 0, 9, 36, 100, base + 4, base + 4 + Position(1, 8)});
        hits.push_back({1, 0, 9, 37, 100, base + 8, base + 8 + Position(1, 4)});
        hits.push_back({1, 0, 9, 37, 100, base + Position(21, 2), base + 10 + Position(3, 4)});
    }
    EXPECT_EQ(notes(rig.out(port_out)), expected(hits, ref, end));
}

TEST(SeqEngine, SongModeWithAnEmptyChainDoesNotStart) {
    Model m = song_model();
    m.song.length = 0;
    Rig rig(opts(), m);
    rig.send(msg(ToEngineKind::play));
    rig.run(f0, f0 + 50000, 64);
    EXPECT_TRUE(rig.out(port_out).empty());
    EXPECT_TRUE(rig.out(port_clock).empty());
    const auto fb = rig.feedback();
    ASSERT_EQ(fb.size(), 1U);
    EXPECT_EQ(fb[0].kind, FromEngineKind::stopped);
    EXPECT_EQ(fb[0].reason, Reason::empty_chain);
    EXPECT_FALSE(rig.engine().status().playing);
}

TEST(SeqEngine, ChainEditTakesEffectAtTheNextInstanceBoundary) {
    Model m = song_model();
    m.song.loop = true;
    m.pattern[2].grid[2][0] = on_step();
    Rig rig(opts(), m);
    rig.send(msg(ToEngineKind::play));
    rig.run(f0, f0 + 30000, 64); // in slot 0, repeat 0
    m.song.chain[0].repeats = 1; // slot 0 now ends after this instance
    m.song.chain[1] = ChainSlot{2, 1};
    rig.publish(m);
    const Frame end = f0 + 250000;
    rig.run(f0 + 30000, end, 64);
    const RefMap ref(rate, bpm137, f0);
    std::vector<Hit> hits{{0, 0, 9, 36, 100, 0, Position(1, 8)},
                          {2, 0, 9, 38, 100, 4, 4 + Position(1, 8)},
                          {0, 0, 9, 36, 100, 8, 8 + Position(1, 8)}};
    EXPECT_EQ(notes(rig.out(port_out)), expected(hits, ref, end));

    // Emptied while playing: ends at the current instance's end.
    m.song.length = 0;
    rig.publish(m);
    rig.clear();
    rig.run(end, end + 200000, 64);
    EXPECT_FALSE(rig.engine().status().playing);
    EXPECT_EQ(rig.out(port_clock).back(), (Event{ref.emitted(12), {0xFC}}));
}

// The same performance, whatever the cycle sizes.
Model busy_model() {
    Model m = default_model();
    m.tracks = 6;
    m.track[1].notes[1] = 60;
    m.track[2].gate = 96;
    m.track[4].channel = 1;
    for (int t = 0; t < 6; ++t) {
        for (int k = 0; k < 16; ++k) {
            Step& s = m.pattern[0].grid[static_cast<std::size_t>(t)][static_cast<std::size_t>(k)];
            s.on = (k + t) % 3 != 0;
            s.velocity = static_cast<std::uint8_t>(10 + 7 * k + t);
            s.probability = static_cast<std::uint8_t>(t == 3 ? 50 : 100);
            s.ratchet = static_cast<std::uint8_t>(1 + (k * t) % 4);
            s.micro = static_cast<std::int8_t>(((k * 13 + t * 7) % 97) - 48);
            s.layers = 3;
        }
    }
    m.pattern[0].swing = 333;
    m.pattern[0].beats_num = 7;
    m.pattern[0].beats_den = 2;
    return m;
}

std::vector<std::vector<Event>> run_sizes(const std::vector<std::uint32_t>& sizes, Frame start,
                                          Frame len) {
    EngineOptions o = opts(Bpm(1373, 10));
    o.track_ports = true;
    Rig rig(o, busy_model());
    rig.send(msg(ToEngineKind::play, start + 333));
    rig.send(tempo_at_msg(Position(9, 2), Bpm(1000, 7)));
    rig.send(tempo_msg(Bpm(99), start + 100000));
    Frame f = start;
    std::size_t i = 0;
    while (f < start + len) {
        const auto n =
            static_cast<std::uint32_t>(std::min<Frame>(sizes[i % sizes.size()], start + len - f));
        rig.cycle(f, n);
        f += n;
        ++i;
    }
    EXPECT_EQ(rig.allocs().allocations, 0U);
    EXPECT_EQ(rig.late(), 0U);
    std::vector<std::vector<Event>> v;
    for (std::size_t p = 0; p < rig_ports; ++p) {
        v.push_back(rig.out(p));
    }
    return v;
}

TEST(SeqEngine, IdenticalOutputAtAnyCycleSize) {
    const Frame len = 300000;
    const auto ref = run_sizes({64}, f0, len);
    EXPECT_GT(notes(ref[port_out]).size(), 200U);
    EXPECT_EQ(run_sizes({1}, f0, len), ref);
    EXPECT_EQ(run_sizes({7}, f0, len), ref);
    EXPECT_EQ(run_sizes({1024}, f0, len), ref);
    EXPECT_EQ(run_sizes({8192}, f0, len), ref);
    EXPECT_EQ(run_sizes({3, 1000, 64, 1, 8192, 17, 256, 5}, f0, len), ref);
}

TEST(SeqEngine, AcrossThe32BitFrameWrap) {
    const Frame start = (Frame{1} << 32) - 3 * 48000;
    Model m = default_model();
    for (int k = 0; k < 16; ++k) {
        m.pattern[0].grid[0][static_cast<std::size_t>(k)] = on_step();
    }
    Rig rig(opts(), m);
    rig.send(msg(ToEngineKind::play));
    const Frame end = start + 6 * 48000;
    rig.run(start, end, 256);
    EXPECT_EQ(notes(rig.out(port_out)),
              expected(simple_hits(m, 0, 4), RefMap(rate, bpm137, start), end));
    // And the same music as anywhere else.
    const auto shifted = run_sizes({64}, start, 300000);
    auto base = run_sizes({64}, f0, 300000);
    for (auto& port : base) {
        for (Event& e : port) {
            e.frame += start - f0;
        }
    }
    EXPECT_EQ(shifted, base);
}

} // namespace
} // namespace lockstep::seq::test
