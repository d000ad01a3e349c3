// The Ableton Link session as lockstep-seq's engine sees it (docs/seq.md, "Ableton Link").
// Plain C++: no Link or JACK header. The program's implementation (link_session.hpp) wraps
// ableton::Link; engine tests use a synthetic session with a known beat grid.
//
// Times are JACK microseconds (jack_get_time()'s clock, the clock of Cycle::usecs); beats
// are Link's beats of this peer with quantum 4 (one bar of the pattern grid). The engine
// reads a snapshot once per cycle and never writes to Link from the audio thread: what it
// wants to tell the session (tempo, start, stop) it hands to request_*(), which only queue
// it (bounded, lock-free) for the control thread to commit.
#pragma once

#include "rt/rt.hpp"

#include <cstddef>
#include <cstdint>

namespace lockstep::seq {

inline constexpr double link_quantum = 4; // beats: a bar of 4/4

class LinkSession {
public:
    virtual ~LinkSession() = default;

    // Audio thread: takes the snapshot the calls below read (once per cycle).
    virtual void capture() noexcept RT_NONBLOCKING = 0;
    // Audio thread, of the snapshot.
    virtual double tempo() const noexcept RT_NONBLOCKING = 0; // BPM
    virtual bool playing() const noexcept RT_NONBLOCKING = 0; // start/stop sync state
    virtual std::int64_t playing_changed_at() const noexcept RT_NONBLOCKING = 0; // µs
    virtual double beat_at(std::int64_t usecs) const noexcept RT_NONBLOCKING = 0;
    virtual double usecs_at_beat(double beat) const noexcept RT_NONBLOCKING = 0;

    // Audio thread: queue a change for the control thread to commit to the session.
    // The tempo becomes `bpm` with the beat at `usecs` kept where it is.
    virtual void request_tempo(double bpm, std::int64_t usecs) noexcept RT_NONBLOCKING = 0;
    // Start/stop sync: playing or stopped from `usecs` on.
    virtual void request_playing(bool playing, std::int64_t usecs) noexcept RT_NONBLOCKING = 0;
};

} // namespace lockstep::seq
