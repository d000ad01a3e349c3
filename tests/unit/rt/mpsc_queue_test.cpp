#include "rt/alloc_check.hpp"
#include "rt/mpsc_queue.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

struct Msg {
    std::uint32_t producer;
    std::uint64_t seq;
};

using Queue = lockstep::MpscQueue<Msg, 100>;

TEST(MpscQueue, OneProducerKeepsOrderAndIsBounded) {
    Queue q(2);
    auto p = q.make_producer();
    std::uint64_t pushed = 0;
    while (p.try_push(Msg{0, pushed})) {
        ++pushed;
        ASSERT_LE(pushed, Queue::Traits::MAX_SUBQUEUE_SIZE);
    }
    EXPECT_GE(pushed, Queue::capacity_per_producer());
    EXPECT_EQ(q.overflows(), 1U);

    Msg m{};
    for (std::uint64_t i = 0; i < pushed; ++i) {
        ASSERT_TRUE(q.try_pop(m));
        EXPECT_EQ(m.seq, i);
    }
    EXPECT_FALSE(q.try_pop(m));
}

TEST(MpscQueue, RefusesMoreProducersThanPreallocatedAndRecyclesSlots) {
    Queue q(2);
    auto a = q.make_producer();
    std::optional<Queue::Producer> b(q.make_producer());
    EXPECT_THROW((void)q.make_producer(), std::length_error);
    b.reset();
    auto c = q.make_producer(); // the freed slot is usable again
    EXPECT_TRUE(c.try_push(Msg{2, 0}));
    Queue::Producer moved(std::move(c));
    EXPECT_TRUE(moved.try_push(Msg{2, 1}));
    EXPECT_THROW((void)q.make_producer(), std::length_error);
}

// Whatever the other producers did before, a producer with fewer than Capacity messages in
// flight can always push, and no push or pop allocates: deterministic random interleaving.
TEST(MpscQueue, EveryProducerGetsItsShareWithoutAllocating) {
    constexpr std::uint32_t kProducers = 3;
    Queue q(kProducers);
    std::vector<Queue::Producer> producers;
    for (std::uint32_t i = 0; i < kProducers; ++i) {
        producers.push_back(q.make_producer());
    }
    std::array<std::uint64_t, kProducers> in_flight{};
    std::array<std::uint64_t, kProducers> next_seq{};
    std::array<std::uint64_t, kProducers> next_expected{};
    std::uint64_t refused_below_capacity = 0;
    std::uint64_t above_max = 0;
    std::uint64_t out_of_order = 0;
    std::uint64_t refusals = 0;
    std::uint64_t pops = 0;

    std::mt19937 rng(12345);
    lockstep::AllocCounts counts;
    {
        lockstep::RealtimeScope scope;
        for (int op = 0; op < 200000; ++op) {
            const auto r = rng();
            // Phases: a burst where one producer floods, then mixed traffic with drains.
            const bool flood = (op / 5000) % 3 == 0;
            const std::uint32_t who = flood ? static_cast<std::uint32_t>((op / 15000) % kProducers)
                                            : static_cast<std::uint32_t>(r % kProducers);
            const bool push = flood ? (r % 8 != 0) : (r % 2 == 0);
            if (push) {
                if (producers[who].try_push(Msg{who, next_seq[who]})) {
                    ++next_seq[who];
                    ++in_flight[who];
                    above_max += in_flight[who] > Queue::Traits::MAX_SUBQUEUE_SIZE ? 1 : 0;
                } else {
                    ++refusals;
                    refused_below_capacity +=
                        in_flight[who] < Queue::capacity_per_producer() ? 1 : 0;
                }
            } else {
                Msg m{};
                if (q.try_pop(m)) {
                    ++pops;
                    out_of_order += m.seq != next_expected[m.producer] ? 1 : 0;
                    next_expected[m.producer] = m.seq + 1;
                    --in_flight[m.producer];
                }
            }
        }
        counts = scope.counts();
    }
    EXPECT_EQ(refused_below_capacity, 0U);
    EXPECT_EQ(above_max, 0U);
    EXPECT_EQ(out_of_order, 0U);
    EXPECT_GT(refusals, 0U) << "the test never filled a producer's share";
    EXPECT_GT(pops, 1000U);
    EXPECT_EQ(q.overflows(), refusals);
    EXPECT_EQ(counts.allocations, 0U);
    EXPECT_EQ(counts.deallocations, 0U);
}

// Negative control: the traits route moodycamel's memory through operator new, so the
// counting allocator would see it if a path allocated.
TEST(MpscQueue, CountingAllocatorSeesQueueAllocations) {
    if (!lockstep::alloc_check::counts_operator_new()) {
        GTEST_SKIP() << "TSan build: operator new belongs to the sanitizer runtime";
    }
    lockstep::AllocCounts counts;
    {
        lockstep::RealtimeScope scope;
        Queue q(1);
        auto p = q.make_producer();
        counts = scope.counts();
    }
    EXPECT_GT(counts.allocations, 0U);
}

TEST(MpscQueue, ThreadsKeepPerProducerOrder) {
    constexpr std::uint32_t kProducers = 3;
    constexpr std::uint64_t kPerProducer = 50000;
    Queue q(kProducers);
    std::atomic<bool> give_up{false};
    std::array<std::uint64_t, kProducers> failed{};
    std::array<lockstep::AllocCounts, kProducers> allocs{};
    std::vector<std::thread> threads;
    for (std::uint32_t id = 0; id < kProducers; ++id) {
        threads.emplace_back([&, id, p = q.make_producer()]() mutable {
            lockstep::RealtimeScope scope;
            for (std::uint64_t i = 0; i < kPerProducer && !give_up.load(); ++i) {
                while (!p.try_push(Msg{id, i}) && !give_up.load()) {
                    ++failed[id];
                    std::this_thread::yield();
                }
            }
            allocs[id] = scope.counts();
        });
    }

    std::array<std::uint64_t, kProducers> expected{};
    std::uint64_t out_of_order = 0;
    std::uint64_t received = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    Msg m{};
    while (received < kProducers * kPerProducer && std::chrono::steady_clock::now() < deadline) {
        if (q.try_pop(m)) {
            out_of_order += m.seq != expected[m.producer] ? 1 : 0;
            expected[m.producer] = m.seq + 1;
            ++received;
        } else {
            std::this_thread::yield();
        }
    }
    give_up.store(true);
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(received, kProducers * kPerProducer);
    EXPECT_EQ(out_of_order, 0U);
    EXPECT_EQ(q.overflows(), failed[0] + failed[1] + failed[2]);
    for (const auto& a : allocs) {
        EXPECT_EQ(a.allocations, 0U);
        EXPECT_EQ(a.deallocations, 0U);
    }
}

} // namespace
