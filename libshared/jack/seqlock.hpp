// Single-writer sequence lock: the audio thread publishes a small trivially copyable value
// (e.g. the cycle timing) wait-free; other threads read a consistent copy, retrying while a
// write is in progress. The writer never waits for readers.
#pragma once

#include "rt/rt.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace lockstep::jack {

template <typename T>
class SeqLock {
    static_assert(std::is_trivially_copyable_v<T>);
    static constexpr std::size_t words =
        (sizeof(T) + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t);

public:
    // One thread only (typically RT). Wait-free.
    void store(const T& value) noexcept RT_NONBLOCKING {
        std::array<std::uint64_t, words> tmp{};
        std::memcpy(tmp.data(), &value, sizeof(T));
        const auto s = seq_.load(std::memory_order_relaxed);
        seq_.store(s + 1, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_release);
        for (std::size_t i = 0; i < words; ++i) {
            data_[i].store(tmp[i], std::memory_order_relaxed);
        }
        seq_.store(s + 2, std::memory_order_release);
    }

    // Any thread. Returns false when nothing was ever stored. Lock-free (retries while the
    // writer is mid-store, which takes nanoseconds).
    bool load(T& out) const noexcept {
        for (;;) {
            const Read r = read_once(out);
            if (r != Read::busy) {
                return r == Read::ok;
            }
        }
    }

    // Any thread, RT included: wait-free, one attempt. False when nothing was stored yet
    // or the writer was mid-store (then `out` is untouched). For a reader that must not
    // spin: it could wait forever for a lower-priority writer preempted on its core.
    bool try_load(T& out) const noexcept RT_NONBLOCKING { return read_once(out) == Read::ok; }

private:
    enum class Read { ok, empty, busy };

    Read read_once(T& out) const noexcept RT_NONBLOCKING {
        const auto s1 = seq_.load(std::memory_order_acquire);
        if ((s1 & 1U) != 0) {
            return Read::busy;
        }
        std::array<std::uint64_t, words> tmp{};
        for (std::size_t i = 0; i < words; ++i) {
            tmp[i] = data_[i].load(std::memory_order_relaxed);
        }
        std::atomic_thread_fence(std::memory_order_acquire);
        if (seq_.load(std::memory_order_relaxed) != s1) {
            return Read::busy;
        }
        if (s1 == 0) {
            return Read::empty;
        }
        // T is trivially copyable (asserted above); the cast tells g++ so.
        std::memcpy(static_cast<void*>(&out), tmp.data(), sizeof(T));
        return Read::ok;
    }

    std::atomic<std::uint64_t> seq_{0};
    std::array<std::atomic<std::uint64_t>, words> data_{};
};

} // namespace lockstep::jack
