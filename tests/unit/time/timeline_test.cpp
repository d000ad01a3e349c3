// The exact timeline: known values, tempo-change rules, the inverse mapping, the
// exactness limit, and the no-drift property.
#include "reference.hpp"
#include "rt/alloc_check.hpp"
#include "time/timeline.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <stdexcept>

namespace lockstep {
namespace {

using test::cpp_int;
using test::cpp_rational;
using test::to_q;

constexpr Frame two32 = Frame{1} << 32;

TEST(Timeline, KnownValuesAt137Bpm) {
    const Timeline t(48000, 137);
    // One beat = 60 * 48000 / 137 = 21021 + 123/137 frames.
    const IdealFrame f = t.ideal_frame(1);
    EXPECT_EQ(f.floor(), 21021);
    EXPECT_EQ(f.emitted(), 21022);
    EXPECT_FALSE(f.on_frame());
    EXPECT_EQ(to_q(f), cpp_rational(2880000, 137));
    EXPECT_EQ(to_q(f) - f.floor(), cpp_rational(123, 137)); // fraction = ideal - floor
    EXPECT_EQ(cpp_rational(test::to_cpp_int(f.lead_num()), test::to_cpp_int(f.fraction_den())),
              cpp_rational(14, 137)); // lead = emitted - ideal
    EXPECT_NEAR(f.lead(), 14.0 / 137.0, 1e-12);
    EXPECT_NEAR(f.fraction(), 123.0 / 137.0, 1e-12);
    EXPECT_EQ(t.emitted_frame(0), 0);
    EXPECT_TRUE(t.ideal_frame(0).on_frame());
    EXPECT_EQ(t.emitted_frame(137), 2880000); // 137 beats = exactly one minute
    EXPECT_TRUE(t.ideal_frame(137).on_frame());
    // Before the origin the first tempo extends backwards: ceil(-21021.9) = -21021.
    EXPECT_EQ(t.emitted_frame(-1), -21021);
    EXPECT_EQ(t.ideal_frame(-1).floor(), -21022);
}

TEST(Timeline, OriginFrameAndNonIntegerTempos) {
    const Timeline t(48000, 120, 1000);
    EXPECT_EQ(t.emitted_frame(1), 25000);
    EXPECT_EQ(t.emitted_frame(Position(1, 3)), 1000 + 8000); // triplet 8th at 120
    const Timeline q(44100, Bpm(549, 4));                    // 137.25 BPM
    // A 16th note = 60 * 44100 / 137.25 / 4 = 661500/137.25/100... exactly 441000/ 915.
    EXPECT_EQ(to_q(q.ideal_frame(Position(1, 4))), cpp_rational(60 * 44100 * 4, 549 * 4));
    const Timeline s(96000, Bpm(1000, 7)); // 142.857... BPM
    EXPECT_EQ(to_q(s.ideal_frame(Position(5, 3))), cpp_rational(5 * 60 * 96000 * 7, 3 * 1000));
}

TEST(Timeline, RejectsBadConstruction) {
    EXPECT_THROW(Timeline(0, 120), std::invalid_argument);
    EXPECT_THROW(Timeline(Timeline::max_rate + 1, 120), std::invalid_argument);
    EXPECT_THROW(Timeline(48000, 0), std::invalid_argument);
    EXPECT_THROW(Timeline(48000, -120), std::invalid_argument);
    EXPECT_THROW(Timeline(48000, Bpm(std::int64_t{1} << 32, 3)), std::invalid_argument);
    EXPECT_NO_THROW(Timeline(Timeline::max_rate, Bpm((std::int64_t{1} << 32) - 1, 65537)));
}

TEST(Timeline, TempoChangesAreNeverRetroactive) {
    Timeline t(48000, 120);
    std::vector<Frame> before;
    for (int i = 0; i <= 64; ++i) {
        before.push_back(t.emitted_frame(Position(i, 4)));
    }
    ASSERT_EQ(t.set_tempo_at(16, 137), Timeline::Status::ok);
    for (int i = 0; i <= 64; ++i) {
        EXPECT_EQ(t.emitted_frame(Position(i, 4)), before[static_cast<std::size_t>(i)]);
    }
    // After the change: anchor 16 beats at 120 = 384000 frames, then 137 BPM.
    EXPECT_EQ(to_q(t.ideal_frame(17)), cpp_rational(384000) + cpp_rational(2880000, 137));
    EXPECT_EQ(t.tempo_at(15), Bpm(120));
    EXPECT_EQ(t.tempo_at(16), Bpm(137));
    EXPECT_EQ(t.segments().size(), 2U);

    // Earlier than the last change: refused, map unchanged.
    EXPECT_EQ(t.set_tempo_at(Position(31, 2), 90), Timeline::Status::before_last_change);
    EXPECT_EQ(t.segments().size(), 2U);
    EXPECT_EQ(t.tempo_at(100), Bpm(137));
    // At the last change's position: replaces that tempo.
    EXPECT_EQ(t.set_tempo_at(16, 140), Timeline::Status::ok);
    EXPECT_EQ(t.segments().size(), 2U);
    EXPECT_EQ(t.emitted_frame(17), 384000 + 60 * 48000 / 140 + 1); // 20571.43 -> ceil
    // The tempo already in force: nothing to add.
    EXPECT_EQ(t.set_tempo_at(20, 140), Timeline::Status::ok);
    EXPECT_EQ(t.segments().size(), 2U);
    // Bad tempos.
    EXPECT_EQ(t.set_tempo_at(32, 0), Timeline::Status::bad_tempo);
    EXPECT_EQ(t.set_tempo_at(32, Bpm(1, std::int64_t{1} << 33)), Timeline::Status::bad_tempo);
    EXPECT_STRNE(Timeline::describe(Timeline::Status::not_exact), "");
}

TEST(Timeline, ForgetBeforeKeepsLaterFramesAndBoundsTheMap) {
    Timeline t(48000, 120);
    for (int i = 1; i <= 50; ++i) {
        ASSERT_EQ(t.set_tempo_at(Position(i * 8, 3), Bpm(100 + i % 7, 1 + i % 2)),
                  Timeline::Status::ok);
    }
    std::vector<Frame> later;
    for (int i = 0; i < 200; ++i) {
        later.push_back(t.emitted_frame(Position(100 * 3 + i, 3)));
    }
    const std::size_t n = t.segments().size();
    t.forget_before(100);
    EXPECT_LT(t.segments().size(), n);
    EXPECT_LE(t.segments().front().start, Position(100));
    for (int i = 0; i < 200; ++i) {
        EXPECT_EQ(t.emitted_frame(Position(100 * 3 + i, 3)), later[static_cast<std::size_t>(i)]);
    }
}

TEST(Timeline, PositionAtFrameIsTheExactInverse) {
    const Timeline t(48000, 120, 1000);
    EXPECT_EQ(t.position_at_frame(25000), Position(1));
    EXPECT_EQ(t.position_at_frame(1000), Position(0));
    EXPECT_EQ(t.position_at_frame(-23000), Position(-1));
    const Timeline u(48000, 137);
    // Frame 21022 is 14/137 frame after beat 1: position 21022 * 137 / 2880000.
    EXPECT_EQ(u.position_at_frame(21022), Position(21022 * 137, 2880000));
    EXPECT_GT(u.position_at_frame(21022).compare(1), 0);
    EXPECT_LT(u.position_at_frame(21021).compare(1), 0);
}

// Random maps (seeded), with the inverse and the grid search checked against the reference.
TEST(Timeline, InverseAndGridSearchMatchTheReference) {
    std::mt19937_64 rng(1234);
    for (int map = 0; map < 20; ++map) {
        const std::uint32_t rate = (map % 2 == 0) ? 48000 : 44100;
        const Frame origin = two32 - static_cast<Frame>(rng() % 1'000'000);
        Timeline t(rate, Bpm(120 + static_cast<std::int64_t>(rng() % 40), 1), origin);
        test::ReferenceMap ref(rate, to_q(t.segments()[0].bpm), origin);
        Position at = 0;
        for (int c = 0; c < 6; ++c) {
            at = at + Position(1 + static_cast<std::int64_t>(rng() % 97),
                               1 + static_cast<std::int64_t>(rng() % 6));
            const Bpm bpm(600 + static_cast<std::int64_t>(rng() % 1400),
                          1 + static_cast<std::int64_t>(rng() % 9));
            ASSERT_EQ(t.set_tempo_at(at, bpm), Timeline::Status::ok);
            ref.set_tempo_at(to_q(at), to_q(bpm));
        }
        for (int k = 0; k < 300; ++k) {
            const Frame f = origin - 10000 + static_cast<Frame>(rng() % 40'000'000);
            const ExactPosition p = t.position_at_frame(f);
            ASSERT_EQ(to_q(p), ref.position(cpp_rational(f))) << "frame " << f;
            // The grid search: the first 16th-triplet step whose emitted frame is >= f.
            const Position start(static_cast<std::int64_t>(rng() % 16), 3);
            const Position step(1, 6);
            const std::int64_t n = t.first_step_at_or_after(f, start, step);
            ASSERT_GE(t.emitted_frame(start + step * Position(n)), f);
            ASSERT_LT(t.emitted_frame(start + step * Position(n - 1)), f);
        }
    }
}

// Positions with huge denominators (beyond any musical grid) push every product past 64 and
// 128 bits: the wide arithmetic must agree with the reference too.
TEST(Timeline, HugeDenominatorsUseWideArithmeticExactly) {
    std::mt19937_64 rng(4242);
    for (int map = 0; map < 10; ++map) {
        const Frame origin = two32 - static_cast<Frame>(rng() % 100000);
        Timeline t(192000, Bpm(1000, 7), origin);
        test::ReferenceMap ref(192000, cpp_rational(1000, 7), origin);
        Position at = 0;
        for (int c = 0; c < 8; ++c) {
            const std::int64_t den =
                (std::int64_t{1} << 30) + static_cast<std::int64_t>(rng() % 1000000);
            const auto next = checked_add(
                at, Position(static_cast<std::int64_t>(rng() % (std::uint64_t{50} << 30)), den));
            if (!next) {
                continue; // denominators multiply: stay within 64-bit positions
            }
            at = *next;
            const Bpm bpm(static_cast<std::int64_t>(rng() % 4000000000U) + 1000000,
                          1 + static_cast<std::int64_t>(rng() % 30000));
            const Timeline::Status s = t.set_tempo_at(at, bpm);
            if (s != Timeline::Status::ok) {
                ASSERT_EQ(s, Timeline::Status::not_exact);
                ASSERT_GT(msb(denominator(ref.anchor_for(to_q(at)))) + 1, 512U);
                continue;
            }
            ref.set_tempo_at(to_q(at), to_q(bpm));
        }
        for (int i = 0; i < 300; ++i) {
            const std::int64_t den =
                (std::int64_t{1} << 40) + static_cast<std::int64_t>(rng() % 1000000);
            const Position p(static_cast<std::int64_t>(rng() % (std::uint64_t{400} << 40)) -
                                 (std::int64_t{10} << 40),
                             den);
            ASSERT_EQ(cpp_int(t.emitted_frame(p)), ref.emitted(to_q(p))) << to_q(p);
            ASSERT_EQ(to_q(t.ideal_frame(p)), ref.ideal(to_q(p)));
            const Frame f = t.emitted_frame(p) + static_cast<Frame>(rng() % 1000) - 500;
            ASSERT_EQ(to_q(t.position_at_frame(f)), ref.position(cpp_rational(f)));
        }
    }
}

// emitted_frame's 64-bit filter: whenever it decides, the decision matches exact arithmetic,
// above all for fraction sums within a hair of a whole frame.
TEST(Timeline, FastFilterNeverDecidesWrongly) {
    std::mt19937_64 rng(77);
    int decided_near_one = 0;
    int undecided = 0;
    for (int i = 0; i < 30000; ++i) {
        // a = r / D with D of 65..500 bits.
        const unsigned bits = 65 + static_cast<unsigned>(rng() % 436);
        cpp_int d = (cpp_int(1) << (bits - 1)) | cpp_int(rng());
        const cpp_int r = (cpp_int(rng()) << (bits - 64)) % d + 1;
        const auto a64 = static_cast<std::uint64_t>((r << 64) / d);
        const std::uint64_t y = 1 + rng() % ((i % 3 == 0) ? 1000 : ~std::uint64_t{0} - 1);
        // rem around Y * (1 - a), where the sum is closest to 1.
        const cpp_int centre = (cpp_int(y) * (d - r)) / d;
        const cpp_int rem_q = centre + static_cast<int>(rng() % 5) - 2;
        if (rem_q < 0 || rem_q >= y) {
            continue;
        }
        const auto rem = static_cast<std::uint64_t>(rem_q);
        const int got = detail::fraction_sum_carry(a64, rem, y);
        const cpp_rational sum = cpp_rational(r, d) + cpp_rational(cpp_int(rem), cpp_int(y));
        if (got < 0) {
            ++undecided;
            continue;
        }
        ASSERT_NE(sum, cpp_rational(1));
        ASSERT_EQ(got, sum > 1 ? 1 : 0) << "a=" << r << "/" << d << " rem=" << rem << " y=" << y;
        ++decided_near_one;
    }
    EXPECT_GT(decided_near_one, 15000);
    // The two ambiguous 64-bit sums are left to exact arithmetic.
    const std::uint64_t half = std::uint64_t{1} << 63;
    EXPECT_EQ(detail::fraction_sum_carry(half, 1, 2), -1);     // 2^63 + 2^63 = 2^64
    EXPECT_EQ(detail::fraction_sum_carry(half - 1, 1, 2), -1); // 2^64 - 1
    EXPECT_EQ(detail::fraction_sum_carry(half - 2, 1, 2), 0);
    EXPECT_EQ(detail::fraction_sum_carry(half + 1, 1, 2), 1);
    std::printf("filter: %d decided near 1, %d left to exact maths\n", decided_near_one, undecided);
}

// The klick complaint: adding a rounded beat interval every beat drifts (here by ~17 ms
// per hour at 48 kHz). Beat N's frame must be ceil(N * 60 * rate / 137) exactly for every
// beat of an hour, also when the hour crosses the 32-bit wrap.
TEST(Timeline, NoDriftAt137BpmOverAnHour) {
    for (const std::uint32_t rate : {44100U, 48000U}) {
        const Frame origin = two32 - Frame{rate} * 1800; // wraps half-way through
        const Timeline t(rate, 137, origin);
        const std::int64_t beats_per_hour = 137 * 60;
        const std::int64_t per_beat_num = std::int64_t{60} * rate;
        Frame naive = origin;
        const Frame rounded_interval = (per_beat_num + 68) / 137; // klick-style per-beat rounding
        for (std::int64_t n = 0; n <= beats_per_hour; ++n) {
            const Frame exact_ceil = origin + (n * per_beat_num + 136) / 137;
            ASSERT_EQ(t.emitted_frame(n), exact_ceil) << "beat " << n << " at " << rate;
            if (n < beats_per_hour) {
                naive += rounded_interval;
            }
        }
        // After one hour: exactly one hour of frames (137 BPM * 60 min is a whole number).
        EXPECT_EQ(t.emitted_frame(beats_per_hour), origin + Frame{rate} * 3600);
        // ...while the accumulated rounded interval is hundreds of frames off.
        EXPECT_GT(naive - (origin + Frame{rate} * 3600), 800);
    }
}

// The exactness limit: tempos with large prime numerators make every anchor denominator
// grow by ~32 bits. Eventually a change is refused (never rounded), the map is unchanged,
// and the reference confirms that the refused anchor really needs more than 512 bits.
TEST(Timeline, RefusesChangesBeyondTheExactnessLimit) {
    const std::int64_t primes[] = {4294967291, 4294967279, 4294967231, 4294967197, 4294967189,
                                   4294967161, 4294967143, 4294967111, 4294967087, 4294967029,
                                   4294966997, 4294966981, 4294966943, 4294966927, 4294966909,
                                   4294966877, 4294966829, 4294966813, 4294966769, 4294966667,
                                   4294966661, 4294966657, 4294966651, 4294966639, 4294966619};
    Timeline t(48000, 120);
    test::ReferenceMap ref(48000, 120, 0);
    int accepted = 0;
    bool refused = false;
    std::int64_t k = 0;
    for (const std::int64_t p : primes) {
        ++k;
        const Bpm bpm(p, 30000000); // ~143 BPM, numerator prime
        const std::size_t before = t.segments().size();
        const Frame probe = t.emitted_frame(Position(k * 7 + 3, 2));
        const cpp_rational anchor = ref.anchor_for(k);
        const cpp_int den = denominator(anchor);
        const Timeline::Status s = t.set_tempo_at(k, bpm);
        if (s == Timeline::Status::ok) {
            ++accepted;
            EXPECT_LE(msb(den) + 1, static_cast<unsigned>(Timeline::max_anchor_bits));
            ref.set_tempo_at(k, to_q(bpm));
            EXPECT_EQ(to_q(t.ideal_frame(Position(k * 7 + 3, 2))),
                      ref.ideal(cpp_rational(k * 7 + 3, 2)));
        } else {
            ASSERT_EQ(s, Timeline::Status::not_exact);
            EXPECT_GT(msb(den) + 1, static_cast<unsigned>(Timeline::max_anchor_bits));
            EXPECT_EQ(t.segments().size(), before);
            EXPECT_EQ(t.emitted_frame(Position(k * 7 + 3, 2)), probe);
            refused = true;
            break;
        }
    }
    EXPECT_TRUE(refused);
    // 16 primes < 2^32 multiply to < 2^512: the 17 first changes fit, the 18th does not.
    EXPECT_EQ(accepted, 17);
    // Queries with the largest anchors stay exact.
    for (std::int64_t i = 0; i < 200; ++i) {
        const Position p(i * 1001 + 7, 12);
        ASSERT_EQ(to_q(t.ideal_frame(p)), ref.ideal(to_q(p)));
    }
    // Going on after a refusal is an explicit choice: re-anchor on the emitted frame.
    const Position at = k;
    const Timeline r = t.rebased_at(at);
    EXPECT_EQ(r.emitted_frame(at), t.emitted_frame(at));
    Timeline r2 = r;
    EXPECT_EQ(r2.set_tempo_at(at + 1, 120), Timeline::Status::ok);
}

// The audio thread's tempo changes: within reserved room they never allocate, match the
// control-thread calls exactly, and refuse (unchanged) when the room is used up.
TEST(Timeline, RealtimeChangesUseReservedRoomOnly) {
    Timeline control(48000, Bpm(1373, 10), 1000);
    Timeline rt = control;
    rt.reserve(3);
    Timeline::Status st = Timeline::Status::ok;
    LOCKSTEP_EXPECT_NO_ALLOC(st = rt.set_tempo_at_rt(Position(8), Bpm(140)));
    EXPECT_EQ(st, Timeline::Status::ok);
    LOCKSTEP_EXPECT_NO_ALLOC(st = rt.set_tempo_at_rt(Position(33, 2), Bpm(2599, 20)));
    EXPECT_EQ(st, Timeline::Status::ok);
    ASSERT_EQ(control.set_tempo_at(Position(8), Bpm(140)), Timeline::Status::ok);
    ASSERT_EQ(control.set_tempo_at(Position(33, 2), Bpm(2599, 20)), Timeline::Status::ok);
    for (std::int64_t n = 0; n < 200; ++n) {
        const Position p(n, 3);
        EXPECT_EQ(rt.emitted_frame(p), control.emitted_frame(p)) << n;
    }
    // Full: refused, and the map is as it was.
    const Frame before = rt.emitted_frame(Position(40));
    EXPECT_EQ(rt.set_tempo_at_rt(Position(20), Bpm(90)), Timeline::Status::full);
    EXPECT_EQ(rt.segments().size(), 3U);
    EXPECT_EQ(rt.emitted_frame(Position(40)), before);
    // Forgetting frees room without allocating; frames after the cut stay.
    LOCKSTEP_EXPECT_NO_ALLOC(rt.forget_before_rt(Position(17)));
    EXPECT_EQ(rt.segments().size(), 1U);
    EXPECT_EQ(rt.emitted_frame(Position(40)), before);
    EXPECT_EQ(rt.set_tempo_at_rt(Position(20), Bpm(90)), Timeline::Status::ok);
    // Rebasing in place equals rebased_at().
    const Timeline expected = rt.rebased_at(Position(61, 3));
    LOCKSTEP_EXPECT_NO_ALLOC(rt.rebase_at_rt(Position(61, 3)));
    ASSERT_EQ(rt.segments().size(), 1U);
    for (std::int64_t n = 61; n < 400; ++n) {
        const Position p(n, 3);
        EXPECT_EQ(rt.emitted_frame(p), expected.emitted_frame(p)) << n;
    }
}

} // namespace
} // namespace lockstep
