#include "time/frame_clock.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>

namespace lockstep {
namespace {

constexpr Frame two32 = Frame{1} << 32;

TEST(FrameClock, FirstReadingMapsToItself) {
    FrameClock c;
    EXPECT_FALSE(c.started());
    EXPECT_EQ(c.update(123456), 123456);
    EXPECT_TRUE(c.started());
    EXPECT_EQ(c.now(), 123456);
    EXPECT_EQ(c.now_any_thread(), 123456);
}

TEST(FrameClock, UnwrapsAcrossTheWrapWithRandomPeriods) {
    // JACK's counter runs from just below 2^32 through several wraps; the 64-bit clock
    // must equal the true frame count at every cycle.
    std::mt19937_64 rng(42);
    FrameClock c;
    const Frame start = two32 - 5000;
    Frame truth = start;
    EXPECT_EQ(c.update(static_cast<std::uint32_t>(truth)), truth);
    int wraps = 0;
    while (truth < 3 * two32 + 10000) {
        // Buffer sizes 16..8192, and now and then a huge jump (freewheel bursts, long
        // xruns) of up to 2^31 - 1 frames.
        const Frame step = (rng() % 64 == 0) ? static_cast<Frame>(rng() % (two32 / 2))
                                             : (Frame{16} << (rng() % 10));
        const Frame before = truth;
        truth += step;
        if ((before / two32) != (truth / two32)) {
            ++wraps;
        }
        ASSERT_EQ(c.update(static_cast<std::uint32_t>(truth)), truth);
    }
    EXPECT_EQ(wraps, 3);
    EXPECT_EQ(c.unannounced_restarts(), 0U);
}

TEST(FrameClock, UnwrapsEveryCycleOfARealisticRun) {
    // 256-frame cycles from 2^32 - 100 * 256 for 200 cycles: crosses the wrap once.
    FrameClock c;
    Frame truth = two32 - 100 * 256 + 17;
    for (int i = 0; i < 200; ++i, truth += 256) {
        ASSERT_EQ(c.update(static_cast<std::uint32_t>(truth)), truth) << "cycle " << i;
    }
}

TEST(FrameClock, RebaseContinuesAfterTheLastCycle) {
    FrameClock c;
    c.update(1000);
    c.update(1256);
    EXPECT_EQ(c.now(), 1256);
    // The server restarts and counts from 0 again.
    c.rebase();
    EXPECT_EQ(c.update(0), 1512);   // last + last advance
    EXPECT_EQ(c.update(256), 1768); // and follows the new counter from there
    c.rebase(5000);
    EXPECT_EQ(c.update(77), 5000);
    EXPECT_EQ(c.update(77 + 128), 5128);
    // A continue_at in the past never moves the clock backwards.
    c.rebase(10);
    EXPECT_EQ(c.update(3), 5128);
    EXPECT_EQ(c.unannounced_restarts(), 0U);
}

TEST(FrameClock, UnannouncedBackwardJumpIsTreatedAsRebase) {
    FrameClock c;
    c.update(50'000'000);
    c.update(50'000'512);
    EXPECT_EQ(c.update(0), 50'001'024);
    EXPECT_EQ(c.unannounced_restarts(), 1U);
    EXPECT_EQ(c.update(512), 50'001'536);
}

TEST(FrameClock, RebaseAcrossTheWrapStaysMonotonic) {
    FrameClock c;
    c.update(0xffff'ff00U);
    c.update(0x0000'0100U); // wrapped: +512
    EXPECT_EQ(c.now(), two32 + 0x100);
    c.rebase();
    EXPECT_EQ(c.update(0), two32 + 0x100 + 512);
}

TEST(FrameClock, ResetStartsAFreshClock) {
    FrameClock c;
    c.update(0xffff'fff0U);
    c.update(0x10U);
    c.reset();
    EXPECT_FALSE(c.started());
    EXPECT_EQ(c.update(99), 99);
}

} // namespace
} // namespace lockstep
