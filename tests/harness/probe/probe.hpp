// The probe: a JACK client for integration tests (in-process) and for lockstep-probe (the
// binary). It records MIDI it receives with absolute 64-bit frames, sends MIDI at chosen
// absolute frames, writes a ramp whose sample value encodes its absolute frame and checks
// such a ramp on its input, and drives freewheel. It runs on libshared/jack's adapter, so
// it also exercises it (and reconnects like every lockstep client).
//
// Threads: process() is RT; everything else is for one control thread.
#pragma once

#include "jack/client.hpp"
#include "rt/spsc_queue.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace lockstep::test {

using lockstep::Frame;

// One MIDI message at an absolute frame (messages longer than `data` keep their size and
// their first bytes: enough for tests to tell SysEx apart).
struct ProbeEvent {
    Frame frame = 0;
    std::uint32_t size = 0;
    std::array<std::uint8_t, 12> data{};

    static ProbeEvent make(Frame frame, std::span<const std::uint8_t> bytes);
    std::span<const std::uint8_t> bytes() const {
        return {data.data(), size < data.size() ? size : data.size()};
    }
};

// Frames no cycle covered: the previous cycle ended at `from`, the next started at `to`.
struct ProbeGap {
    Frame from = 0;
    Frame to = 0;
};

// The time line of a cycle in which MIDI arrived (ProbeOptions::midi_cycle_times):
// jack_get_cycle_times() of that cycle, so that a frame of it maps to JACK's clock exactly as
// jack_frames_to_time() maps it during the cycle.
struct ProbeCycle {
    Frame start = 0;
    std::uint32_t nframes = 0;
    std::uint64_t usecs = 0;      // when the cycle started (JACK's clock, µs)
    std::uint64_t next_usecs = 0; // when the next one is due
};

struct ProbeOptions {
    std::string name = "lockstep-probe";
    std::string server; // -s; empty: the default server
    std::vector<jack::Connection> connections;
    bool midi_in = true;    // port "in"
    bool midi_out = true;   // port "out"
    bool audio_in = false;  // port "audio_in": ramp checker
    bool audio_out = false; // port "audio_out": ramp generator
    // With audio_in: record the frame of every onset on it, a sample that is not 0 after
    // one that is (or at the first frame the probe sees, when that one is not 0).
    bool audio_onsets = false;
    // Record the time line of every cycle in which MIDI arrived on "in" (midi_cycles()).
    bool midi_cycle_times = false;
    bool wait_for_server = false;
    std::size_t capacity = 1 << 16; // recorded events held until drained; scheduled events
    std::size_t audio_capture_frames = 1 << 18; // longest capture_audio() window
};

// Sample value that encodes an absolute frame: (frame mod 2^23) / 2^23, exact in a float.
float ramp_value(Frame frame) noexcept RT_NONBLOCKING;
// The frame (mod 2^23) a ramp sample encodes, or -1 when the value is no ramp value.
std::int64_t ramp_frame(float value) noexcept RT_NONBLOCKING;
inline constexpr Frame ramp_period = Frame{1} << 23;

struct ProbeCounters {
    std::uint64_t cycles = 0;
    std::uint64_t freewheel_cycles = 0; // cycles that ran with Cycle::freewheeling set
    std::uint64_t received = 0;         // MIDI events recorded
    std::uint64_t sent = 0;             // MIDI events written
    std::uint64_t record_overflow = 0;  // events lost because nobody drained the ring
    std::uint64_t late = 0;             // scheduled for a frame already past: sent at offset 0
    std::uint64_t audio_cycles_ok = 0;  // input ramp had exactly the expected delay throughout
    std::uint64_t audio_cycles_bad = 0;
    Frame audio_last_bad_frame = -1; // start frame of the latest bad cycle
    Frame audio_last_delay = -1;     // delay seen in the latest cycle's first sample
};

class Probe final : public jack::Processor {
public:
    explicit Probe(ProbeOptions options);
    ~Probe() override;
    Probe(const Probe&) = delete;
    Probe& operator=(const Probe&) = delete;

    // Opens and activates the JACK client (see jack::Client::start).
    bool start();
    void stop();
    jack::Client& client() { return client_; }
    const std::string& name() const { return client_.name(); }
    std::string port(const char* short_name) const { return client_.name() + ":" + short_name; }

    // Start frame of the latest cycle (false before the first cycle).
    bool now(Frame& frame) const;
    // Waits until `n` more cycles have run; false on timeout.
    bool wait_cycles(std::uint64_t n, std::chrono::milliseconds timeout) const;

    // Sends `bytes` (<= 12) at absolute frame `frame`; frames must not decrease from one
    // call to the next. A frame already past when its cycle comes is sent at offset 0 and
    // counted as late. False when the queue is full.
    bool schedule(Frame frame, std::span<const std::uint8_t> bytes);
    bool schedule(Frame frame, std::initializer_list<std::uint8_t> bytes) {
        return schedule(frame, std::span<const std::uint8_t>(bytes.begin(), bytes.size()));
    }
    // Sends a note-on (0x90, 60, 100) at every frame f with f mod every == phase, from the
    // next cycle on; every = 0 stops. Independent of schedule().
    void generate_every(Frame every, Frame phase = 0);
    // Expected delay (frames) of the ramp on audio_in (0 for a direct connection from a
    // client that runs before us in the same cycle).
    void expect_audio_delay(Frame delay) { audio_expected_delay_.store(delay); }
    // Records audio_in for the absolute frames [from, from + frames) (frames <=
    // options.audio_capture_frames; `from` should lie ahead). False when out of range.
    bool capture_audio(Frame from, std::size_t frames);
    // True once the whole window has been recorded; samples[k] is frame from + k.
    bool audio_captured() const { return capture_done_.load(std::memory_order_acquire); }
    const std::vector<float>& captured_audio() const { return capture_; }

    // Asks JACK to run as fast as it can (or to stop doing so).
    bool set_freewheel(bool on) { return client_.set_freewheel(on); }

    // Moves what the process thread recorded/sent into received()/sent(); returns the
    // number of new received events.
    std::size_t drain();
    const std::vector<ProbeEvent>& received() const { return received_; }
    const std::vector<ProbeEvent>& sent() const { return sent_; }
    const std::vector<ProbeGap>& gaps() const { return gaps_; }
    // With ProbeOptions::midi_cycle_times: the cycles that received MIDI, in order.
    const std::vector<ProbeCycle>& midi_cycles() const { return midi_cycles_; }
    // Onsets on audio_in (ProbeOptions::audio_onsets), in frame order.
    const std::vector<Frame>& onsets() const { return onsets_; }
    void clear() {
        received_.clear();
        sent_.clear();
        gaps_.clear();
        onsets_.clear();
        midi_cycles_.clear();
    }
    ProbeCounters counters() const;

    void process(jack::Cycle& cycle) noexcept RT_NONBLOCKING override;

private:
    static jack::ClientOptions client_options(const ProbeOptions& o);
    void record(const jack::Cycle& c) noexcept RT_NONBLOCKING;
    void generate(jack::Cycle& c) noexcept RT_NONBLOCKING;
    void check_ramp(const jack::Cycle& c) noexcept RT_NONBLOCKING;
    void capture(const jack::Cycle& c) noexcept RT_NONBLOCKING;
    void find_onsets(const jack::Cycle& c) noexcept RT_NONBLOCKING;
    void write_out(jack::Cycle& c, std::uint32_t offset, Frame frame,
                   std::span<const std::uint8_t> bytes) noexcept RT_NONBLOCKING;

    ProbeOptions options_;
    SpscQueue<ProbeEvent> received_ring_;
    SpscQueue<ProbeEvent> sent_ring_;
    SpscQueue<ProbeEvent> schedule_ring_;
    SpscQueue<ProbeGap> gap_ring_;
    SpscQueue<Frame> onset_ring_;
    SpscQueue<ProbeCycle> cycle_ring_;
    std::vector<ProbeEvent> received_;
    std::vector<ProbeEvent> sent_;
    std::vector<ProbeGap> gaps_;
    std::vector<Frame> onsets_;
    std::vector<ProbeCycle> midi_cycles_;

    // Control -> RT settings.
    std::atomic<Frame> every_{0};
    std::atomic<Frame> phase_{0};
    std::atomic<std::uint32_t> every_generation_{0};
    std::atomic<Frame> audio_expected_delay_{0};
    std::vector<float> capture_; // written by RT between capture_audio() and capture_done_
    std::atomic<Frame> capture_from_{0};
    std::atomic<Frame> capture_frames_{0};
    std::atomic<std::uint32_t> capture_generation_{0};
    std::atomic<bool> capture_done_{false};
    std::uint32_t rt_capture_generation_ = 0;
    Frame rt_capture_from_ = 0;
    Frame rt_capture_frames_ = 0; // 0: no capture under way

    // RT-only state.
    std::uint32_t rt_every_generation_ = 0;
    Frame rt_next_gen_ = -1;
    Frame rt_every_ = 0;
    Frame rt_phase_ = 0;
    Frame rt_prev_end_ = -1;
    bool rt_sounding_ = false; // the last audio_in sample seen was not 0

    // RT -> anyone.
    std::atomic<std::uint64_t> cycles_{0};
    std::atomic<std::uint64_t> freewheel_cycles_{0};
    std::atomic<std::uint64_t> received_count_{0};
    std::atomic<std::uint64_t> sent_count_{0};
    std::atomic<std::uint64_t> record_overflow_{0};
    std::atomic<std::uint64_t> late_{0};
    std::atomic<std::uint64_t> audio_ok_{0};
    std::atomic<std::uint64_t> audio_bad_{0};
    std::atomic<Frame> audio_last_bad_{-1};
    std::atomic<Frame> audio_last_delay_{-1};

    jack::Client client_; // last: stopped (destroyed) before the state its thread uses
};

} // namespace lockstep::test
