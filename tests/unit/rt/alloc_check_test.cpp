#include "rt/alloc_check.hpp"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <thread>

namespace {

// Stores through a volatile pointer so the compiler cannot elide the allocations.
void* volatile g_sink = nullptr;

#define SKIP_UNLESS_COUNTING_NEW()                                                                 \
    if (!lockstep::alloc_check::counts_operator_new()) {                                           \
        GTEST_SKIP() << "TSan build: operator new belongs to the sanitizer runtime";               \
    }

void allocate_and_free_with_new() {
    int* p = new int(42);
    g_sink = p;
    delete static_cast<int*>(g_sink);
}

TEST(AllocCheck, CatchesADeliberateAllocationInARealtimeScope) {
    SKIP_UNLESS_COUNTING_NEW();
    lockstep::AllocCounts counts;
    {
        lockstep::RealtimeScope scope;
        allocate_and_free_with_new();
        counts = scope.counts();
    }
    EXPECT_GT(counts.allocations, 0U);
    EXPECT_GT(counts.deallocations, 0U);
}

TEST(AllocCheck, CountsEveryOperatorNewForm) {
    SKIP_UNLESS_COUNTING_NEW();
    lockstep::AllocCounts counts;
    {
        lockstep::RealtimeScope scope;
        g_sink = new int[3];
        delete[] static_cast<int*>(g_sink);
        g_sink = new (std::nothrow) int(1);
        delete static_cast<int*>(g_sink);
        struct alignas(64) Wide {
            char bytes[64];
        };
        g_sink = new Wide;
        delete static_cast<Wide*>(g_sink);
        counts = scope.counts();
    }
    EXPECT_EQ(counts.allocations, 3U);
    EXPECT_EQ(counts.deallocations, 3U);
}

TEST(AllocCheck, CountsMallocWhenNoSanitizerOwnsIt) {
    if (!lockstep::alloc_check::counts_malloc()) {
        GTEST_SKIP() << "sanitizer build: malloc belongs to the sanitizer runtime";
    }
    lockstep::AllocCounts counts;
    {
        lockstep::RealtimeScope scope;
        g_sink = std::malloc(16);
        std::free(g_sink);
        g_sink = std::calloc(4, 4);
        g_sink = std::realloc(g_sink, 64);
        std::free(g_sink);
        counts = scope.counts();
    }
    EXPECT_EQ(counts.allocations, 3U);
    EXPECT_EQ(counts.deallocations, 2U);
}

TEST(AllocCheck, CountsOnlyTheThreadInTheScope) {
    std::atomic<int> step{0};
    std::thread other([&] {
        while (step.load() == 0) {
            std::this_thread::yield();
        }
        for (int i = 0; i < 1000; ++i) {
            allocate_and_free_with_new(); // no scope on this thread: not counted anywhere
        }
        step.store(2);
    });
    lockstep::AllocCounts counts;
    {
        lockstep::RealtimeScope scope;
        step.store(1);
        while (step.load() != 2) {
            std::this_thread::yield();
        }
        counts = scope.counts();
    }
    other.join();
    EXPECT_EQ(counts.allocations, 0U);
    EXPECT_EQ(counts.deallocations, 0U);
}

TEST(AllocCheck, ScopesNest) {
    SKIP_UNLESS_COUNTING_NEW();
    lockstep::RealtimeScope outer;
    allocate_and_free_with_new();
    lockstep::AllocCounts inner_counts;
    {
        lockstep::RealtimeScope inner;
        allocate_and_free_with_new();
        inner_counts = inner.counts();
    }
    const auto outer_counts = outer.counts();
    EXPECT_EQ(inner_counts.allocations, 1U);
    EXPECT_EQ(outer_counts.allocations, 2U);
}

TEST(AllocCheck, MacroFailsTheTestWhenTheScopeAllocated) {
    SKIP_UNLESS_COUNTING_NEW();
    EXPECT_NONFATAL_FAILURE(LOCKSTEP_EXPECT_NO_ALLOC(g_sink = new int(1)),
                            "allocated in a real-time scope");
    delete static_cast<int*>(g_sink);
    g_sink = new int(2);
    EXPECT_NONFATAL_FAILURE(LOCKSTEP_EXPECT_NO_ALLOC(delete static_cast<int*>(g_sink)),
                            "freed in a real-time scope");
    LOCKSTEP_EXPECT_NO_ALLOC({
        int x = 0;
        g_sink = &x;
    });
}

} // namespace
