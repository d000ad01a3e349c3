// The 64-bit frame clock: JACK's 32-bit frame counter unwrapped.
//
// JACK's jack_nframes_t counter wraps after 2^32 frames (~24.8 h at 48 kHz, ~6.2 h at
// 192 kHz). FrameClock turns the cycle-start readings (jack_last_frame_time()) into a
// monotonic 64-bit Frame that never wraps in practice (2^63 frames is ~1.5 million years
// at 192 kHz).
//
// Semantics (docs/timing.md):
// - The first reading r maps to Frame r, so until the first wrap the 64-bit clock equals
//   JACK's own counter; afterwards it is JACK's counter + k * 2^32.
// - Each later reading advances the clock by the forward distance (mod 2^32) from the
//   previous reading. That is exact as long as readings come less than 2^31 frames apart
//   (~12.4 h at 48 kHz); once per process cycle is far more often.
// - A restarted JACK server counts from 0 again. Call rebase() after reconnecting: the
//   next reading then maps to the frame right after the last cycle seen (last frame +
//   last advance), so the 64-bit clock stays monotonic and the music just continues.
//   A reading that jumps back by 2^31 frames or more without rebase() is treated the
//   same way (and counted in unannounced_restarts()): the JACK counter never runs
//   backwards on a running server.
//
// Threads: one writer at a time. update() runs on the audio thread; rebase() and reset()
// on the audio thread or on the thread that (re)connects while no process callback runs
// (activation orders the two). now_any_thread() may be called from any thread; the other
// getters only by the writer.
#pragma once

#include "rt/rt.hpp"

#include <atomic>
#include <cstdint>

namespace lockstep {

// A frame on the 64-bit clock (signed so that differences and "before the origin" are natural).
using Frame = std::int64_t;

class FrameClock {
public:
    // RT. Takes the cycle-start frame reading (jack_last_frame_time()) and returns it unwrapped.
    Frame update(std::uint32_t jack_frame) noexcept RT_NONBLOCKING {
        Frame next;
        if (!started_) {
            next = pending_rebase_ ? rebase_at_ : static_cast<Frame>(jack_frame);
            started_ = true;
        } else if (pending_rebase_) {
            next = rebase_at_;
        } else {
            const std::uint32_t delta = jack_frame - last_reading_; // mod 2^32
            if (delta >= (std::uint32_t{1} << 31)) {
                ++unannounced_restarts_; // counter went backwards: the server restarted
                next = frame_ + last_advance_;
            } else {
                next = frame_ + delta;
                last_advance_ = delta;
            }
        }
        pending_rebase_ = false;
        last_reading_ = jack_frame;
        frame_ = next;
        published_.store(next, std::memory_order_release);
        return next;
    }

    // Writer (RT-safe). The server restarted or the client reconnected: the next update()
    // continues right after the last cycle seen.
    void rebase() noexcept RT_NONBLOCKING {
        if (started_) {
            rebase(frame_ + last_advance_);
        }
    }
    // As rebase(), but the next update() returns exactly `continue_at` (kept >= now() so
    // the clock stays monotonic), e.g. the end of the last cycle the adapter processed.
    void rebase(Frame continue_at) noexcept RT_NONBLOCKING {
        pending_rebase_ = true;
        rebase_at_ = (started_ && continue_at < frame_) ? frame_ : continue_at;
    }

    // Writer (RT-safe). Forget everything; the next reading maps to itself again (a fresh
    // clock).
    void reset() noexcept RT_NONBLOCKING {
        started_ = false;
        pending_rebase_ = false;
        frame_ = 0;
        last_reading_ = 0;
        last_advance_ = 0;
        unannounced_restarts_ = 0;
        published_.store(0, std::memory_order_release);
    }

    // Writer thread: the frame returned by the last update() (0 before the first).
    Frame now() const noexcept RT_NONBLOCKING { return frame_; }
    // Writer thread: true once update() has run.
    bool started() const noexcept RT_NONBLOCKING { return started_; }
    // Writer thread: backward jumps seen without rebase().
    std::uint64_t unannounced_restarts() const noexcept RT_NONBLOCKING {
        return unannounced_restarts_;
    }
    // Any thread: the frame returned by the most recent update().
    Frame now_any_thread() const noexcept RT_NONBLOCKING {
        return published_.load(std::memory_order_acquire);
    }

private:
    Frame frame_ = 0;
    Frame rebase_at_ = 0;
    Frame last_advance_ = 0;
    std::uint32_t last_reading_ = 0;
    bool started_ = false;
    bool pending_rebase_ = false;
    std::uint64_t unannounced_restarts_ = 0;
    std::atomic<Frame> published_{0};
    static_assert(std::atomic<Frame>::is_always_lock_free);
};

} // namespace lockstep
