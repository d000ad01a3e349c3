#include "jack/reconnect.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

using namespace std::chrono_literals;
using lockstep::jack::reconnect_delay;
using lockstep::jack::reconnect_max_delay;

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

} // namespace
