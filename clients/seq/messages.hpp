// Every message that crosses a thread in lockstep-seq (STYLE: one header names them all).
// Each is a small trivially copyable struct carrying the frame it applies at. They travel
// through bounded single-producer queues (rt/spsc_queue.hpp): control -> audio
// (ToEngine, produced only by the OSC/control thread) and audio -> control (FromEngine).
// The model itself is not a message: it is published whole (rt/publish.hpp).
#pragma once

#include "time/frame_clock.hpp"
#include "time/rational.hpp"

#include <cstdint>
#include <type_traits>

namespace lockstep::seq {

// Frame value meaning "at the start of the next cycle" (no timetag, or a due one).
inline constexpr Frame asap = -1;

// ---- control -> audio -----------------------------------------------------------
enum class ToEngineKind : std::uint8_t {
    play,        // start from position 0 (or from `position` with `has_position`)
    stop,        // stop; sounding notes get their note-off at the stop frame
    locate,      // move to `position` (playing or not)
    tempo,       // `bpm` from the next step boundary, or from `position` if has_position
    clear_tempo, // drop scheduled tempo changes that have not happened yet
};

struct ToEngine {
    ToEngineKind kind = ToEngineKind::play;
    Frame frame = asap; // the exact frame it applies at (from an OSC timetag)
    bool has_position = false;
    Position position; // beats since the song's start (exact)
    Bpm bpm;           // tempo (exact)
};
static_assert(std::is_trivially_copyable_v<ToEngine>);

// ---- audio -> control -----------------------------------------------------------
enum class FromEngineKind : std::uint8_t {
    started,       // playing from `position` at `frame`
    stopped,       // stopped at `frame` (`reason`)
    step,          // step `step` of pattern `pattern` (song slot `slot`) began at `frame`
    tempo_applied, // `bpm` in force from `position` (frame of that position: `frame`)
    tempo_refused, // a tempo change could not be applied (`reason`)
};

enum class Reason : std::uint8_t {
    none,
    user,        // /seq/stop or JACK transport
    chain_end,   // song mode without loop reached the end of the chain
    empty_chain, // song mode with an empty chain: nothing to play
    tempo_map_full,
    not_exact,    // the exact tempo map would exceed its limit (see time/timeline.hpp)
    bad_position, // a tempo change before a change already in force
    bad_tempo,    // not a tempo the tempo map accepts (<= 0, or a term >= 2^32)
};

struct FromEngine {
    FromEngineKind kind = FromEngineKind::step;
    Reason reason = Reason::none;
    std::uint8_t pattern = 0;
    std::uint8_t step = 0;
    std::uint8_t slot = 0;
    Frame frame = 0;
    Position position;
    Bpm bpm;
};
static_assert(std::is_trivially_copyable_v<FromEngine>);

} // namespace lockstep::seq
