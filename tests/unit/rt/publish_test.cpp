#include "rt/alloc_check.hpp"
#include "rt/publish.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>

namespace {

// A version that knows when it dies and poisons itself, so a read after free shows up as
// a bad checksum even without ASan.
struct Kit {
    explicit Kit(std::uint64_t v, std::atomic<int>* alive = nullptr) : version(v), alive_(alive) {
        values.fill(v);
        if (alive_ != nullptr) {
            alive_->fetch_add(1);
        }
    }
    ~Kit() {
        values.fill(~std::uint64_t{0});
        version = ~std::uint64_t{0};
        if (alive_ != nullptr) {
            alive_->fetch_sub(1);
        }
    }
    Kit(const Kit&) = delete;
    Kit& operator=(const Kit&) = delete;

    bool consistent() const {
        for (auto v : values) {
            if (v != version) {
                return false;
            }
        }
        return true;
    }

    std::uint64_t version;
    std::array<std::uint64_t, 64> values{};
    std::atomic<int>* alive_;
};

TEST(Published, StartsEmptyOrWithInitialVersion) {
    lockstep::Published<Kit> empty;
    EXPECT_EQ(empty.acquire(), nullptr);
    empty.release();

    lockstep::Published<Kit> p(std::make_unique<const Kit>(7));
    const Kit* k = p.acquire();
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->version, 7U);
    p.release();
}

TEST(Published, ReplacedVersionIsFreedAtOnceWhenReaderIsIdle) {
    std::atomic<int> alive{0};
    lockstep::Published<Kit> p(std::make_unique<const Kit>(1, &alive));
    (void)p.acquire();
    p.release();
    p.publish(std::make_unique<const Kit>(2, &alive));
    EXPECT_EQ(alive.load(), 1);
    EXPECT_EQ(p.retired(), 0U);
}

TEST(Published, VersionHeldByTheReaderSurvivesUntilRelease) {
    std::atomic<int> alive{0};
    lockstep::Published<Kit> p(std::make_unique<const Kit>(1, &alive));

    const Kit* held = p.acquire();
    p.publish(std::make_unique<const Kit>(2, &alive));
    p.publish(std::make_unique<const Kit>(3, &alive));
    EXPECT_EQ(p.collect(), 0U);
    EXPECT_EQ(p.retired(), 2U);
    EXPECT_EQ(alive.load(), 3);
    EXPECT_EQ(held->version, 1U);
    EXPECT_TRUE(held->consistent());
    p.release();

    EXPECT_EQ(p.collect(), 2U);
    EXPECT_EQ(alive.load(), 1);
    {
        lockstep::Published<Kit>::Reader r(p);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->version, 3U);
    }
    p.publish(nullptr);
    EXPECT_EQ(alive.load(), 0);
    lockstep::Published<Kit>::Reader r(p);
    EXPECT_FALSE(r);
}

TEST(Published, ReadingDoesNotAllocateOrFree) {
    lockstep::Published<Kit> p(std::make_unique<const Kit>(1));
    std::uint64_t sum = 0;
    LOCKSTEP_EXPECT_NO_ALLOC({
        for (int i = 0; i < 1000; ++i) {
            lockstep::Published<Kit>::Reader r(p);
            sum += r->values[static_cast<std::size_t>(i) % r->values.size()];
        }
    });
    EXPECT_EQ(sum, 1000U);
}

TEST(Published, DestructorFreesCurrentAndRetired) {
    std::atomic<int> alive{0};
    {
        lockstep::Published<Kit> p(std::make_unique<const Kit>(1, &alive));
        (void)p.acquire(); // reader stuck in a cycle: nothing can be collected
        p.publish(std::make_unique<const Kit>(2, &alive));
        p.publish(std::make_unique<const Kit>(3, &alive));
        EXPECT_EQ(alive.load(), 3);
    }
    EXPECT_EQ(alive.load(), 0);
}

// An audio-like thread reads in a loop while the control thread publishes thousands of
// versions and collects. The reader must only ever see whole, live versions in publish
// order, and must never allocate or free.
TEST(Published, StressReaderAgainstPublisher) {
    constexpr std::uint64_t kVersions = 5000;
    std::atomic<int> alive{0};
    lockstep::Published<Kit> p(std::make_unique<const Kit>(0, &alive));

    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> cycles{0};
    std::uint64_t torn = 0;
    std::uint64_t went_back = 0;
    std::uint64_t distinct = 0;
    lockstep::AllocCounts reader_allocs;

    std::thread reader([&] {
        lockstep::RealtimeScope scope;
        std::uint64_t last = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            {
                lockstep::Published<Kit>::Reader r(p);
                if (!r->consistent()) {
                    ++torn;
                }
                if (r->version < last) {
                    ++went_back;
                }
                if (r->version != last) {
                    ++distinct;
                }
                last = r->version;
            }
            cycles.fetch_add(1, std::memory_order_relaxed);
        }
        reader_allocs = scope.counts();
    });

    bool reader_stalled = false;
    for (std::uint64_t v = 1; v <= kVersions && !reader_stalled; ++v) {
        p.publish(std::make_unique<const Kit>(v, &alive));
        if (v % 8 == 0) {
            p.collect();
        }
        if (v % 50 == 0) {
            // Make sure the reader really interleaves with the publishing: wait for a whole
            // cycle that began after this publish (it must see exactly version v).
            const auto seen = cycles.load();
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
            while (cycles.load() < seen + 2) {
                if (std::chrono::steady_clock::now() > deadline) {
                    reader_stalled = true;
                    break;
                }
                std::this_thread::yield();
            }
        }
    }
    stop.store(true);
    reader.join();

    EXPECT_FALSE(reader_stalled);
    EXPECT_EQ(torn, 0U);
    EXPECT_EQ(went_back, 0U);
    EXPECT_GE(distinct, kVersions / 50);
    EXPECT_EQ(reader_allocs.allocations, 0U);
    EXPECT_EQ(reader_allocs.deallocations, 0U);
    p.collect();
    EXPECT_EQ(p.retired(), 0U);
    EXPECT_EQ(alive.load(), 1);
}

} // namespace
