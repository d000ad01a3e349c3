#include "jack/reconnect.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

using namespace std::chrono_literals;
using lockstep::Frame;
using lockstep::jack::reconnect_delay;
using lockstep::jack::reconnect_max_delay;
using lockstep::jack::monotonic_offset;
using lockstep::jack::session_offset;

namespace {

TEST(ReconnectDelay, DoublesFrom100msToA1sCap) {
    EXPECT_EQ(reconnect_delay(0), 100ms);
    EXPECT_EQ(reconnect_delay(1), 200ms);
    EXPECT_EQ(reconnect_delay(2), 400ms);
    EXPECT_EQ(reconnect_delay(3), 800ms);
    EXPECT_EQ(reconnect_delay(4), 1000ms);
    EXPECT_EQ(reconnect_delay(5), 1000ms);
    EXPECT_EQ(reconnect_delay(1000), 1000ms);
    EXPECT_EQ(reconnect_delay(UINT32_MAX), 1000ms); // no overflow after days of waiting
}

TEST(ReconnectDelay, NeverShrinksAndNeverExceedsTheCap) {
    for (std::uint32_t a = 0; a < 100; ++a) {
        EXPECT_LE(reconnect_delay(a), reconnect_delay(a + 1));
        EXPECT_LE(reconnect_delay(a), reconnect_max_delay);
        EXPECT_GT(reconnect_delay(a), 0ms);
    }
}

// The 3-second promise by design: whenever the server comes back, the next attempt starts
// at most one cap later, for any outage length (simulated on the schedule, in ms).
TEST(ReconnectDelay, AnAttemptFollowsServerReturnWithinTheCap) {
    std::vector<std::int64_t> attempts; // attempt times after the loss
    std::int64_t t = 0;
    for (std::uint32_t a = 0; t < 10 * 60 * 1000; ++a) {
        t += reconnect_delay(a).count();
        attempts.push_back(t);
    }
    for (std::int64_t back = 0; back < 9 * 60 * 1000; back += 7) {
        const auto it = std::lower_bound(attempts.begin(), attempts.end(), back);
        ASSERT_NE(it, attempts.end());
        EXPECT_LE(*it - back, reconnect_max_delay.count()) << "server back at " << back;
    }
    EXPECT_LT(reconnect_max_delay, 3s);
}

TEST(SessionOffset, FirstSessionKeepsJackFrames) {
    EXPECT_EQ(session_offset(0, 0), 0);
    EXPECT_EQ(session_offset(0, 123456), 0);
    // A server that was not restarted (frames still ahead): nothing to correct.
    EXPECT_EQ(session_offset(1000, 1000), 0);
    EXPECT_EQ(session_offset(1000, 5000), 0);
}

TEST(SessionOffset, RestartedServerMovesForwardByWholeEpochs) {
    constexpr Frame epoch = Frame{1} << 32;
    // Old server ran to frame 10 M; the new one counts from 0.
    const Frame off = session_offset(10'000'000, 256);
    EXPECT_EQ(off, epoch);
    EXPECT_GE(256 + off, 10'000'000);
    // Low 32 bits stay JACK's counter.
    EXPECT_EQ(static_cast<std::uint32_t>(256 + off), 256U);
    // Long runs: several epochs.
    const Frame prev = 3 * epoch + 17;
    const Frame off2 = session_offset(prev, 5);
    EXPECT_EQ(off2, 4 * epoch);
    EXPECT_GE(5 + off2, prev);
    EXPECT_EQ(session_offset(epoch, 0), epoch); // exactly at the boundary: continuous
}

TEST(SessionOffset, ClientsThatLivedThroughTheSameRestartAgree) {
    // Both ran to the same last cycle; they reconnect at different moments.
    const Frame prev_end = 987'654'321;
    EXPECT_EQ(session_offset(prev_end, 1024), session_offset(prev_end, 48000 * 3));
}

TEST(MonotonicOffset, FollowsJackIncludingForwardJumps) {
    EXPECT_EQ(monotonic_offset(0, 1024, 1024), 0);         // contiguous
    EXPECT_EQ(monotonic_offset(0, 10112, 9984), 0);        // PipeWire: jumps ahead, followed
    EXPECT_EQ(monotonic_offset(500, 1000, 1500), 500);     // contiguous with an offset
}

TEST(MonotonicOffset, NeverGoesBack) {
    // jackd2 shrinking 256 -> 128: the counter comes back by 128 frames.
    const Frame off = monotonic_offset(0, 46464, 46592);
    EXPECT_EQ(46464 + off, 46592);
    // Later cycles keep that offset and stay contiguous.
    EXPECT_EQ(monotonic_offset(off, 46464 + 128, 46592 + 128), off);
}

} // namespace
