// Publish-and-retire for large immutable state (a pattern set, a kit): built off the
// audio thread, swapped in by pointer, old versions freed off the audio thread.
#pragma once

#include "rt/rt.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace lockstep {

// Published<T> holds the current version of some immutable T and the versions it replaced
// until the one reader (the audio thread) can no longer see them.
//
// Protocol. The reader owns a counter `reader_state_`: odd while it is inside a cycle
// (between acquire() and release()), even outside. Every access below is seq_cst.
//   reader, cycle start:  reader_state_ = odd (n+1);  p = current_          (acquire())
//   reader, cycle end:    reader_state_ = even (n+2)                         (release())
//   publisher:            old = exchange(current_, next);  s = reader_state_;
//                         keep (old, s) in the retired list
//   collect():            free (old, s) when s is even, or reader_state_ != s now.
// Why no version is freed while the reader may read it:
//  - s even: the reader was between cycles when the publisher looked. Its next odd store
//    comes after that look in the single total order of seq_cst operations, so its next
//    load of current_ comes after the exchange and returns `next` or newer, never `old`.
//    Cycles that already ended did so with the even store the publisher read, so their
//    reads of `old` happen-before the free.
//  - s odd: the reader is in cycle s and may hold `old`. It is freed only once the reader
//    has stored s+1 (ended that cycle; its reads happen-before the free); later cycles
//    start after that and, as above, load `next` or newer.
// Retired versions are therefore freed by the first collect() after the cycle that was
// running at publish time ends, at once if none was running (e.g. JACK is stopped).
//
// Threads and guarantees:
//  - acquire()/release()/Reader: ONE reader thread (the audio thread), wait-free: two
//    atomic stores and one atomic load per cycle; never allocates or frees. Not nested.
//  - publish()/collect()/retired(): any non-RT thread; serialized by an internal mutex
//    that the reader never touches. They allocate and free.
//  - The destructor frees everything: destroy only when the reader no longer runs.
template <typename T>
class Published {
public:
    // Control thread. `initial` may be null (acquire() then returns null until a publish).
    explicit Published(std::unique_ptr<const T> initial = nullptr) : current_(initial.release()) {}

    Published(const Published&) = delete;
    Published& operator=(const Published&) = delete;

    ~Published() { delete current_.load(std::memory_order_relaxed); }

    // ---- reader (audio thread) ----------------------------------------------------------

    // RT, at cycle start: the current version (may be null), valid until release().
    const T* acquire() noexcept RT_NONBLOCKING {
        reader_seq_ += 1; // odd: inside a cycle
        reader_state_.store(reader_seq_, std::memory_order_seq_cst);
        return current_.load(std::memory_order_seq_cst);
    }

    // RT, at cycle end: the pointer from acquire() must not be used any more.
    void release() noexcept RT_NONBLOCKING {
        reader_seq_ += 1; // even: between cycles
        reader_state_.store(reader_seq_, std::memory_order_seq_cst);
    }

    // RT: acquire() on construction, release() on destruction, for one cycle.
    class Reader {
    public:
        explicit Reader(Published& p) noexcept RT_NONBLOCKING : owner_(p), value_(p.acquire()) {}
        ~Reader() RT_NONBLOCKING { owner_.release(); }
        Reader(const Reader&) = delete;
        Reader& operator=(const Reader&) = delete;

        const T* get() const noexcept RT_NONBLOCKING { return value_; }
        const T* operator->() const noexcept RT_NONBLOCKING { return value_; }
        const T& operator*() const noexcept RT_NONBLOCKING { return *value_; }
        explicit operator bool() const noexcept RT_NONBLOCKING { return value_ != nullptr; }

    private:
        Published& owner_;
        const T* value_;
    };

    // ---- control side ------------------------------------------------------------------

    // Control thread: makes `next` (may be null) the current version. The replaced one is
    // retired; whatever can already be freed is freed here (see collect()).
    void publish(std::unique_ptr<const T> next) {
        std::vector<std::unique_ptr<const T>> doomed;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            retired_.reserve(retired_.size() + 1); // may throw before anything changed
            const T* old = current_.exchange(next.release(), std::memory_order_seq_cst);
            const std::uint64_t seen = reader_state_.load(std::memory_order_seq_cst);
            if (old != nullptr) {
                retired_.push_back(Retired{std::unique_ptr<const T>(old), seen});
            }
            take_freeable(doomed);
        }
        // `doomed` is freed here, outside the lock.
    }

    // Control/housekeeping thread: frees the retired versions the reader can no longer
    // see. Returns how many were freed. Call it periodically (e.g. from the main loop).
    std::size_t collect() {
        std::vector<std::unique_ptr<const T>> doomed;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            take_freeable(doomed);
        }
        return doomed.size();
    }

    // Any non-RT thread: versions retired but not freed yet.
    std::size_t retired() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return retired_.size();
    }

private:
    struct Retired {
        std::unique_ptr<const T> version;
        std::uint64_t reader_state; // reader_state_ seen right after the swap
    };

    // Caller holds mutex_. Moves out every retired version the reader cannot hold.
    void take_freeable(std::vector<std::unique_ptr<const T>>& out) {
        if (retired_.empty()) {
            return;
        }
        out.reserve(retired_.size()); // the loop below must not throw half-way
        const std::uint64_t now = reader_state_.load(std::memory_order_seq_cst);
        std::size_t kept = 0;
        for (auto& r : retired_) {
            const bool reader_was_idle = (r.reader_state & 1U) == 0;
            if (reader_was_idle || now != r.reader_state) {
                out.push_back(std::move(r.version));
            } else {
                retired_[kept++] = std::move(r);
            }
        }
        retired_.resize(kept);
    }

    std::atomic<const T*> current_;
    std::atomic<std::uint64_t> reader_state_{0};
    std::uint64_t reader_seq_ = 0; // reader thread only: mirror of reader_state_

    mutable std::mutex mutex_; // control side only
    std::vector<Retired> retired_;
};

} // namespace lockstep
