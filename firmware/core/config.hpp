#pragma once
// Build-time shape of the box, shared by every part of firmware/core.
#include <cstdint>

namespace lockstep::fw {

#ifndef LOCKSTEP_FW_OUTPUTS
#define LOCKSTEP_FW_OUTPUTS 4
#endif

// Trigger outputs, and tracks of the standalone sequencer (one track per output). The box
// has 4; a build may have up to 16 (the protocol's output masks are 16 bits wide).
inline constexpr unsigned outputs = LOCKSTEP_FW_OUTPUTS;
static_assert(outputs >= 1 && outputs <= 16, "LOCKSTEP_FW_OUTPUTS must be 1..16");

// Time on the device's own clock: nanoseconds since boot, 64 bits (never wraps). The
// Teensy derives it from its cycle counter; lockstep-fwsim from CLOCK_MONOTONIC_RAW
// scaled by --skew-ppm. The host never assumes it equals its own clock.
using DeviceTime = std::uint64_t;

} // namespace lockstep::fw
