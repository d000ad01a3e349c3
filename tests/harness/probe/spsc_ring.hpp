// Bounded single-producer single-consumer ring of trivially copyable values, allocated once.
// push/front/pop never allocate, lock or wait: one side may be the audio thread.
#pragma once

#include "rt/rt.hpp"

#include <atomic>
#include <cstddef>
#include <type_traits>
#include <vector>

namespace lockstep::test {

template <typename T>
class SpscRing {
    static_assert(std::is_trivially_copyable_v<T>);

public:
    // Control thread (allocates). Holds at least `capacity` values.
    explicit SpscRing(std::size_t capacity)
        : slots_(round_up(capacity + 1)), mask_(slots_.size() - 1) {}

    // Producer thread. Wait-free; false when full (the value is dropped; count it).
    bool push(const T& v) noexcept RT_NONBLOCKING {
        const auto tail = tail_.load(std::memory_order_relaxed);
        const auto next = (tail + 1) & mask_;
        if (next == head_.load(std::memory_order_acquire)) {
            return false;
        }
        slots_[tail] = v;
        tail_.store(next, std::memory_order_release);
        return true;
    }

    // Consumer thread. Wait-free; nullptr when empty. Valid until pop().
    const T* front() const noexcept RT_NONBLOCKING {
        const auto head = head_.load(std::memory_order_relaxed);
        if (head == tail_.load(std::memory_order_acquire)) {
            return nullptr;
        }
        return &slots_[head];
    }
    // Consumer thread: drops front() (which must exist).
    void pop() noexcept RT_NONBLOCKING {
        head_.store((head_.load(std::memory_order_relaxed) + 1) & mask_, std::memory_order_release);
    }

private:
    static std::size_t round_up(std::size_t n) {
        std::size_t p = 2;
        while (p < n) {
            p *= 2;
        }
        return p;
    }

    std::vector<T> slots_;
    std::size_t mask_;
    alignas(64) std::atomic<std::size_t> head_{0};
    alignas(64) std::atomic<std::size_t> tail_{0};
};

} // namespace lockstep::test
