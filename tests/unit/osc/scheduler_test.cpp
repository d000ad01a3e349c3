// The timetag queue, driven by explicit times: no clock, no sleeping.
#include "osc/scheduler.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace lockstep::osc {
namespace {

constexpr std::uint64_t kLookahead = 100;

TEST(OscScheduler, ReleasesInTimetagOrderWithinLookahead) {
    Scheduler<std::string> s(8, kLookahead);
    EXPECT_FALSE(s.next_release());
    ASSERT_TRUE(s.push(5000, "c"));
    ASSERT_TRUE(s.push(3000, "a"));
    ASSERT_TRUE(s.push(4000, "b"));
    EXPECT_EQ(s.size(), 3u);
    EXPECT_EQ(s.next_release(), 2900u);
    EXPECT_FALSE(s.pop_ready(2899));
    auto a = s.pop_ready(2900);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->value, "a");
    EXPECT_EQ(a->timetag, 3000u);
    EXPECT_FALSE(s.pop_ready(2900));
    // Late: everything due is released at once, earliest first.
    auto b = s.pop_ready(10000);
    auto c = s.pop_ready(10000);
    ASSERT_TRUE(b && c);
    EXPECT_EQ(b->value, "b");
    EXPECT_EQ(c->value, "c");
    EXPECT_EQ(s.size(), 0u);
}

TEST(OscScheduler, EqualTimetagsKeepArrivalOrder) {
    Scheduler<int> s(16, kLookahead);
    for (int i = 0; i < 10; ++i) {
        ASSERT_TRUE(s.push(7000, i));
    }
    for (int i = 0; i < 10; ++i) {
        auto e = s.pop_ready(7000);
        ASSERT_TRUE(e);
        EXPECT_EQ(e->value, i);
    }
}

TEST(OscScheduler, IsBounded) {
    Scheduler<int> s(2, kLookahead);
    EXPECT_EQ(s.free(), 2u);
    EXPECT_TRUE(s.push(1000, 1));
    EXPECT_TRUE(s.push(2000, 2));
    EXPECT_EQ(s.free(), 0u);
    EXPECT_FALSE(s.push(500, 3)); // full: refused, nothing displaced
    EXPECT_EQ(s.pop_ready(5000)->value, 1);
    EXPECT_TRUE(s.push(500, 3));
    EXPECT_EQ(s.pop_ready(5000)->value, 3);
}

TEST(OscScheduler, ReleasableSaysWhatNeedsNoQueue) {
    Scheduler<int> s(2, kLookahead);
    EXPECT_TRUE(s.releasable(1, 1000));    // immediate
    EXPECT_TRUE(s.releasable(900, 1000));  // past
    EXPECT_TRUE(s.releasable(1100, 1000)); // within lookahead
    EXPECT_FALSE(s.releasable(1101, 1000));
    const auto max = std::numeric_limits<std::uint64_t>::max();
    EXPECT_TRUE(s.releasable(max, max - 10)); // no wrap-around near the end of time
    Scheduler<int> early(2, kLookahead);
    early.push(50, 1);
    EXPECT_EQ(early.next_release(), 0u); // no wrap-around at the start either
}

} // namespace
} // namespace lockstep::osc
