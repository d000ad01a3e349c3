// Counting allocator for tests: proves that real-time code paths do not allocate or free.
//
// Only test programs link it (meson: lockstep_alloc_check_dep): it replaces the global
// operator new/delete (every form) and, in builds without a sanitizer, also malloc,
// calloc, realloc, free, aligned_alloc, posix_memalign and memalign (forwarded to glibc's
// __libc_* functions), so allocations by C code and by moodycamel's queues are counted too.
// Sanitizer builds (ASan, RTSan) own malloc themselves, so there only operator new/delete
// are counted; under TSan, whose runtime also owns operator new, nothing is counted.
// alloc_check::counts_operator_new() and counts_malloc() tell what is in effect; tests
// that need a count > 0 skip when it is not.
//
// Counting is per thread and only while a RealtimeScope is alive on that thread. Assert
// outside the scope: gtest assertions allocate. Typical use:
//
//     LOCKSTEP_EXPECT_NO_ALLOC(queue.try_push(m); queue.try_pop(m));
//
// or, for a loop on another thread, keep the counts of a RealtimeScope and check them
// after joining.
#pragma once

#include <cstdint>

namespace lockstep {

struct AllocCounts {
    std::uint64_t allocations = 0;
    std::uint64_t deallocations = 0; // frees of non-null pointers
};

// Thread: any; counts only the calling thread. Scopes nest; counts() is what this scope saw.
class RealtimeScope {
public:
    RealtimeScope() noexcept;
    ~RealtimeScope();
    RealtimeScope(const RealtimeScope&) = delete;
    RealtimeScope& operator=(const RealtimeScope&) = delete;

    // Allocations and frees on this thread since this scope began.
    AllocCounts counts() const noexcept;

private:
    AllocCounts start_;
};

namespace alloc_check {
// True unless the build uses TSan.
bool counts_operator_new() noexcept;
// True when malloc & co. are counted too (builds without a sanitizer).
bool counts_malloc() noexcept;
} // namespace alloc_check

} // namespace lockstep

// Runs the statements inside a RealtimeScope and adds a gtest failure (outside the scope)
// when they allocated or freed. Needs <gtest/gtest.h>.
#define LOCKSTEP_EXPECT_NO_ALLOC(...)                                                              \
    do {                                                                                           \
        ::lockstep::AllocCounts lockstep_counts_;                                                  \
        {                                                                                          \
            ::lockstep::RealtimeScope lockstep_scope_;                                             \
            { __VA_ARGS__; }                                                                       \
            lockstep_counts_ = lockstep_scope_.counts();                                           \
        }                                                                                          \
        EXPECT_EQ(lockstep_counts_.allocations, 0U) << "allocated in a real-time scope";           \
        EXPECT_EQ(lockstep_counts_.deallocations, 0U) << "freed in a real-time scope";             \
    } while (false)
