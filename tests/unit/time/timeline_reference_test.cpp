// MUST-SHOW: the timeline reproduces an independent exact-rational reference
// (boost::multiprecision::cpp_rational, reference.hpp) with zero differences for
// random tempo maps over 24 hours at 44.1, 48, 96 and 192 kHz, including across the
// 32-bit frame wrap.
//
// For each rate and three seeds: a random tempo map (integer, quarter, two-decimal and odd
// rational BPMs such as 137.25 or 1000/7; 10 to 49 changes at random positions including
// triplet, quintuplet and 1/960 subdivisions) starting at an origin frame up to 6 h before
// 2^32, so every day crosses the 32-bit wrap (192 kHz crosses it four times). Every
// emitted frame must match exactly (no tolerance) in:
//  - ZeroDifferencesOver24Hours: every 16th and 16th triplet around every tempo change and
//    around every multiple of 2^32, 4000 random positions with musical denominators over
//    the day, every 16th of the last minute, exact ideal frames, the inverse mapping, and
//    FrameClock unwrapping the run's 32-bit cycle-start counter;
//  - Every16thNoteOf24Hours: every 16th note of the 24 hours, against a second, incremental
//    exact reference.
#include "reference.hpp"
#include "time/frame_clock.hpp"
#include "time/timeline.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace lockstep {
namespace {

using test::cpp_int;
using test::cpp_rational;
using test::to_q;

constexpr Frame two32 = Frame{1} << 32;
constexpr std::int64_t day_seconds = 24 * 3600;

// Musical denominators: straight, triplet, quintuplet, septuplet, swing and tick grids.
constexpr std::int64_t denominators[] = {1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32, 48, 96, 960, 100};

Bpm random_bpm(std::mt19937_64& rng) {
    switch (rng() % 5) {
    case 0:
        return Bpm(60 + static_cast<std::int64_t>(rng() % 141)); // integer
    case 1:
        return Bpm(240 + static_cast<std::int64_t>(rng() % 561), 4); // 137.25 etc.
    case 2:
        return Bpm(6000 + static_cast<std::int64_t>(rng() % 14001), 100); // two decimals
    case 3: {
        const std::int64_t d[] = {3, 7, 9, 11, 13};
        const std::int64_t den = d[rng() % 5];
        return Bpm(60 * den +
                       static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(140 * den)),
                   den); // 1000/7 etc.
    }
    default:
        return Bpm(1000, 7);
    }
}

Position random_offset(std::mt19937_64& rng, std::int64_t max_beats) {
    const std::int64_t den = denominators[rng() % std::size(denominators)];
    return Position(static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(max_beats * den)),
                    den);
}

struct RateSeed {
    std::uint32_t rate;
    std::uint64_t seed;
};

// One random day: the timeline under test and the reference, built side by side.
struct Day {
    Frame origin;
    Timeline t;
    test::ReferenceMap ref;
    std::vector<Position> changes;
    int refused = 0;

    Day(std::uint32_t rate, Frame origin_frame, Bpm first)
        : origin(origin_frame), t(rate, first, origin_frame), ref(rate, to_q(first), origin_frame) {
    }
};

Day make_day(std::uint32_t rate, std::mt19937_64& rng) {
    const Frame origin = two32 - static_cast<Frame>(rng() % (Frame{rate} * 6 * 3600));
    Day d(rate, origin, random_bpm(rng));
    // Tempo changes spread over the day (~180000 beats at the tempos drawn).
    Position at = 0;
    const int n_changes = 10 + static_cast<int>(rng() % 40);
    for (int c = 0; c < n_changes; ++c) {
        at = at + Position(1) + random_offset(rng, 180000 / n_changes);
        const Bpm bpm = random_bpm(rng);
        const Timeline::Status s = d.t.set_tempo_at(at, bpm);
        if (s == Timeline::Status::not_exact) {
            // Allowed only when the exact anchor truly exceeds the limit.
            EXPECT_GT(msb(denominator(d.ref.anchor_for(to_q(at)))) + 1,
                      static_cast<unsigned>(Timeline::max_anchor_bits));
            ++d.refused;
            continue;
        }
        EXPECT_EQ(s, Timeline::Status::ok);
        d.ref.set_tempo_at(to_q(at), to_q(bpm));
        d.changes.push_back(at);
    }
    return d;
}

class TimelineReference : public ::testing::TestWithParam<RateSeed> {};

TEST_P(TimelineReference, ZeroDifferencesOver24Hours) {
    const RateSeed run = GetParam();
    std::mt19937_64 rng(run.seed);
    Day day = make_day(run.rate, rng);
    const Timeline& t = day.t;
    const test::ReferenceMap& ref = day.ref;
    const Frame origin = day.origin;
    const std::vector<Position>& changes = day.changes;
    const int refused = day.refused;
    const cpp_rational day_end_frame(origin + Frame{run.rate} * day_seconds);
    EXPECT_LE(refused, 1) << "the generator should stay within the exactness budget";

    std::int64_t checked = 0;
    auto check = [&](Position p) {
        const cpp_rational q = to_q(p);
        ASSERT_EQ(cpp_int(t.emitted_frame(p)), ref.emitted(q)) << "position " << q;
        ++checked;
    };
    auto check_exact = [&](Position p) {
        ASSERT_EQ(to_q(t.ideal_frame(p)), ref.ideal(to_q(p))) << "position " << to_q(p);
    };

    // 1. Every 16th and 16th triplet within 4 beats of every change.
    for (const Position& c : changes) {
        const Position base(c.floor());
        for (std::int64_t i = -16; i <= 16; ++i) {
            check(base + Position(i, 4));
        }
        for (std::int64_t i = -24; i <= 24; ++i) {
            check(base + Position(i, 6));
        }
        check(c);
        check_exact(c);
    }

    // 2. Every 16th within 4 beats of each multiple of 2^32 that the day crosses.
    int wraps = 0;
    for (Frame w = two32; w < origin + Frame{run.rate} * day_seconds; w += two32) {
        if (w <= origin) {
            continue;
        }
        ++wraps;
        const ExactPosition pw = t.position_at_frame(w);
        ASSERT_EQ(to_q(pw), ref.position(cpp_rational(w)));
        const std::int64_t beat = static_cast<std::int64_t>(pw.to_double());
        for (std::int64_t i = -16; i <= 16; ++i) {
            check(Position(beat) + Position(i, 4));
        }
    }
    EXPECT_GE(wraps, 1);

    // 3. A dense random sample over the whole day (and a little before the origin).
    const cpp_rational day_end = ref.position(day_end_frame);
    const auto end_beats = static_cast<std::int64_t>(test::floor_q(day_end)) + 1;
    for (int i = 0; i < 4000; ++i) {
        const Position p = random_offset(rng, end_beats + 8) - Position(8);
        check(p);
        if (i % 10 == 0) {
            check_exact(p);
        }
    }

    // 4. Every 16th of the last minute of the day.
    const std::int64_t last_minute = end_beats - 250;
    for (std::int64_t i = 0; i < 250 * 4; ++i) {
        check(Position(last_minute) + Position(i, 4));
    }
    // The run really lasted 24 hours in frames.
    EXPECT_GE(cpp_int(t.emitted_frame(end_beats)), numerator(day_end_frame));

    // 5. The inverse, at random frames over the day.
    for (int i = 0; i < 300; ++i) {
        const Frame f =
            origin +
            static_cast<Frame>(rng() % static_cast<std::uint64_t>(Frame{run.rate} * day_seconds));
        ASSERT_EQ(to_q(t.position_at_frame(f)), ref.position(cpp_rational(f)));
    }

    // 6. FrameClock: JACK's 32-bit counter at every cycle start of a stretch around each
    // wrap (random buffer sizes), and one cycle per minute over the whole day.
    FrameClock clock;
    Frame cycle = origin;
    ASSERT_EQ(clock.update(static_cast<std::uint32_t>(cycle)), cycle);
    while (cycle < origin + Frame{run.rate} * day_seconds) {
        const Frame to_wrap = (cycle / two32 + 1) * two32 - cycle;
        const bool near_wrap = to_wrap <= 100'000 || two32 - to_wrap < 100'000;
        const Frame step = near_wrap ? (Frame{32} << (rng() % 8))
                                     : std::min(Frame{run.rate} * 60, to_wrap - 100'000 + 1);
        cycle += step;
        ASSERT_EQ(clock.update(static_cast<std::uint32_t>(cycle & 0xffff'ffff)), cycle);
    }
    EXPECT_GT(checked, 3000);
    int anchor_bits = 0;
    for (const Timeline::Segment& seg : t.segments()) {
        anchor_bits = std::max(anchor_bits, seg.anchor_den.bit_length());
    }
    std::printf("rate %u seed %llu: %zu segments, %d refused, largest anchor denominator %d "
                "bits, %lld positions checked, %d wraps\n",
                run.rate, static_cast<unsigned long long>(run.seed), t.segments().size(), refused,
                anchor_bits, static_cast<long long>(checked), wraps);
}

// Every 16th note of the day, against a second, incremental reference: within each
// reference segment the exact ideal frames of consecutive 16ths differ by exactly a 16th's
// frames, so they are accumulated as exact integers over a common denominator (no rounding
// anywhere) and re-derived from the segment's anchor at each tempo change.
class TimelineSweep : public ::testing::TestWithParam<RateSeed> {};

TEST_P(TimelineSweep, Every16thNoteOf24Hours) {
    const RateSeed run = GetParam();
    std::mt19937_64 rng(run.seed);
    const Day day = make_day(run.rate, rng);
    const auto& segs = day.ref.segments();
    const cpp_rational day_end_frame(day.origin + Frame{run.rate} * day_seconds);
    const std::int64_t n16 =
        (static_cast<std::int64_t>(test::floor_q(day.ref.position(day_end_frame))) + 1) * 4;

    std::size_t si = 0;
    std::int64_t next_k = 0; // the first 16th at or after the next segment's start
    cpp_int denom;
    cpp_int q;
    cpp_int r;
    cpp_int step_q;
    cpp_int step_r;
    for (std::int64_t k = 0; k <= n16; ++k) {
        if (k == 0 || k == next_k) {
            while (si + 1 < segs.size() && segs[si + 1].start <= cpp_rational(k, 4)) {
                ++si;
            }
            next_k = si + 1 < segs.size()
                         ? static_cast<std::int64_t>(test::ceil_q(segs[si + 1].start * 4))
                         : n16 + 1;
            const auto& seg = segs[si];
            const cpp_rational ideal =
                seg.anchor + (cpp_rational(k, 4) - seg.start) * 60 * run.rate / seg.bpm;
            const cpp_rational step = cpp_rational(60 * run.rate) / (seg.bpm * 4);
            denom = boost::multiprecision::lcm(denominator(ideal), denominator(step));
            const cpp_int n = numerator(ideal) * (denom / denominator(ideal));
            const cpp_int inc = numerator(step) * (denom / denominator(step));
            q = test::floor_q(ideal);
            r = n - q * denom;
            step_q = inc / denom;
            step_r = inc % denom;
        } else {
            q += step_q;
            r += step_r;
            if (r >= denom) {
                r -= denom;
                q += 1;
            }
        }
        const Frame got = day.t.emitted_frame(Position(k, 4));
        if (r == 0 ? q != got : q + 1 != got) {
            FAIL() << "16th " << k << ": timeline " << got << ", reference "
                   << (r == 0 ? q : cpp_int(q + 1));
        }
    }
    EXPECT_GT(n16, 24 * 60 * 60 * 4); // at least 60 BPM for 24 hours
}

std::vector<RateSeed> runs(std::uint64_t seeds) {
    std::vector<RateSeed> r;
    for (const std::uint32_t rate : {44100U, 48000U, 96000U, 192000U}) {
        for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
            r.push_back({rate, seed * 7919 + rate});
        }
    }
    return r;
}

std::string run_name(const ::testing::TestParamInfo<RateSeed>& param_info) {
    return std::to_string(param_info.param.rate) + "Hz_seed" +
           std::to_string(param_info.param.seed);
}

INSTANTIATE_TEST_SUITE_P(Rates, TimelineReference, ::testing::ValuesIn(runs(3)), run_name);
INSTANTIATE_TEST_SUITE_P(Rates, TimelineSweep, ::testing::ValuesIn(runs(3)), run_name);

} // namespace
} // namespace lockstep
