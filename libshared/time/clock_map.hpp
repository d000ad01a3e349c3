// Mapping wall-clock, JACK and OSC times to frames: pure functions, no JACK headers.
//
// JACK describes each cycle with jack_get_cycle_times(): the cycle's first frame, the time
// (JACK microseconds, jack_get_time()'s clock) at which it started and the time at which
// the next cycle will start. Between those two points frames are evenly spaced, and the
// same line extends before and after the cycle. Everything here is exact integer
// arithmetic (128-bit intermediates), rounded once, up: a time maps to the first frame
// that starts at or after it (docs/timing.md).
//
// Thread: any (pure functions, RT_NONBLOCKING).
#pragma once

#include "rt/rt.hpp"
#include "time/frame_clock.hpp"

#include <cstdint>

namespace lockstep {

// What jack_get_cycle_times() reports for one cycle, with the frame already unwrapped by
// FrameClock: `frame` starts at `usecs`, frame + nframes at `next_usecs` (JACK's
// DLL-filtered estimate). `rate` (frames per second) is used only when next_usecs <= usecs.
struct CycleTiming {
    Frame frame = 0;
    std::uint64_t usecs = 0;
    std::uint64_t next_usecs = 0;
    std::uint32_t nframes = 0;
    std::uint32_t rate = 0;
    // CLOCK_MONOTONIC_RAW - JACK's clock, ns (jack::Cycle::raw_offset_ns): 0 on jackd2, whose
    // clock on Linux it is; on PipeWire, whose JACK clock is CLOCK_MONOTONIC, how far NTP
    // has slewed the two apart since boot (any size: 250 ms on one test machine).
    std::int64_t raw_offset_ns = 0;
};

// The first frame whose start time is >= jack_usecs: frame + ceil((jack_usecs - usecs) *
// nframes / (next_usecs - usecs)). Times outside the cycle extrapolate along the same line.
// Saturates at the Frame range; a degenerate cycle (no span and no rate) maps to `frame`.
Frame frame_at_jack_time(const CycleTiming& cycle,
                         std::uint64_t jack_usecs) noexcept RT_NONBLOCKING;

// ---- OSC / NTP timetags --------------------------------------------------------------
// A timetag is 64 bits: seconds since 1900-01-01 UTC (high 32) and a binary fraction of a
// second (low 32). Seconds with the top bit clear are read as NTP era 1 (2036-2104), with it
// set as era 0 (1968-2036), as RFC 4330 recommends; so timetags cover 1968-01-20 to 2104-02-26.

// The OSC "immediately" timetag.
inline constexpr std::uint64_t timetag_immediate = 1;
constexpr bool is_immediate(std::uint64_t timetag) noexcept RT_NONBLOCKING {
    return timetag == timetag_immediate;
}

// Nanoseconds since the Unix epoch of a timetag, rounded to the nearest ns (halves up).
std::int64_t unix_ns_from_timetag(std::uint64_t timetag) noexcept RT_NONBLOCKING;
// The timetag nearest to a Unix time in ns (halves up). Exact inverse of the above for
// times in 1968-2104: unix_ns_from_timetag(timetag_from_unix_ns(ns)) == ns.
std::uint64_t timetag_from_unix_ns(std::int64_t unix_ns) noexcept RT_NONBLOCKING;

// One simultaneous reading of the system clock and JACK's clock: clock_gettime(
// CLOCK_REALTIME) in ns and jack_get_time() in us, taken back to back. The two clocks drift
// apart (JACK2 counts CLOCK_MONOTONIC_RAW on Linux), so take a fresh pair now and then.
struct ClockPair {
    std::int64_t realtime_ns = 0;
    std::uint64_t jack_usecs = 0;
};

// The first JACK microsecond at or after the timetag's instant:
// ceil(jack_usecs + (timetag's Unix time - realtime_ns) / 1000), computed exactly from the
// timetag's 2^-32 s units. Clamped to [0, 2^64 - 1]; the immediate timetag gives 0 (due).
std::uint64_t jack_usecs_at_timetag(std::uint64_t timetag,
                                    const ClockPair& pair) noexcept RT_NONBLOCKING;

// The first frame that starts at or after the timetag's instant, rounded once (so it can
// be one frame earlier than frame_at_jack_time(jack_usecs_at_timetag(...)), which rounds
// twice). The immediate timetag gives the smallest Frame: it is due, and callers apply
// anything due at the start of the next cycle.
Frame frame_at_timetag(const CycleTiming& cycle, const ClockPair& pair,
                       std::uint64_t timetag) noexcept RT_NONBLOCKING;

} // namespace lockstep
