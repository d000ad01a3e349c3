// lockstep-capture's engine: copies every cycle's inputs into the AudioRing and tells the
// disk thread, through Marks, exactly which ring frames make up each take. Starts and
// stops land on exact frames (OSC messages with frames, JACK transport, input level with
// a hold time); with a pre-roll the ring keeps the last seconds between takes so a take
// can begin before its trigger. Plain C++: no JACK or libsndfile header; tests drive it
// offline with jack::OfflineDriver.
//
// The audio thread never waits, except in freewheel: nothing is real time then, and a
// take must not lose a frame, so process() waits (polling, bounded by
// EngineOptions::freewheel_wait_ns) for the disk thread to make room.
// Outside freewheel, a cycle that finds no room is an overrun: counted, and recorded as a
// gap that the disk thread fills with silence, so the file stays aligned with frame time.
//
// Threads: process() runs on the audio thread (RT_NONBLOCKING: no allocation, lock, log
// or I/O). send() is for the one control (OSC) thread, abort() for the disk thread,
// receive() for the one control thread that reads feedback, pop_mark() for the disk
// thread. status(), counters() and meters may be read from any thread.
#pragma once

#include "jack/cycle.hpp"
#include "messages.hpp"
#include "ring.hpp"
#include "rt/rt.hpp"
#include "rt/spsc_queue.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace lockstep::capture {

struct EngineOptions {
    std::uint32_t channels = 2;
    std::uint64_t preroll = 0;         // frames kept before a take's trigger (0: no pre-roll)
    std::uint64_t buffer = 24000;      // ring room for the disk thread beyond the pre-roll (frames)
    bool transport = false;            // record while JACK transport rolls
    bool level = false;                // start when any input reaches `threshold`
    float threshold = 1.0F;            // linear amplitude (|sample| >= threshold is loud)
    std::uint64_t hold = 0;            // a level take ends `hold` frames after its last loud sample
    std::uint32_t meter_window = 2400; // frames per meter reading (~20 Hz at 48 kHz)
    std::uint64_t max_gap_fill = 48000 * 60; // frame jumps up to this are filled with silence
    std::uint64_t freewheel_wait_ns = 5'000'000'000; // longest wait for room in freewheel
    std::size_t queue_capacity = 256;
    std::size_t marks_capacity = 8192;
};

enum class State : std::uint8_t { idle, armed, recording };
const char* to_string(State s) noexcept;

struct EngineStatus {
    State state = State::idle;
    std::uint64_t take = 0;        // current (or last) take number, 0 before the first
    Frame take_first_frame = 0;    // frame of its first sample
    std::uint64_t take_frames = 0; // frames it holds so far (silence fills included)
    std::uint64_t ring_fill = 0;   // frames in the ring not yet released by the disk thread
    std::uint64_t ring_capacity = 0;
};

struct EngineCounters {
    std::uint64_t cycles = 0;
    std::uint64_t takes = 0;
    std::uint64_t overruns = 0;        // cycle segments of a take that found no room
    std::uint64_t overrun_frames = 0;  // frames they held (written as silence)
    std::uint64_t skipped_frames = 0;  // frames JACK skipped during a take (written as silence)
    std::uint64_t unfilled_jumps = 0;  // frame jumps too large to fill
    std::uint64_t preroll_dropped = 0; // pre-roll frames that found no room (between takes)
    std::uint64_t refused = 0;         // starts while recording, stops while idle, full queues
    std::uint64_t feedback_dropped = 0;
    std::uint64_t freewheel_waits = 0;    // cycles that waited for the disk thread
    std::uint64_t freewheel_timeouts = 0; // waits that gave up (then: overrun)
};

class Engine final : public jack::Processor {
public:
    // Control thread: allocates the ring (channels * (preroll + buffer) frames) and every
    // buffer process() uses.
    explicit Engine(EngineOptions options);
    ~Engine() override;
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // RT: one cycle.
    void process(jack::Cycle& cycle) noexcept RT_NONBLOCKING override;

    // Control thread: queue a start/stop; false when the queue is full.
    bool send(const ToEngine& message) noexcept;
    // Disk thread: stop take `take` at the next cycle (its file failed).
    bool abort(std::uint64_t take) noexcept;
    // Control thread: the next feedback message, if any.
    bool receive(FromEngine& out) noexcept;

    // Disk thread: the ring and the marks that describe it.
    AudioRing& ring() noexcept { return ring_; }
    const SpscQueue<Mark>& marks() const noexcept { return marks_; }
    SpscQueue<Mark>& marks() noexcept { return marks_; }

    // Any thread.
    EngineStatus status() const noexcept;
    EngineCounters counters() const noexcept;
    const EngineOptions& options() const noexcept { return options_; }
    // Any thread: the latest meter reading of channel c (linear), and how many readings
    // have been published (changes ~20 times a second while cycles run).
    float peak(std::uint32_t c) const noexcept { return peak_[c].load(std::memory_order_relaxed); }
    float rms(std::uint32_t c) const noexcept { return rms_[c].load(std::memory_order_relaxed); }
    std::uint64_t meter_readings() const noexcept {
        return meter_seq_.load(std::memory_order_acquire);
    }

private:
    void apply(const ToEngine& m, const jack::Cycle& cycle,
               std::uint32_t off) noexcept RT_NONBLOCKING;
    void start_take(const jack::Cycle& cycle, std::uint32_t off,
                    Trigger trigger) noexcept RT_NONBLOCKING;
    void stop_take(const jack::Cycle& cycle, std::uint32_t off,
                   Trigger trigger) noexcept RT_NONBLOCKING;
    void write_segment(const jack::Cycle& cycle, std::uint32_t off,
                       std::uint32_t len) noexcept RT_NONBLOCKING;
    bool flush_end() noexcept RT_NONBLOCKING;
    void meter(const jack::Cycle& cycle) noexcept RT_NONBLOCKING;
    void scan_level(const jack::Cycle& cycle) noexcept RT_NONBLOCKING;
    void feedback(const FromEngine& m) noexcept RT_NONBLOCKING;
    void publish_status() noexcept RT_NONBLOCKING;

    EngineOptions options_;
    AudioRing ring_;
    SpscQueue<ToEngine> to_engine_;
    SpscQueue<AbortTake> aborts_;
    SpscQueue<FromEngine> from_engine_;
    SpscQueue<Mark> marks_;

    // Audio-thread state.
    struct Rt {
        bool recording = false;
        Trigger trigger = Trigger::osc;
        std::uint64_t take = 0;
        Frame take_first = 0;
        std::uint64_t take_frames = 0;
        std::uint64_t pending_gap = 0; // silence owed to the take before the next data
        bool end_pending = false;      // a take_end mark that found the queue full
        Mark end_mark;
        bool contig_valid = false; // ring frames from contig_pos on are contiguous in time
        std::uint64_t contig_pos = 0;
        Frame contig_frame = 0;
        bool have_expected = false;
        Frame expected = 0;
        bool was_rolling = false;
        // level trigger: offsets of the first and last loud sample of this cycle (-1: none)
        std::int64_t first_loud = -1;
        std::int64_t last_loud = -1;
        Frame last_loud_frame = 0;
        // meters
        std::vector<float> peak;
        std::vector<float> sumsq;
        std::uint32_t window = 0;
        EngineCounters counters;
    } rt_;

    std::unique_ptr<std::atomic<float>[]> peak_;
    std::unique_ptr<std::atomic<float>[]> rms_;
    std::atomic<std::uint64_t> meter_seq_{0};

    std::atomic<State> state_{State::idle};
    std::atomic<std::uint64_t> take_{0};
    std::atomic<Frame> take_first_{0};
    std::atomic<std::uint64_t> take_frames_{0};
    struct AtomicCounters {
        std::atomic<std::uint64_t> cycles{0}, takes{0}, overruns{0}, overrun_frames{0},
            skipped_frames{0}, unfilled_jumps{0}, preroll_dropped{0}, refused{0},
            feedback_dropped{0}, freewheel_waits{0}, freewheel_timeouts{0};
    } counters_;
};

} // namespace lockstep::capture
