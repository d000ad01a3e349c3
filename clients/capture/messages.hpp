// Every message that crosses a thread in lockstep-capture (STYLE: one header names them
// all). Each is a small trivially copyable struct; they travel through bounded
// single-producer queues (rt/spsc_queue.hpp):
//   ToEngine    control (OSC) thread -> audio thread: start/stop at an exact frame
//   AbortTake   disk thread -> audio thread: a take's file failed (disk full), stop it
//   FromEngine  audio thread -> control thread: takes started/stopped, refusals
//   Mark        audio thread -> disk thread: where in the ring a take starts, ends, or
//               needs silence; the audio itself travels through the AudioRing (ring.hpp)
// The autosampler (autosample_engine.hpp) has its own:
//   AutoMidi     session (control) thread -> audio thread: a MIDI message at an exact frame
//   AutoSent     audio thread -> session thread: when it really went out
//   AutoSegment  audio thread -> session thread: ring position where contiguous frames
//                restart (first cycle, a frame jump, an overrun)
#pragma once

#include "time/frame_clock.hpp"

#include <cstdint>
#include <type_traits>

namespace lockstep::capture {

// Frame value meaning "at the start of the next cycle" (no timetag, or a due one).
inline constexpr Frame asap = -1;

// What started or stopped a take.
enum class Trigger : std::uint8_t {
    osc,       // /capture/start, /capture/stop
    transport, // --transport: JACK transport started/stopped rolling
    level,     // --threshold: input level crossed the threshold / stayed below for --hold
    disk,      // the disk thread gave up on the take (disk full, I/O error)
    shutdown,  // the recorder is closing
};

// ---- control -> audio -----------------------------------------------------------------
enum class ToEngineKind : std::uint8_t { start, stop };
struct ToEngine {
    ToEngineKind kind = ToEngineKind::start;
    Frame frame = asap; // the exact frame it applies at (from an OSC timetag)
};
static_assert(std::is_trivially_copyable_v<ToEngine>);

// ---- disk -> audio --------------------------------------------------------------------
struct AbortTake {
    std::uint64_t take = 0;
};
static_assert(std::is_trivially_copyable_v<AbortTake>);

// ---- audio -> control -----------------------------------------------------------------
enum class FromEngineKind : std::uint8_t {
    started, // take `take` begins with the sample of `frame` (trigger at `trigger_frame`)
    stopped, // take `take` ends before `frame`; `frames` frames long (silence fills included)
    refused, // a start or stop that could not be honoured (`trigger` says which)
};
struct FromEngine {
    FromEngineKind kind = FromEngineKind::started;
    Trigger trigger = Trigger::osc;
    std::uint64_t take = 0;
    Frame frame = 0;
    Frame trigger_frame = 0;
    std::uint64_t frames = 0;
};
static_assert(std::is_trivially_copyable_v<FromEngine>);

// ---- audio -> disk --------------------------------------------------------------------
// Each mark applies at ring position `pos` (frames ever written to the ring); marks come in
// increasing `pos` order and never ahead of the data they describe.
enum class MarkKind : std::uint8_t {
    take_start, // take `take`'s first sample (JACK frame `frame`) is at `pos`
    gap,        // `frames` frames of silence belong before the sample at `pos`
    take_end,   // take `take` ends before `pos` (JACK frame `frame` is its end)
};
struct Mark {
    MarkKind kind = MarkKind::take_start;
    std::uint64_t take = 0;
    std::uint64_t pos = 0;
    Frame frame = 0;
    std::uint64_t frames = 0;
};
static_assert(std::is_trivially_copyable_v<Mark>);

// ---- autosampler ----------------------------------------------------------------------
// Session thread -> audio thread, in non-decreasing `frame` order. A frame already past
// goes out at the start of the next cycle (and is reported late).
struct AutoMidi {
    Frame frame = 0;
    std::uint32_t id = 0;       // echoed in AutoSent
    std::uint8_t bytes[3] = {}; // a channel message
    std::uint8_t size = 0;
};
static_assert(std::is_trivially_copyable_v<AutoMidi>);

// Audio thread -> session thread: message `id` went out at `frame`.
struct AutoSent {
    std::uint32_t id = 0;
    Frame frame = 0;
    bool late = false; // later than asked
};
static_assert(std::is_trivially_copyable_v<AutoSent>);

// Audio thread -> session thread: ring position `pos` holds the sample of JACK frame
// `frame`, and frames are contiguous from there until the next segment.
struct AutoSegment {
    std::uint64_t pos = 0;
    Frame frame = 0;
};
static_assert(std::is_trivially_copyable_v<AutoSegment>);

} // namespace lockstep::capture
