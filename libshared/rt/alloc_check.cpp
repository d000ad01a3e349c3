// Replacement allocation functions that count per thread; see alloc_check.hpp.
// Only test programs link this file (lockstep_alloc_check_dep).
#include "rt/alloc_check.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <new>

// Set by libshared/rt/meson.build from the sanitizer in use.
#ifndef LOCKSTEP_ALLOC_CHECK_MALLOC
#define LOCKSTEP_ALLOC_CHECK_MALLOC 0
#endif
#ifndef LOCKSTEP_ALLOC_CHECK_NEW
#define LOCKSTEP_ALLOC_CHECK_NEW 1
#endif

#if LOCKSTEP_ALLOC_CHECK_MALLOC
// glibc's own allocator entry points: what malloc() would be without us.
extern "C" {
void* __libc_malloc(std::size_t size) noexcept;
void* __libc_calloc(std::size_t count, std::size_t size) noexcept;
void* __libc_realloc(void* ptr, std::size_t size) noexcept;
void* __libc_memalign(std::size_t alignment, std::size_t size) noexcept;
void __libc_free(void* ptr) noexcept;
}
#endif

namespace {

// Plain integers: thread_local with constant initialization needs no allocation or
// guard, so touching them from inside malloc is safe.
thread_local unsigned t_depth = 0;
thread_local std::uint64_t t_allocations = 0;
thread_local std::uint64_t t_deallocations = 0;

#if LOCKSTEP_ALLOC_CHECK_NEW
inline void note_alloc() noexcept {
    if (t_depth != 0) {
        ++t_allocations;
    }
}

inline void note_free(const void* ptr) noexcept {
    if (ptr != nullptr && t_depth != 0) {
        ++t_deallocations;
    }
}

inline void* raw_malloc(std::size_t size) noexcept {
#if LOCKSTEP_ALLOC_CHECK_MALLOC
    return __libc_malloc(size);
#else
    return std::malloc(size);
#endif
}

inline void* raw_aligned(std::size_t alignment, std::size_t size) noexcept {
#if LOCKSTEP_ALLOC_CHECK_MALLOC
    return __libc_memalign(alignment, size);
#else
    void* p = nullptr;
    if (alignment < sizeof(void*)) {
        alignment = sizeof(void*);
    }
    return posix_memalign(&p, alignment, size) == 0 ? p : nullptr;
#endif
}

inline void raw_free(void* ptr) noexcept {
#if LOCKSTEP_ALLOC_CHECK_MALLOC
    __libc_free(ptr);
#else
    std::free(ptr);
#endif
}

void* new_impl(std::size_t size) {
    note_alloc();
    if (size == 0) {
        size = 1;
    }
    for (;;) {
        if (void* p = raw_malloc(size)) {
            return p;
        }
        std::new_handler handler = std::get_new_handler();
        if (handler == nullptr) {
            throw std::bad_alloc();
        }
        handler();
    }
}

void* new_aligned_impl(std::size_t size, std::align_val_t al) {
    note_alloc();
    if (size == 0) {
        size = 1;
    }
    for (;;) {
        if (void* p = raw_aligned(static_cast<std::size_t>(al), size)) {
            return p;
        }
        std::new_handler handler = std::get_new_handler();
        if (handler == nullptr) {
            throw std::bad_alloc();
        }
        handler();
    }
}

void delete_impl(void* ptr) noexcept {
    note_free(ptr);
    raw_free(ptr);
}
#endif

} // namespace

namespace lockstep {

RealtimeScope::RealtimeScope() noexcept : start_{t_allocations, t_deallocations} {
    ++t_depth;
}

RealtimeScope::~RealtimeScope() {
    --t_depth;
}

AllocCounts RealtimeScope::counts() const noexcept {
    return AllocCounts{t_allocations - start_.allocations, t_deallocations - start_.deallocations};
}

bool alloc_check::counts_operator_new() noexcept {
    return LOCKSTEP_ALLOC_CHECK_NEW != 0;
}

bool alloc_check::counts_malloc() noexcept {
    return LOCKSTEP_ALLOC_CHECK_MALLOC != 0;
}

} // namespace lockstep

// ---- replaceable global allocation functions (every form, so no library copy mixes in) ----
// Not under TSan: its runtime defines them too, in an archive linked whole.
#if LOCKSTEP_ALLOC_CHECK_NEW

void* operator new(std::size_t size) {
    return new_impl(size);
}
void* operator new[](std::size_t size) {
    return new_impl(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    try {
        return new_impl(size);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    try {
        return new_impl(size);
    } catch (...) {
        return nullptr;
    }
}
void* operator new(std::size_t size, std::align_val_t al) {
    return new_aligned_impl(size, al);
}
void* operator new[](std::size_t size, std::align_val_t al) {
    return new_aligned_impl(size, al);
}
void* operator new(std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
    try {
        return new_aligned_impl(size, al);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
    try {
        return new_aligned_impl(size, al);
    } catch (...) {
        return nullptr;
    }
}

void operator delete(void* ptr) noexcept {
    delete_impl(ptr);
}
void operator delete[](void* ptr) noexcept {
    delete_impl(ptr);
}
void operator delete(void* ptr, const std::nothrow_t&) noexcept {
    delete_impl(ptr);
}
void operator delete[](void* ptr, const std::nothrow_t&) noexcept {
    delete_impl(ptr);
}
void operator delete(void* ptr, std::size_t) noexcept {
    delete_impl(ptr);
}
void operator delete[](void* ptr, std::size_t) noexcept {
    delete_impl(ptr);
}
void operator delete(void* ptr, std::align_val_t) noexcept {
    delete_impl(ptr);
}
void operator delete[](void* ptr, std::align_val_t) noexcept {
    delete_impl(ptr);
}
void operator delete(void* ptr, std::size_t, std::align_val_t) noexcept {
    delete_impl(ptr);
}
void operator delete[](void* ptr, std::size_t, std::align_val_t) noexcept {
    delete_impl(ptr);
}
void operator delete(void* ptr, std::align_val_t, const std::nothrow_t&) noexcept {
    delete_impl(ptr);
}
void operator delete[](void* ptr, std::align_val_t, const std::nothrow_t&) noexcept {
    delete_impl(ptr);
}
#endif // LOCKSTEP_ALLOC_CHECK_NEW

// ---- malloc family (builds without a sanitizer) ------------------------------------------

#if LOCKSTEP_ALLOC_CHECK_MALLOC
extern "C" {

void* malloc(std::size_t size) noexcept {
    note_alloc();
    return __libc_malloc(size);
}

void* calloc(std::size_t count, std::size_t size) noexcept {
    note_alloc();
    return __libc_calloc(count, size);
}

void* realloc(void* ptr, std::size_t size) noexcept {
    note_alloc();
    return __libc_realloc(ptr, size);
}

void free(void* ptr) noexcept {
    note_free(ptr);
    __libc_free(ptr);
}

void* memalign(std::size_t alignment, std::size_t size) noexcept {
    note_alloc();
    return __libc_memalign(alignment, size);
}

void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
    note_alloc();
    return __libc_memalign(alignment, size);
}

int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
    note_alloc();
    if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) {
        return EINVAL;
    }
    void* p = __libc_memalign(alignment, size);
    if (p == nullptr) {
        return ENOMEM;
    }
    *out = p;
    return 0;
}

} // extern "C"
#endif
