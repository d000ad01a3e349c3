// The autosampler's audio-thread half: sends the session's MIDI messages at their exact
// frames on MIDI output 0 and copies every cycle's inputs into an AudioRing, telling the
// session thread where contiguous runs of frames begin (AutoSegment). Plain C++ (no JACK
// header); tests drive it offline.
//
// Like the recorder's Engine, it never waits, except in freewheel (nothing is real time
// then and no frame may be lost): it polls for room, bounded by freewheel_wait_ns.
// A cycle that finds no room is an overrun: not written, counted, and the next written
// frames start a new segment (the session then re-records the note it was recording).
//
// Threads: process() on the audio thread (RT_NONBLOCKING); send() and receive() on the
// one session thread, which also owns the ring's consumer side and pop_segment().
// now(), counters() from any thread.
#pragma once

#include "jack/cycle.hpp"
#include "messages.hpp"
#include "ring.hpp"
#include "rt/rt.hpp"
#include "rt/spsc_queue.hpp"

#include <atomic>
#include <cstdint>

namespace lockstep::capture {

struct AutoEngineOptions {
    std::uint32_t channels = 1;
    std::uint64_t ring_frames = 48000 * 10; // room for the session thread's stalls
    std::size_t queue_capacity = 1024;
    std::uint64_t freewheel_wait_ns = 5'000'000'000;
};

struct AutoCounters {
    std::uint64_t cycles = 0;
    std::uint64_t overruns = 0;    // cycles not written (no room)
    std::uint64_t segments = 0;    // contiguous runs begun
    std::uint64_t late_midi = 0;   // messages sent later than asked
    std::uint64_t midi_failed = 0; // the MIDI writer refused a message
    std::uint64_t feedback_dropped = 0;
};

class AutoEngine final : public jack::Processor {
public:
    // Control thread: allocates the ring and queues.
    explicit AutoEngine(AutoEngineOptions options);

    // RT.
    void process(jack::Cycle& cycle) noexcept RT_NONBLOCKING override;

    // Session thread: queue a MIDI message (frames non-decreasing); false when full.
    bool send(const AutoMidi& m) noexcept { return to_engine_.try_push(m); }
    // Session thread: messages queued and not sent yet (approximate).
    std::size_t unsent() const noexcept { return to_engine_.size_approx(); }
    bool receive(AutoSent& out) noexcept { return sent_.try_pop(out); }
    bool pop_segment(AutoSegment& out) noexcept { return segments_.try_pop(out); }
    const AutoSegment* peek_segment() const noexcept { return segments_.try_front(); }
    AudioRing& ring() noexcept { return ring_; }

    // Any thread: stop at once. From the next cycle on, queued note-ons are dropped and
    // every other queued message (the note-offs) goes out at offset 0, followed by
    // all-notes-off (CC 123) on `channel` (0-15); then cancelled() is true.
    void cancel(std::uint8_t channel) noexcept {
        cancel_.store(static_cast<std::uint8_t>(0x80 | (channel & 0x0F)),
                      std::memory_order_release);
    }
    bool cancelled() const noexcept { return cancel_done_.load(std::memory_order_acquire); }

    // Any thread: the end of the last cycle run (0 before the first).
    Frame now() const noexcept { return now_.load(std::memory_order_acquire); }
    AutoCounters counters() const noexcept;
    const AutoEngineOptions& options() const noexcept { return options_; }

private:
    AutoEngineOptions options_;
    AudioRing ring_;
    SpscQueue<AutoMidi> to_engine_;
    SpscQueue<AutoSent> sent_;
    SpscQueue<AutoSegment> segments_;

    struct Rt {
        bool have_expected = false;
        Frame expected = 0;
        bool new_segment = true;
        bool cancel_sent = false;
        AutoCounters counters;
    } rt_;

    void flush_cancelled(jack::Cycle& cycle, std::uint8_t channel) noexcept RT_NONBLOCKING;

    std::atomic<std::uint8_t> cancel_{0}; // 0x80 | channel once cancelled
    std::atomic<bool> cancel_done_{false};
    std::atomic<Frame> now_{0};
    struct {
        std::atomic<std::uint64_t> cycles{0}, overruns{0}, segments{0}, late_midi{0},
            midi_failed{0}, feedback_dropped{0};
    } counters_;
};

} // namespace lockstep::capture
