// The audio ring between the audio thread and the disk thread: one planar region per
// channel (so the audio thread copies each input with at most two memcpys), positions
// counted in frames since construction (64-bit, never wrap).
//
// Single producer (the audio thread), single consumer (the disk thread). The producer
// never overwrites frames the consumer has not released: when there is no room it is the
// engine's business to drop (and count) or, in freewheel, to wait.
#pragma once

#include "rt/rt.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace lockstep::capture {

class AudioRing {
public:
    // Control thread. Allocates channels * capacity floats and touches every page, so the
    // audio thread never takes a page fault on first use.
    AudioRing(std::uint32_t channels, std::uint64_t capacity);

    std::uint32_t channels() const noexcept RT_NONBLOCKING { return channels_; }
    std::uint64_t capacity() const noexcept RT_NONBLOCKING { return capacity_; }

    // ---- producer (RT) ----
    // Frames written so far (the next frame goes to this position).
    std::uint64_t write_pos() const noexcept RT_NONBLOCKING { return w_; }
    // Room for this many frames now (a lower bound while the consumer runs).
    std::uint64_t free_frames() const noexcept RT_NONBLOCKING {
        return capacity_ - (w_ - r_.load(std::memory_order_acquire));
    }
    // Copies frames [offset, offset + n) of each input into the ring at write_pos() and
    // publishes them. The caller checked free_frames() >= n. Inputs beyond channels() are
    // ignored; missing inputs are written as silence.
    void write(std::span<const std::span<const float>> in, std::uint32_t offset,
               std::uint32_t n) noexcept RT_NONBLOCKING;

    // ---- consumer (disk thread) ----
    // Frames published so far (acquire: the data before it is visible).
    std::uint64_t published() const noexcept { return published_.load(std::memory_order_acquire); }
    std::uint64_t read_pos() const noexcept { return r_.load(std::memory_order_relaxed); }
    // Channel `c`'s samples from `pos` on, up to `n` frames but not across the ring's end.
    std::span<const float> read(std::uint32_t c, std::uint64_t pos, std::uint64_t n) const noexcept;
    // Frames before `pos` may be overwritten from now on (pos never decreases).
    void release(std::uint64_t pos) noexcept { r_.store(pos, std::memory_order_release); }

    // Any thread: frames held (published - released), for the "buffer fill" figure.
    std::uint64_t fill() const noexcept {
        const auto r = r_.load(std::memory_order_relaxed);
        const auto p = published_.load(std::memory_order_relaxed);
        return p > r ? p - r : 0;
    }

private:
    std::uint32_t channels_;
    std::uint64_t capacity_;
    std::vector<float> data_; // channel c at [c * capacity_, (c + 1) * capacity_)
    std::uint64_t w_ = 0;     // producer-local write position
    alignas(64) std::atomic<std::uint64_t> published_{0};
    alignas(64) std::atomic<std::uint64_t> r_{0};
};

} // namespace lockstep::capture
