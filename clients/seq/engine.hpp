// lockstep-seq's engine: turns the published Model, the tempo map and transport messages
// into MIDI at exact frames (docs/seq.md is the definition). Plain C++: no JACK or liblo
// header; tests drive it offline with jack::OfflineDriver.
//
// Threads: process() and timebase() run on the audio thread (RT_NONBLOCKING: no
// allocation, lock, log or I/O). send(), receive() and the constructor are for the one
// control thread. status() and counters() may be called from any thread.
#pragma once

#include "jack/cycle.hpp"
#include "link.hpp"
#include "messages.hpp"
#include "model.hpp"
#include "rt/publish.hpp"
#include "rt/rt.hpp"
#include "rt/spsc_queue.hpp"
#include "time/timeline.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace lockstep::seq {

enum class TransportMode : std::uint8_t { internal, master, follow };

// Index of each MIDI output port in Cycle::midi_out (the JACK adapter registers them in
// this order): out, clock, sync, then out_1 .. out_<max_tracks> when track_ports is set.
inline constexpr std::size_t port_out = 0;
inline constexpr std::size_t port_clock = 1;
inline constexpr std::size_t port_sync = 2;
inline constexpr std::size_t port_track0 = 3;

struct EngineOptions {
    Bpm tempo = Bpm(120);     // the tempo at the song's start until changed
    std::uint64_t seed = 0;   // --seed: probability decisions (chance.hpp)
    bool track_ports = false; // per-track outs after out/clock/sync (`model.tracks` of them used)
    TransportMode transport = TransportMode::internal;
    std::size_t queue_capacity = 1024; // each direction
    std::size_t tempo_changes = 1024;  // scheduled tempo changes that may wait at once
    std::size_t max_pending = 8192;    // note-ons + note-offs computed but not yet emitted
    // --link: the Ableton Link session to follow and lead (docs/seq.md, "Ableton Link");
    // internal transport only. Must outlive the engine. Null: no Link.
    LinkSession* link = nullptr;
};

// What the engine is doing, as of the last cycle (a consistent snapshot).
struct EngineStatus {
    bool playing = false;
    std::uint8_t pattern = 0;
    std::uint8_t step = 0;
    std::uint8_t slot = 0;
    std::uint64_t instances = 0; // pattern instances begun since the last start
    Frame frame = 0;             // the last cycle's end
    Bpm bpm = Bpm(120);          // tempo in force at the last cycle's end
};

struct EngineCounters {
    std::uint64_t cycles = 0;
    std::uint64_t notes = 0;            // note-ons written
    std::uint64_t midi_refused = 0;     // writes the MidiWriters refused (late/overflow)
    std::uint64_t feedback_dropped = 0; // FromEngine messages lost to a full queue
    std::uint64_t tempo_refused = 0;
    std::uint64_t events_dropped = 0;         // hits or sync messages lost to full engine storage
    std::uint64_t link_tempo_follows = 0;     // Link tempo changes applied at a step boundary
    std::uint64_t link_phase_corrections = 0; // one-step tempo nudges back onto Link's grid
};

class Engine final : public jack::Processor, public jack::TimebaseSource {
public:
    // Control thread (allocates everything process() will use). `model` must outlive the
    // engine; the control thread publishes edits to it.
    Engine(EngineOptions options, Published<Model>& model);
    ~Engine() override;
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // RT: one cycle. Applies due messages at their exact frames, emits the cycle's MIDI.
    void process(jack::Cycle& cycle) noexcept RT_NONBLOCKING override;
    // RT: BBT and tempo at a transport frame (master mode).
    bool timebase(std::uint32_t transport_frame, jack::Bbt& out) noexcept RT_NONBLOCKING override;

    // Control thread: queue a message for the audio thread; false when the queue is full.
    bool send(const ToEngine& message) noexcept;
    // Control thread: the next feedback message, if any.
    bool receive(FromEngine& out) noexcept;

    // Any thread.
    EngineStatus status() const noexcept;
    EngineCounters counters() const noexcept;
    const EngineOptions& options() const noexcept { return options_; }

private:
    struct Impl; // audio-thread state (defined in engine.cpp)
    EngineOptions options_;
    Published<Model>& model_;
    SpscQueue<ToEngine> to_engine_;
    SpscQueue<FromEngine> from_engine_;
    Impl* impl_; // owned; allocated by the constructor
};

} // namespace lockstep::seq
