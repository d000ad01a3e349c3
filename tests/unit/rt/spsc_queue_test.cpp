#include "rt/alloc_check.hpp"
#include "rt/spsc_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace {

struct Msg {
    std::uint64_t seq;
    std::uint32_t kind;
    float value;
};

TEST(SpscQueue, HoldsExactlyCapacityThenCountsOverflows) {
    lockstep::SpscQueue<Msg> q(5);
    EXPECT_EQ(q.capacity(), 5U);
    for (std::uint64_t i = 0; i < 5; ++i) {
        EXPECT_TRUE(q.try_push(Msg{i, 1, 0.5F}));
    }
    EXPECT_EQ(q.size_approx(), 5U);
    EXPECT_EQ(q.overflows(), 0U);
    EXPECT_FALSE(q.try_push(Msg{99, 1, 0.5F}));
    EXPECT_FALSE(q.try_push(Msg{100, 1, 0.5F}));
    EXPECT_EQ(q.overflows(), 2U);

    Msg m{};
    for (std::uint64_t i = 0; i < 5; ++i) {
        ASSERT_TRUE(q.try_pop(m));
        EXPECT_EQ(m.seq, i);
    }
    EXPECT_FALSE(q.try_pop(m));
    // Room again after draining.
    EXPECT_TRUE(q.try_push(Msg{7, 2, 1.0F}));
    ASSERT_TRUE(q.try_pop(m));
    EXPECT_EQ(m.seq, 7U);
    EXPECT_EQ(m.kind, 2U);
}

TEST(SpscQueue, ZeroCapacityBecomesOne) {
    lockstep::SpscQueue<Msg> q(0);
    EXPECT_EQ(q.capacity(), 1U);
    EXPECT_TRUE(q.try_push(Msg{1, 0, 0}));
    EXPECT_FALSE(q.try_push(Msg{2, 0, 0}));
}

TEST(SpscQueue, PushAndPopNeverAllocate) {
    lockstep::SpscQueue<Msg> q(64);
    Msg m{};
    LOCKSTEP_EXPECT_NO_ALLOC({
        for (int round = 0; round < 100; ++round) {
            for (std::uint64_t i = 0; i < 70; ++i) { // includes the overflow path
                q.try_push(Msg{i, 0, 0});
            }
            while (q.try_pop(m)) {
            }
        }
    });
    EXPECT_EQ(q.overflows(), 100U * 6U);
}

TEST(SpscQueue, TwoThreadsKeepOrderAndCountEveryDrop) {
    constexpr std::uint64_t kCount = 200000;
    lockstep::SpscQueue<Msg> q(32);
    std::uint64_t failed_pushes = 0;
    lockstep::AllocCounts producer_allocs;
    std::atomic<bool> give_up{false};

    std::thread producer([&] {
        lockstep::RealtimeScope scope;
        for (std::uint64_t i = 0; i < kCount && !give_up.load(); ++i) {
            while (!q.try_push(Msg{i, 3, 0}) && !give_up.load()) {
                ++failed_pushes;
                std::this_thread::yield();
            }
        }
        producer_allocs = scope.counts();
    });

    std::uint64_t expected = 0;
    std::uint64_t out_of_order = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    Msg m{};
    while (expected < kCount && std::chrono::steady_clock::now() < deadline) {
        if (q.try_pop(m)) {
            out_of_order += (m.seq != expected) ? 1 : 0;
            expected = m.seq + 1;
        } else {
            std::this_thread::yield();
        }
    }
    give_up.store(true);
    producer.join();
    EXPECT_EQ(expected, kCount);
    EXPECT_EQ(out_of_order, 0U);
    EXPECT_EQ(q.overflows(), failed_pushes);
    EXPECT_EQ(producer_allocs.allocations, 0U);
    EXPECT_EQ(producer_allocs.deallocations, 0U);
}

} // namespace
