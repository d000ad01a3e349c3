#include "reference.hpp"
#include "time/clock_map.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>

namespace lockstep {
namespace {

constexpr std::uint64_t ntp_unix_offset = 2'208'988'800;
constexpr Frame two32 = Frame{1} << 32;

std::uint64_t timetag(std::uint64_t unix_seconds, std::uint32_t frac) {
    return ((unix_seconds + ntp_unix_offset) << 32) | frac;
}

// ---- frame_at_jack_time ---------------------------------------------------------------

// 256 frames over 5333 us: frames are 20.83 us apart and never land on whole microseconds.
constexpr CycleTiming uneven{1000, 1'000'000, 1'005'333, 256, 48000};

TEST(FrameAtJackTime, CycleBoundaries) {
    EXPECT_EQ(frame_at_jack_time(uneven, 1'000'000), 1000); // cycle start: its first frame
    EXPECT_EQ(frame_at_jack_time(uneven, 1'005'333), 1256); // next cycle start: its first frame
    EXPECT_EQ(frame_at_jack_time(uneven, 1'000'001), 1001); // just after a frame: the next one
    EXPECT_EQ(frame_at_jack_time(uneven, 1'000'020), 1001); // 256*20/5333 = 0.96
    EXPECT_EQ(frame_at_jack_time(uneven, 1'000'021), 1002); // 256*21/5333 = 1.008
    EXPECT_EQ(frame_at_jack_time(uneven, 1'005'332), 1256); // 255.95
}

TEST(FrameAtJackTime, ExtrapolatesBothWays) {
    EXPECT_EQ(frame_at_jack_time(uneven, 1'005'334), 1257);
    EXPECT_EQ(frame_at_jack_time(uneven, 1'000'000 + 2 * 5333), 1512);
    EXPECT_EQ(frame_at_jack_time(uneven, 999'999), 1000); // frame 999 is 20.8 us earlier
    EXPECT_EQ(frame_at_jack_time(uneven, 1'000'000 - 21), 999);
    EXPECT_EQ(frame_at_jack_time(uneven, 0), -47003); // ceil(-10^6 * 256 / 5333) = -48003
}

TEST(FrameAtJackTime, ExactGridAcrossThe32BitWrap) {
    // 250 frames per 5000 us: a frame every 20 us exactly; frames cross 2^32.
    const CycleTiming c{two32 - 10, 7'000'000, 7'005'000, 250, 50000};
    EXPECT_EQ(frame_at_jack_time(c, 7'000'040), two32 - 8); // exactly on frame +2
    EXPECT_EQ(frame_at_jack_time(c, 7'000'041), two32 - 7);
    EXPECT_EQ(frame_at_jack_time(c, 7'000'200), two32);
    EXPECT_EQ(frame_at_jack_time(c, 7'015'000), two32 - 10 + 750);
}

TEST(FrameAtJackTime, MatchesExactReferenceOnRandomCycles) {
    std::mt19937_64 rng(5);
    for (int i = 0; i < 20000; ++i) {
        CycleTiming c;
        c.frame = static_cast<Frame>(rng() % (Frame{1} << 40));
        c.usecs = 2'000'000 + rng() % (std::uint64_t{1} << 45);
        c.nframes = 16U << (rng() % 10);
        c.next_usecs = c.usecs + 1 + rng() % 200'000;
        c.rate = 48000;
        const std::uint64_t t = c.usecs - 1'000'000 + rng() % 3'000'000;
        const test::cpp_rational exact =
            test::cpp_rational(c.frame) +
            test::cpp_rational(test::cpp_int(static_cast<std::int64_t>(t - c.usecs)) * c.nframes,
                               test::cpp_int(c.next_usecs - c.usecs));
        ASSERT_EQ(test::cpp_int(frame_at_jack_time(c, t)), test::ceil_q(exact));
    }
}

TEST(FrameAtJackTime, DegenerateCycleFallsBackToTheRate) {
    const CycleTiming c{500, 2'000'000, 2'000'000, 256, 48000};
    EXPECT_EQ(frame_at_jack_time(c, 2'001'000), 548); // 48 frames per ms
    EXPECT_EQ(frame_at_jack_time(c, 2'000'001), 501); // 0.048 -> 1
    EXPECT_EQ(frame_at_jack_time(c, 1'999'999), 500); // -0.048 -> 0
    const CycleTiming none{500, 2'000'000, 2'000'000, 0, 0};
    EXPECT_EQ(frame_at_jack_time(none, 9'999'999), 500);
}

TEST(FrameAtJackTime, Saturates) {
    const CycleTiming c{std::numeric_limits<Frame>::max() - 10, 1'000, 2'000, 48, 48000};
    EXPECT_EQ(frame_at_jack_time(c, std::numeric_limits<std::uint64_t>::max()),
              std::numeric_limits<Frame>::max());
    const CycleTiming low{std::numeric_limits<Frame>::min() + 10, 1'000'000'000, 1'000'001'000, 48,
                          48000};
    EXPECT_EQ(frame_at_jack_time(low, 0), std::numeric_limits<Frame>::min());
}

// ---- timetags ---------------------------------------------------------------------------

TEST(Timetag, ImmediateIsRecognisedAndDue) {
    EXPECT_TRUE(is_immediate(1));
    EXPECT_FALSE(is_immediate(0));
    EXPECT_FALSE(is_immediate(timetag(1'700'000'000, 1)));
    const ClockPair pair{1'700'000'000'000'000'000, 5'000'000};
    EXPECT_EQ(jack_usecs_at_timetag(timetag_immediate, pair), 0U);
    EXPECT_EQ(frame_at_timetag(uneven, pair, timetag_immediate), std::numeric_limits<Frame>::min());
}

TEST(Timetag, NtpToUnixKnownValues) {
    EXPECT_EQ(unix_ns_from_timetag(timetag(0, 0)), 0);
    EXPECT_EQ(unix_ns_from_timetag(timetag(1, 0x8000'0000U)), 1'500'000'000);
    EXPECT_EQ(unix_ns_from_timetag(timetag(0, 1)), 0); // 0.23 ns
    EXPECT_EQ(unix_ns_from_timetag(timetag(0, 2)), 0); // 0.47 ns
    EXPECT_EQ(unix_ns_from_timetag(timetag(0, 3)), 1); // 0.70 ns
    // Era rule: seconds with the top bit clear are 2036..2104.
    EXPECT_EQ(unix_ns_from_timetag(0), std::int64_t{2'085'978'496} * 1'000'000'000);
    EXPECT_EQ(unix_ns_from_timetag(std::uint64_t{0x8000'0000U} << 32),
              std::int64_t{-61'505'152} * 1'000'000'000);
    EXPECT_EQ(timetag_from_unix_ns(0), timetag(0, 0));
    EXPECT_EQ(timetag_from_unix_ns(1'500'000'000), timetag(1, 0x8000'0000U));
    // Outside 1968..2104: clamped to the ends of the range.
    EXPECT_EQ(timetag_from_unix_ns(std::numeric_limits<std::int64_t>::min()),
              std::uint64_t{0x8000'0000U} << 32);
    EXPECT_EQ(timetag_from_unix_ns(std::numeric_limits<std::int64_t>::max()),
              (std::uint64_t{0x7fff'ffffU} << 32) | 0xffff'ffffU);
}

TEST(Timetag, UnixNsRoundTripsExactly) {
    std::mt19937_64 rng(11);
    const std::int64_t lo = std::int64_t{-61'505'152} * 1'000'000'000;
    const std::int64_t hi =
        std::int64_t{4'294'967'295 - 2'208'988'800 + 2'147'483'648} * 1'000'000'000;
    for (int i = 0; i < 100000; ++i) {
        const std::int64_t ns =
            lo + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(hi - lo));
        ASSERT_EQ(unix_ns_from_timetag(timetag_from_unix_ns(ns)), ns);
    }
}

TEST(Timetag, ToJackMicrosecondsRoundsUp) {
    const ClockPair pair{1'700'000'000'000'000'000, 5'000'000};
    const std::uint64_t quarter = timetag(1'700'000'000, 0x4000'0000U); // +0.25 s exactly
    EXPECT_EQ(jack_usecs_at_timetag(quarter, pair), 5'250'000U);
    EXPECT_EQ(jack_usecs_at_timetag(quarter + 1, pair), 5'250'001U); // +0.23 ns: next us
    EXPECT_EQ(jack_usecs_at_timetag(quarter - 1, pair), 5'250'000U);
    // Pair taken 123 ns after a whole second: 249999.877 us later -> 250000.
    const ClockPair off{1'700'000'000'000'000'123, 5'000'000};
    EXPECT_EQ(jack_usecs_at_timetag(quarter, off), 5'250'000U);
    // Before JACK's clock started: clamped to 0 (long due).
    EXPECT_EQ(jack_usecs_at_timetag(timetag(1'699'999'990, 0), pair), 0U);
}

TEST(Timetag, ToFrameRoundsOnceThroughTheCycle) {
    const ClockPair pair{1'700'000'000'000'000'000, 5'000'000};
    // 240 frames per 5000 us = a frame every 20.833 us.
    const CycleTiming c{10'000'000, 5'200'000, 5'205'000, 240, 48000};
    const std::uint64_t quarter = timetag(1'700'000'000, 0x4000'0000U); // jack 5'250'000
    EXPECT_EQ(frame_at_timetag(c, pair, quarter), 10'002'400);
    EXPECT_EQ(frame_at_timetag(c, pair, quarter + 1), 10'002'401);
    // jack time 5'200'020.4999 us: frame 1 starts at 20.833 us, so the answer is frame 1;
    // rounding to whole microseconds first (5'200'021) would give frame 2.
    const std::uint64_t t = timetag(1'700'000'000, 859'081'506U);
    EXPECT_EQ(frame_at_timetag(c, pair, t), 10'000'001);
    EXPECT_EQ(frame_at_jack_time(c, jack_usecs_at_timetag(t, pair)), 10'000'002);
    // A timetag in the past maps to a frame before the cycle (the caller treats it as due).
    EXPECT_LT(frame_at_timetag(c, pair, timetag(1'699'999'999, 0)), c.frame);
}

} // namespace
} // namespace lockstep
