// Bounded multi-producer/single-consumer queue of trivially copyable messages, for the
// rare case where several threads feed one consumer and one SpscQueue per producer
// would be clumsy. Prefer SpscQueue when the producers are known in advance.
#pragma once

#include "rt/rt.hpp"

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <concurrentqueue/concurrentqueue.h>

namespace lockstep {

namespace detail {
// moodycamel::ConcurrentQueue traits that make it a bounded, preallocated queue:
//  - implicit producers are off (INITIAL_IMPLICIT_PRODUCER_HASH_SIZE = 0), so a push
//    without a token can never create (allocate) a producer;
//  - MAX_SUBQUEUE_SIZE caps what each producer may hold, so one chatty producer cannot
//    take the blocks the others need (explicit producers never give blocks back);
//  - memory comes from ::operator new, so the counting allocator (rt/alloc_check.hpp)
//    sees every allocation the queue makes.
template <std::size_t Capacity>
struct MpscTraits : moodycamel::ConcurrentQueueDefaultTraits {
    static_assert(Capacity >= 1);
    static constexpr std::size_t BLOCK_SIZE =
        Capacity < 32 ? std::bit_ceil(Capacity < 2 ? 2 : Capacity) : 32;
    // A producer may start a new block only while it holds at most MAX - BLOCK_SIZE
    // messages, so this bound makes every push below Capacity in flight succeed.
    static constexpr std::size_t MAX_SUBQUEUE_SIZE =
        (Capacity + BLOCK_SIZE - 1 + BLOCK_SIZE - 1) / BLOCK_SIZE * BLOCK_SIZE;
    // Blocks one producer can ever hold: MAX / BLOCK_SIZE, plus one while the consumer
    // has claimed a block's last message but not yet marked the block empty.
    static constexpr std::size_t BLOCKS_PER_PRODUCER = MAX_SUBQUEUE_SIZE / BLOCK_SIZE + 1;
    static constexpr std::size_t INITIAL_IMPLICIT_PRODUCER_HASH_SIZE = 0;

    static void* malloc(std::size_t size) { return ::operator new(size, std::nothrow); }
    static void free(void* ptr) { ::operator delete(ptr); }
};
} // namespace detail

// MpscQueue<T, Capacity>: every producer may have at least Capacity messages in flight
// (at most Traits::MAX_SUBQUEUE_SIZE); messages of one producer arrive in order, messages
// of different producers interleave in no particular order.
//
// Allocation: the constructor allocates all blocks for `max_producers` producers;
// make_producer() allocates the producer's bookkeeping (once per producer slot: moodycamel
// recycles the slot of a destroyed Producer). After that, Producer::try_push and try_pop
// never allocate: moodycamel's token try_enqueue takes blocks only from the preallocated
// pool or the producer's own ring, and fails rather than allocate. Tested with the
// counting allocator in tests/unit/rt/mpsc_queue_test.cpp.
//
// Threads: make_producer() on a control thread; each Producer is used by one thread at a
// time (its owner, possibly an RT thread); try_pop() by the single consumer thread;
// overflows() from any thread.
template <typename T, std::size_t Capacity = 256>
class MpscQueue {
    static_assert(std::is_trivially_copyable_v<T>,
                  "queue messages must be trivially copyable (no owning pointers, no std::string)");

public:
    using Traits = detail::MpscTraits<Capacity>;

    class Producer {
    public:
        Producer(Producer&&) noexcept = default;
        Producer& operator=(Producer&&) = delete;
        Producer(const Producer&) = delete;
        Producer& operator=(const Producer&) = delete;
        ~Producer() {
            if (queue_ != nullptr) {
                queue_->live_producers_.fetch_sub(1, std::memory_order_relaxed);
            }
        }

        // Owner thread (may be RT). Never allocates, never blocks. Returns false when this
        // producer already has its share in flight: the message is dropped and counted.
        bool try_push(const T& message) noexcept RT_NONBLOCKING {
            if (queue_->queue_.try_enqueue(token_, message)) {
                return true;
            }
            queue_->overflows_.fetch_add(1, std::memory_order_relaxed);
            return false;
        }

    private:
        friend class MpscQueue;
        explicit Producer(MpscQueue& queue) : queue_(&queue), token_(queue.queue_) {}

        // Moves leave the source with a null queue_ so only the live handle counts.
        struct QueuePtr {
            MpscQueue* p;
            QueuePtr(MpscQueue* q) noexcept : p(q) {}
            QueuePtr(QueuePtr&& o) noexcept : p(std::exchange(o.p, nullptr)) {}
            MpscQueue* operator->() const noexcept { return p; }
            bool operator!=(std::nullptr_t) const noexcept { return p != nullptr; }
        };
        QueuePtr queue_;
        moodycamel::ProducerToken token_;
    };

    // Control thread. Preallocates the blocks for up to `max_producers` live producers.
    explicit MpscQueue(std::size_t max_producers)
        : max_producers_(max_producers < 1 ? 1 : max_producers),
          queue_(max_producers_ * Traits::BLOCKS_PER_PRODUCER * Traits::BLOCK_SIZE) {}

    MpscQueue(const MpscQueue&) = delete;
    MpscQueue& operator=(const MpscQueue&) = delete;

    // Control thread (allocates). Throws std::length_error when max_producers are already
    // alive, std::bad_alloc when memory runs out. The Producer must not outlive the queue.
    Producer make_producer() {
        auto live = live_producers_.fetch_add(1, std::memory_order_relaxed);
        if (live >= max_producers_) {
            live_producers_.fetch_sub(1, std::memory_order_relaxed);
            throw std::length_error("MpscQueue: more producers than max_producers");
        }
        Producer p(*this);
        if (!p.token_.valid()) {
            throw std::bad_alloc();
        }
        return p;
    }

    // Consumer thread. Never allocates, never blocks. Returns false when (probably) empty:
    // a message whose push happened-before this call is always seen.
    bool try_pop(T& out) noexcept RT_NONBLOCKING { return queue_.try_dequeue(out); }

    // Any thread: messages dropped because their producer's share was full.
    std::uint64_t overflows() const noexcept RT_NONBLOCKING {
        return overflows_.load(std::memory_order_relaxed);
    }

    // Messages each producer can always have in flight.
    static constexpr std::size_t capacity_per_producer() noexcept { return Capacity; }
    std::size_t max_producers() const noexcept { return max_producers_; }

private:
    std::size_t max_producers_;
    moodycamel::ConcurrentQueue<T, Traits> queue_;
    std::atomic<std::size_t> live_producers_{0};
    std::atomic<std::uint64_t> overflows_{0};
};

} // namespace lockstep
