// OSC timetags on a running client's frame clock: the glue between osc::Endpoint's
// mapper and the JACK adapter (DESIGN.md section 2, docs/timing.md).
#pragma once

#include "jack/client.hpp"
#include "time/clock_map.hpp"

#include <cstdint>
#include <optional>

namespace lockstep::jack {

// Any non-RT thread (the OSC thread). Reads the clock pair now: CLOCK_REALTIME (what
// OSC timetags count) and jack_get_time() (what JACK's cycle times count), back to back.
ClockPair read_clock_pair() noexcept;

// Any non-RT thread. The frame at which the timetag's instant falls, mapped through the
// latest cycle's times (jack_get_cycle_times); nullopt before the first cycle. The
// immediate timetag (1) and past instants map to frames already due: the caller applies
// them at the start of the next cycle.
std::optional<Frame> frame_at_timetag(const Client& client, std::uint64_t ntp_timetag) noexcept;

} // namespace lockstep::jack
