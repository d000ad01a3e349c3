// One JACK process cycle as an engine sees it, without any JACK header: engines include
// this file only, and tests drive them offline by building Cycles themselves (see
// jack/offline.hpp for a ready-made driver).
#pragma once

#include "rt/rt.hpp"
#include "time/frame_clock.hpp" // lockstep::Frame

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

namespace lockstep::jack {

// Largest JACK period the adapter and engines must be ready for (jackd2's limit). Sizing
// for it up front means a buffer-size change never allocates.
inline constexpr std::uint32_t max_buffer_size = 8192;

// A MIDI input event. `bytes` points into the port buffer: valid during this cycle only.
struct MidiEvent {
    std::uint32_t offset = 0; // frames after Cycle::start, < Cycle::nframes
    std::span<const std::uint8_t> bytes;
};

// A queued MIDI output event; its bytes live in the writer's byte storage.
struct MidiOutEvent {
    std::uint32_t offset = 0;
    std::uint32_t size = 0;
    std::uint32_t data = 0; // index of the first byte in the writer's storage
};

// Collects one cycle's output events of one MIDI port in preallocated storage. Events may
// be written in any offset order (e.g. track by track); events() hands them out sorted by
// offset, equal offsets in write order. A write that cannot be honoured is counted, never
// silently lost: `late` (offset outside the cycle), `overflow` (storage full), `invalid`
// (empty message).
class MidiWriter {
public:
    // Control thread (allocates): room for `max_events` events and `max_bytes` bytes per cycle.
    MidiWriter(std::size_t max_events, std::size_t max_bytes);

    // RT: starts a new cycle of `nframes` frames; drops queued events and per-cycle counts.
    void reset(std::uint32_t nframes) noexcept RT_NONBLOCKING;

    // RT: queues `bytes` at `offset`. Returns false (and counts why) when it cannot.
    bool write(std::uint32_t offset, std::span<const std::uint8_t> bytes) noexcept RT_NONBLOCKING;
    bool write(std::uint32_t offset,
               std::initializer_list<std::uint8_t> bytes) noexcept RT_NONBLOCKING {
        return write(offset, std::span<const std::uint8_t>(bytes.begin(), bytes.size()));
    }

    // RT: this cycle's events, sorted by offset (stable).
    std::span<const MidiOutEvent> events() noexcept RT_NONBLOCKING;
    // RT: the bytes of one of events().
    std::span<const std::uint8_t> bytes(const MidiOutEvent& e) const noexcept RT_NONBLOCKING {
        return {bytes_.data() + e.data, e.size};
    }

    // RT: this cycle's length and failure counts (reset by reset()).
    std::uint32_t nframes() const noexcept RT_NONBLOCKING { return nframes_; }
    std::uint32_t late() const noexcept RT_NONBLOCKING { return late_; }
    std::uint32_t overflow() const noexcept RT_NONBLOCKING { return overflow_; }
    std::uint32_t invalid() const noexcept RT_NONBLOCKING { return invalid_; }

private:
    std::vector<MidiOutEvent> events_;
    std::vector<std::uint8_t> bytes_;
    std::size_t count_ = 0;
    std::size_t used_bytes_ = 0;
    std::uint32_t nframes_ = 0;
    std::uint32_t late_ = 0;
    std::uint32_t overflow_ = 0;
    std::uint32_t invalid_ = 0;
    bool sorted_ = true;
};

// Bar/beat/tick as JACK's timebase master publishes it (jack_position_t's BBT fields).
struct Bbt {
    std::int32_t bar = 1;  // 1-based
    std::int32_t beat = 1; // 1-based
    std::int32_t tick = 0; // 0 .. ticks_per_beat - 1
    double bar_start_tick = 0;
    float beats_per_bar = 4;
    float beat_type = 4;
    double ticks_per_beat = 1920;
    double beats_per_minute = 120;
    friend bool operator==(const Bbt&, const Bbt&) = default;
};

// JACK transport as seen at a cycle's first frame (jack_transport_query on the process
// thread). Engines that ignore transport ignore this.
enum class TransportState : std::uint8_t { stopped, rolling, starting };
struct Transport {
    bool valid = false; // the adapter queried JACK this cycle (false offline unless set)
    TransportState state = TransportState::stopped;
    std::uint32_t frame = 0; // transport frame at Cycle::start (jack_position_t::frame)
    friend bool operator==(const Transport&, const Transport&) = default;
};

// Everything an engine gets for one cycle. Port vectors are indexed in the order the
// client declared its ports of that kind. Audio spans are `nframes` long; engines must
// write every frame of every audio output.
struct Cycle {
    // Frame of the cycle's first sample: JACK's frame counter unwrapped to 64 bits, never
    // before the previous cycle's end. It may jump forward when JACK moves its counter
    // (buffer-size changes, PipeWire's freewheel switch), by up to 2^32 frames when the
    // counter steps back (see jack/cycle_frames.hpp).
    Frame start = 0;
    std::uint32_t nframes = 0; // cycle length (the JACK period, may change between cycles)
    std::uint32_t rate = 0;    // sample rate (Hz)
    bool freewheeling = false; // JACK is running as fast as it can, not in real time
    // jack_get_cycle_times() of this cycle (JACK's clock, µs): when the cycle started and
    // when the next one is due. 0 when unknown (offline drivers, or JACK refused).
    std::uint64_t usecs = 0;
    std::uint64_t next_usecs = 0;
    // CLOCK_MONOTONIC_RAW - JACK's clock (jack_get_time()), ns, read back to back every
    // cycle and smoothed: add it to a JACK time to get a CLOCK_MONOTONIC_RAW time. 0 on
    // jackd2 (JACK2 counts CLOCK_MONOTONIC_RAW on Linux); on PipeWire JACK's clock is
    // CLOCK_MONOTONIC, which NTP slews away from the raw clock (by 250 ms on one machine).
    std::int64_t raw_offset_ns = 0;
    Transport transport;  // JACK transport at `start`
    bool has_bbt = false; // a timebase master published `bbt` for this cycle
    Bbt bbt;              // bar/beat/tick at `start` (when has_bbt)

    std::span<const std::span<const MidiEvent>> midi_in; // per port, sorted by offset
    std::span<MidiWriter> midi_out;                      // per port, reset for this cycle
    std::span<const std::span<const float>> audio_in;
    std::span<const std::span<float>> audio_out;

    Frame end() const noexcept RT_NONBLOCKING { return start + nframes; }
};

// An engine, as the JACK adapter (and offline tests) drive it.
class Processor {
public:
    virtual ~Processor() = default;

    // RT: called once per cycle, cycles in increasing frame order. Never allocates, locks,
    // logs or does I/O.
    virtual void process(Cycle& cycle) noexcept RT_NONBLOCKING = 0;
};

// An engine that can be JACK's timebase master (ClientOptions::timebase).
class TimebaseSource {
public:
    virtual ~TimebaseSource() = default;

    // RT (the process thread, from JACK's timebase callback): the BBT and tempo at transport
    // frame `transport_frame`. Return false to leave the BBT fields unset this cycle.
    virtual bool timebase(std::uint32_t transport_frame, Bbt& out) noexcept RT_NONBLOCKING = 0;
};

} // namespace lockstep::jack
