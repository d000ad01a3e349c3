// Pure pieces of the adapter's reconnection logic, kept apart so they can be unit-tested.
#pragma once

#include "rt/rt.hpp"

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

} // namespace lockstep::jack
