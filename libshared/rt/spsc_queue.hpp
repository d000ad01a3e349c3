// Bounded single-producer/single-consumer queue of trivially copyable messages: the
// one way small messages cross between two threads (e.g. OSC thread -> audio thread).
#pragma once

#include "rt/rt.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

#include <boost/lockfree/spsc_queue.hpp>

namespace lockstep {

// Built on boost::lockfree::spsc_queue with a run-time capacity: the ring is allocated
// once in the constructor (through std::allocator, so the test allocator sees it) and
// push/pop never allocate, lock or wait (wait-free). We use Boost rather than
// moodycamel::ReaderWriterQueue because its capacity is exact and clang's
// -Wfunction-effects can verify its push/pop as nonblocking without exemptions.
//
// Threads: exactly one producer thread calls try_push(), exactly one consumer thread
// calls try_pop(); either may be the audio thread. overflows() and capacity() may be
// read from any thread. Construction and destruction happen on a control thread while
// neither side runs.
template <typename T>
class SpscQueue {
    static_assert(std::is_trivially_copyable_v<T>,
                  "queue messages must be trivially copyable (no owning pointers, no std::string)");
    static_assert(std::is_default_constructible_v<T>,
                  "queue messages must be default-constructible");

public:
    // Control thread. Allocates room for exactly `capacity` messages (capacity >= 1).
    explicit SpscQueue(std::size_t capacity)
        : capacity_(capacity < 1 ? 1 : capacity), ring_(capacity_) {}

    SpscQueue(const SpscQueue&) = delete;
    SpscQueue& operator=(const SpscQueue&) = delete;

    // Producer thread. Never allocates, never blocks. Returns false when the queue is
    // full: the message is dropped and counted in overflows().
    bool try_push(const T& message) noexcept RT_NONBLOCKING {
        if (ring_.push(message)) {
            return true;
        }
        overflows_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }

    // Consumer thread. Never allocates, never blocks. Returns false when empty.
    bool try_pop(T& out) noexcept RT_NONBLOCKING { return ring_.pop(out); }

    // Consumer thread: the oldest message without removing it, or nullptr when empty (for
    // consumers that take a message only once it is due). Valid until pop_front().
    const T* try_front() const noexcept RT_NONBLOCKING {
        return ring_.read_available() == 0 ? nullptr : &ring_.front();
    }
    // Consumer thread: removes the message try_front() returned (it must have returned one).
    void pop_front() noexcept RT_NONBLOCKING { ring_.pop(); }

    // Consumer thread: messages ready to pop now (a lower bound while the producer runs).
    std::size_t size_approx() const noexcept RT_NONBLOCKING { return ring_.read_available(); }

    // Any thread: messages dropped because the queue was full, since construction.
    std::uint64_t overflows() const noexcept RT_NONBLOCKING {
        return overflows_.load(std::memory_order_relaxed);
    }

    // Any thread: how many messages fit.
    std::size_t capacity() const noexcept RT_NONBLOCKING { return capacity_; }

private:
    std::size_t capacity_;
    boost::lockfree::spsc_queue<T> ring_;
    std::atomic<std::uint64_t> overflows_{0};
};

} // namespace lockstep
