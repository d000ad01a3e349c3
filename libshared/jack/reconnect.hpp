// Pure pieces of the adapter's reconnection logic, kept apart so they can be unit-tested.
#pragma once

#include "jack/cycle.hpp"

#include <chrono>
#include <cstdint>

namespace lockstep::jack {

// Delay after failed reconnection attempt `attempt` (0 = the first failure) before the next
// jack_client_open: 100 ms doubling to a 1 s cap. The cap bounds how long a client stays
// away once the server is back: at most one cap plus the time jack_client_open takes (the
// supervisor also waits for the server's socket to answer, see server_probe.hpp).
inline constexpr std::chrono::milliseconds reconnect_first_delay{100};
inline constexpr std::chrono::milliseconds reconnect_max_delay{1000};
std::chrono::milliseconds reconnect_delay(std::uint32_t attempt) noexcept;

// Offset added to a new server's unwrapped frame counter so that frames stay monotonic
// across a reconnection: the smallest multiple of 2^32 that puts the new session's first
// frame at or after `previous_end` (the end of the last cycle before the server went away).
// A multiple of 2^32 keeps the low 32 bits equal to JACK's own frame counter, so clients
// that lived through the same restart keep agreeing on absolute frames.
// Thread: any (RT: the first cycle of a session).
Frame session_offset(Frame previous_end, Frame first_unwrapped) noexcept RT_NONBLOCKING;

// Offset for a cycle within a session: JACK's frame counter is followed as is, forward jumps
// included (time passes), but it is never allowed to go back. jackd2 moves its counter back
// by the difference when the period shrinks (PipeWire jumps forward to a multiple of the new
// period instead); then the offset grows so that the cycle starts where the last one ended.
// Thread: any (RT: every cycle).
Frame monotonic_offset(Frame offset, Frame unwrapped, Frame previous_end) noexcept RT_NONBLOCKING;

} // namespace lockstep::jack
