// The standalone sequencer: exact step times on its own clock (checked against exact
// rationals), tempo changes at step boundaries, song chain, undo/redo, host follow.
#include "core/sequencer.hpp"

#include <boost/multiprecision/cpp_int.hpp>
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <tuple>
#include <vector>

namespace {

using boost::multiprecision::cpp_int;
using boost::multiprecision::cpp_rational;
using lockstep::fw::DeviceTime;
using lockstep::fw::Model;
using lockstep::fw::outputs;
using lockstep::fw::Sequencer;
using lockstep::fw::StepEvent;

constexpr DeviceTime ms = 1'000'000;
constexpr DeviceTime hour = 3'600'000 * ms;

DeviceTime ceil_ns(const cpp_rational& r) {
    const cpp_int n = boost::multiprecision::numerator(r);
    const cpp_int d = boost::multiprecision::denominator(r);
    cpp_int q = n / d;
    if (q * d < n) {
        ++q;
    }
    return q.convert_to<DeviceTime>();
}

// A step lasts 60/(bpm100/100)/4 s = 1.5e12/bpm100 ns.
cpp_rational step_ns(std::uint32_t bpm100) {
    return cpp_rational(cpp_int(1'500'000'000'000), bpm100);
}

// The exact reference of a run: segments start at a step index with a tempo; swing may
// change at a step index. A segment's anchor is its first step's unswung time under the
// previous tempo, rounded up (the documented rule); within a segment nothing is rounded.
struct Reference {
    struct Change {
        std::size_t from; // step index
        std::uint32_t bpm100;
    };
    struct SwingChange {
        std::size_t from;
        unsigned swing;
    };
    DeviceTime start;
    std::vector<Change> tempos;
    std::vector<SwingChange> swings;

    std::vector<DeviceTime> times(std::size_t count) const {
        std::vector<DeviceTime> out;
        cpp_rational anchor(start);
        std::size_t seg = 0;
        std::size_t sw = 0;
        unsigned swing = 0;
        for (std::size_t n = 0; n < count; ++n) {
            while (seg + 1 < tempos.size() && tempos[seg + 1].from == n) {
                const cpp_rational boundary =
                    anchor +
                    step_ns(tempos[seg].bpm100) * static_cast<long long>(n - tempos[seg].from);
                anchor = cpp_rational(ceil_ns(boundary));
                ++seg;
            }
            while (sw < swings.size() && swings[sw].from <= n) {
                swing = swings[sw].swing;
                ++sw;
            }
            const cpp_rational d = step_ns(tempos[seg].bpm100);
            cpp_rational ideal = anchor + d * static_cast<long long>(n - tempos[seg].from);
            if (n % 2 == 1) { // 16-step patterns: the step's parity is the run's
                ideal += d * swing / 2000;
            }
            out.push_back(ceil_ns(ideal));
        }
        return out;
    }
};

std::vector<StepEvent> run(Sequencer& seq, DeviceTime from, DeviceTime to, DeviceTime tick) {
    std::vector<StepEvent> out;
    for (DeviceTime now = from; now < to; now += tick) {
        seq.tick(now, [&](const StepEvent& e) { out.push_back(e); });
    }
    return out;
}

class StepTimes : public ::testing::TestWithParam<std::tuple<std::uint32_t, unsigned>> {};

TEST_P(StepTimes, ExactOverASimulatedHour) {
    const auto [bpm100, swing] = GetParam();
    Sequencer seq;
    ASSERT_TRUE(seq.set_tempo(bpm100));
    ASSERT_TRUE(seq.set_swing(static_cast<std::uint16_t>(swing)));
    const DeviceTime start = 987'654'321'123ULL; // not a round number
    ASSERT_TRUE(seq.play(start));
    const auto steps = run(seq, start - 10 * ms, start + hour + 10 * ms, 7 * ms + 3);
    const Reference ref{start, {{0, bpm100}}, {{0, swing}}};
    const auto expected = ref.times(steps.size());
    ASSERT_GT(steps.size(), bpm100 * 24U / 10U - 2U); // about an hour of sixteenths
    for (std::size_t n = 0; n < steps.size(); ++n) {
        ASSERT_EQ(steps[n].at, expected[n]) << "step " << n;
        ASSERT_EQ(steps[n].step, n % 16);
    }
    // No drift: where a whole number of steps makes an hour, that step is exactly an hour
    // after the start (an even step, so swing does not move it).
    if ((bpm100 * 24U) % 10U == 0) {
        const std::size_t n = bpm100 * 24U / 10U;
        ASSERT_LT(n, steps.size());
        EXPECT_EQ(steps[n].at, start + hour);
    }
}

INSTANTIATE_TEST_SUITE_P(TemposAndSwing, StepTimes,
                         ::testing::Combine(::testing::Values(13730U, 12000U, 30000U, 3333U,
                                                              17777U),
                                            ::testing::Values(0U, 333U, 1000U)));

TEST(Sequencer, TempoAndSwingChangesAtStepBoundariesStayExact) {
    Sequencer seq;
    const DeviceTime start = 5'000 * ms + 7;
    ASSERT_TRUE(seq.play(start));
    Reference ref{start, {{0, seq.model().tempo_bpm100}}, {{0, 0}}};
    std::vector<StepEvent> steps;
    std::mt19937_64 rng(3);
    const std::uint32_t tempos[] = {13730, 3333, 30000, 9999, 17777, 12000, 25013};
    DeviceTime now = start;
    for (int change = 0; change < 40; ++change) {
        const DeviceTime until = now + (5'000 + rng() % 120'000) * ms;
        for (; now < until; now += 5 * ms) {
            seq.tick(now, [&](const StepEvent& e) { steps.push_back(e); });
        }
        if (change % 3 == 2) {
            const auto swing = static_cast<unsigned>(rng() % 1001);
            ASSERT_TRUE(seq.set_swing(static_cast<std::uint16_t>(swing)));
            ref.swings.push_back({steps.size(), swing});
        } else {
            const std::uint32_t bpm100 = tempos[rng() % std::size(tempos)];
            if (bpm100 != ref.tempos.back().bpm100) {
                ASSERT_TRUE(seq.set_tempo(bpm100));
                ref.tempos.push_back({steps.size(), bpm100});
            }
        }
    }
    ASSERT_GT(ref.tempos.size(), 10U);
    const auto expected = ref.times(steps.size());
    for (std::size_t n = 0; n < steps.size(); ++n) {
        ASSERT_EQ(steps[n].at, expected[n]) << "step " << n;
    }
}

TEST(Sequencer, StepOffsetIsExactForHugeStepCounts) {
    for (const std::uint32_t bpm100 : {1000U, 3333U, 13730U, 99999U, 100000U}) {
        for (const std::uint64_t j : {0ULL, 1ULL, 12345ULL, 1'000'000'007ULL, 123'456'789'012ULL}) {
            for (const bool odd : {false, true}) {
                const cpp_rational ideal =
                    step_ns(bpm100) * cpp_int(j) + (odd ? step_ns(bpm100) * 1000 / 2000 : 0);
                EXPECT_EQ(Sequencer::step_offset(j, odd, bpm100, 1000), ceil_ns(ideal))
                    << bpm100 << " " << j;
            }
        }
    }
}

TEST(Sequencer, StepMasksFollowPatternsAndMutes) {
    Sequencer seq;
    ASSERT_TRUE(seq.set_step(0, 0, 0, true));
    ASSERT_TRUE(seq.set_step(0, outputs - 1, 0, true));
    ASSERT_TRUE(seq.set_accent(0, 0, 0, true));
    ASSERT_TRUE(seq.set_step(0, 0, 3, true));
    ASSERT_TRUE(seq.set_mute(outputs - 1, outputs > 1));
    // Steps emitted up to the lookahead (5 ms) past each tick: stop 10 ms short of the end.
    ASSERT_TRUE(seq.play(0));
    const auto steps = run(seq, 0, 16 * 125 * ms - 10 * ms, ms);
    ASSERT_EQ(steps.size(), 16U);
    EXPECT_EQ(steps[0].mask, 1U); // the last track is muted (when there are two)
    EXPECT_EQ(steps[0].accent, 1U);
    EXPECT_EQ(steps[3].mask, 1U);
    EXPECT_EQ(steps[3].accent, 0U);
    EXPECT_EQ(steps[1].mask, 0U);
    EXPECT_FALSE(seq.set_step(64, 0, 0, true));
    EXPECT_FALSE(seq.set_step(0, outputs, 0, true));
    EXPECT_FALSE(seq.set_step(0, 0, 16, true));
}

std::vector<int> instances(const std::vector<StepEvent>& steps) {
    std::vector<int> out;
    for (const StepEvent& e : steps) {
        if (e.step == 0) {
            out.push_back(e.pattern * 1000 + e.slot);
        }
    }
    return out;
}

TEST(Sequencer, SongChainAdvancesWithRepeatsAndLoops) {
    Sequencer seq;
    ASSERT_TRUE(seq.set_chain_slot(0, 1, 2));
    ASSERT_TRUE(seq.set_chain_slot(1, 3, 1));
    ASSERT_TRUE(seq.set_chain_slot(2, 0, 3));
    EXPECT_FALSE(seq.set_chain_slot(4, 0, 1)); // beyond the end
    EXPECT_FALSE(seq.set_chain_slot(3, 0, 0)); // repeats 1..64
    EXPECT_FALSE(seq.set_chain_slot(3, 64, 1));
    seq.set_song_mode(true);
    ASSERT_TRUE(seq.play(0));
    const auto steps = run(seq, 0, 8 * 16 * 125 * ms - 10 * ms, ms); // 8 instances at 120 BPM
    EXPECT_EQ(instances(steps), (std::vector<int>{1000, 1000, 3001, 2, 2, 2, 1000, 1000}));
    EXPECT_TRUE(seq.playing());
}

TEST(Sequencer, SongChainStopsAtTheEndWithoutLoop) {
    Sequencer seq;
    ASSERT_TRUE(seq.set_chain_slot(0, 5, 1));
    ASSERT_TRUE(seq.insert_chain_slot(0, 4, 2));
    seq.set_song_mode(true);
    seq.set_song_loop(false);
    ASSERT_TRUE(seq.play(0));
    const auto steps = run(seq, 0, 10 * 16 * 125 * ms, ms);
    EXPECT_EQ(instances(steps), (std::vector<int>{4000, 4000, 5001}));
    EXPECT_EQ(steps.size(), 48U);
    EXPECT_FALSE(seq.playing());
}

TEST(Sequencer, SongModeSwitchedOnWhilePlayingStartsTheChainAtTheNextInstance) {
    Sequencer seq;
    ASSERT_TRUE(seq.set_chain_slot(0, 6, 2));
    ASSERT_TRUE(seq.set_chain_slot(1, 8, 1));
    ASSERT_TRUE(seq.select_pattern(2));
    ASSERT_TRUE(seq.play(0));
    std::vector<StepEvent> steps = run(seq, 0, 700 * ms, ms);
    seq.set_song_mode(true);
    const auto more = run(seq, 700 * ms, 5 * 16 * 125 * ms - 10 * ms, ms);
    steps.insert(steps.end(), more.begin(), more.end());
    EXPECT_EQ(instances(steps), (std::vector<int>{2000, 6000, 6000, 8001, 6000}));
}

TEST(Sequencer, SongModeWithAnEmptyChainDoesNotStart) {
    Sequencer seq;
    seq.set_song_mode(true);
    EXPECT_FALSE(seq.play(0));
    EXPECT_FALSE(seq.playing());
}

TEST(Sequencer, PatternSelectSwitchesAtTheInstanceEnd) {
    Sequencer seq;
    ASSERT_TRUE(seq.play(0));
    std::vector<StepEvent> steps = run(seq, 0, 500 * ms, ms);
    ASSERT_TRUE(seq.select_pattern(9));
    const auto more = run(seq, 500 * ms, 3 * 16 * 125 * ms - 10 * ms, ms);
    steps.insert(steps.end(), more.begin(), more.end());
    EXPECT_EQ(instances(steps), (std::vector<int>{0, 9000, 9000}));
}

void random_edit(Sequencer& seq, std::mt19937_64& rng) {
    const auto r = [&](unsigned n) { return static_cast<unsigned>(rng() % n); };
    switch (r(10)) {
    case 0:
    case 1:
    case 2: {
        const unsigned pattern = r(4);
        const unsigned track = r(outputs);
        seq.toggle_step(pattern, track, r(16));
    } break;
    case 3: {
        const unsigned pattern = r(4);
        const unsigned track = r(outputs);
        const unsigned step = r(16);
        seq.set_accent(pattern, track, step, r(2) == 0);
    } break;
    case 4: {
        const unsigned from = r(4);
        seq.copy_pattern(from, r(4));
    } break;
    case 5:
        seq.clear_pattern(r(4));
        break;
    case 6: {
        // Arguments drawn in a fixed order (evaluation order differs between compilers).
        const unsigned slot = r(seq.model().chain_length + 1U);
        const unsigned pattern = r(64);
        seq.insert_chain_slot(slot, pattern, 1 + r(64));
    } break;
    case 7:
        if (seq.model().chain_length > 0) {
            seq.remove_chain_slot(r(seq.model().chain_length));
        } else {
            seq.clear_chain();
        }
        break;
    case 8:
        if (r(2) == 0 && seq.model().chain_length > 0) {
            const unsigned slot = r(seq.model().chain_length);
            const lockstep::fw::ChainSlot c = seq.model().chain[slot];
            seq.set_chain_slot(slot, r(3) == 0 ? c.pattern : r(64), c.repeats);
        } else {
            seq.set_tempo(1000 + r(99001));
        }
        break;
    default:
        seq.set_swing(static_cast<std::uint16_t>(r(1001)));
        break;
    }
}

TEST(Sequencer, UndoAndRedoRestoreExactly) {
    Sequencer seq;
    std::mt19937_64 rng(11);
    std::vector<Model> history{seq.model()};
    unsigned depth = 0; // undo levels the sequencer should offer
    const auto edit = [&] {
        random_edit(seq, rng);
        if (seq.model() != history.back()) {
            history.push_back(seq.model());
            depth = std::min(depth + 1, lockstep::fw::undo_levels);
            EXPECT_EQ(seq.redo_depth(), 0U); // a new edit drops the redo history
        }
        ASSERT_EQ(seq.undo_depth(), depth);
    };
    for (int i = 0; i < 1000; ++i) {
        edit();
        if (i % 37 == 36) {
            // Undo a random number of levels, check each, redo some, then continue.
            const unsigned back = 1 + static_cast<unsigned>(rng() % 40);
            unsigned undone = 0;
            while (undone < back && seq.undo()) {
                ++undone;
                ASSERT_EQ(seq.model(), history[history.size() - 1 - undone]) << i;
            }
            EXPECT_EQ(undone, std::min(back, depth));
            const unsigned forward = static_cast<unsigned>(rng() % (undone + 1));
            for (unsigned k = 1; k <= forward; ++k) {
                ASSERT_TRUE(seq.redo());
                ASSERT_EQ(seq.model(), history[history.size() - 1 - undone + k]);
            }
            EXPECT_EQ(seq.redo() && seq.undo(), forward < undone);
            history.resize(history.size() - (undone - forward));
            depth -= undone - forward;
            ASSERT_EQ(seq.model(), history.back());
        }
    }
    // Enough edits to fill the history, then all the way back: exactly undo_levels levels.
    while (depth < lockstep::fw::undo_levels) {
        edit();
    }
    unsigned undone = 0;
    while (seq.undo()) {
        ++undone;
        ASSERT_EQ(seq.model(), history[history.size() - 1 - undone]);
    }
    EXPECT_EQ(undone, lockstep::fw::undo_levels);
    while (seq.redo()) {
    }
    EXPECT_EQ(seq.model(), history.back());
}

TEST(Sequencer, MutesAndSelectionAreNotUndone) {
    Sequencer seq;
    ASSERT_TRUE(seq.set_step(0, 0, 0, true));
    ASSERT_TRUE(seq.set_mute(0, true));
    ASSERT_TRUE(seq.select_pattern(3));
    ASSERT_TRUE(seq.undo());
    EXPECT_EQ(seq.model().patterns[0].on[0], 0U);
    EXPECT_EQ(seq.model().mutes, 1U);
    EXPECT_EQ(seq.model().selected, 3U);
    EXPECT_FALSE(seq.undo());
}

TEST(Sequencer, FollowsTheHostAndContinuesInPhaseWhenItGoesAway) {
    Sequencer seq;
    ASSERT_TRUE(seq.set_tempo(12000)); // 125 ms steps
    ASSERT_TRUE(seq.set_swing(500));
    ASSERT_TRUE(seq.play(0));
    seq.host_connected();
    EXPECT_FALSE(seq.play(0));
    // Own clock silent while the host leads.
    EXPECT_TRUE(run(seq, 0, 2'000 * ms, ms).empty());
    seq.host_transport(true);
    const DeviceTime host_at = 10'000 * ms + 17;
    seq.set_host_step(7, 5, 3, host_at);
    auto pos = seq.position();
    EXPECT_TRUE(pos.host);
    EXPECT_TRUE(pos.playing);
    EXPECT_EQ(pos.pattern, 7U);
    EXPECT_EQ(pos.step, 5U);
    EXPECT_EQ(pos.mask, 3U & ((1U << outputs) - 1U));
    // Host lost 1.3 s later: the next step of the host's grid after that moment.
    const DeviceTime lost = host_at + 1'300 * ms;
    seq.host_lost(lost);
    EXPECT_TRUE(seq.playing());
    const auto steps = run(seq, lost, lost + 500 * ms, ms);
    ASSERT_FALSE(steps.empty());
    // 1.3 s = 10.4 steps: step 11 after the host's (5 + 11 = 16 -> step 0 of the next instance).
    EXPECT_EQ(steps[0].step, 0U);
    EXPECT_EQ(steps[0].pattern, 7U);
    EXPECT_EQ(steps[0].at, host_at + 11 * 125 * ms);
    EXPECT_EQ(steps[1].at, host_at + 12 * 125 * ms + 125 * ms / 4); // odd: swing 500
    EXPECT_FALSE(seq.model().song_mode);
    EXPECT_EQ(seq.model().selected, 7U);
}

TEST(Sequencer, HostStoppedThenLostStaysStopped) {
    Sequencer seq;
    seq.host_connected();
    seq.host_transport(true);
    seq.set_host_step(1, 2, 1, 1000 * ms);
    seq.host_transport(false);
    seq.host_lost(2000 * ms);
    EXPECT_FALSE(seq.playing());
    EXPECT_TRUE(run(seq, 2000 * ms, 3000 * ms, ms).empty());
    EXPECT_TRUE(seq.play(3000 * ms));
}

} // namespace
