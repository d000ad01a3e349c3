#pragma once
// The device clock: nanoseconds since boot from the Cortex-M7 cycle counter (ARM_DWT_CYCCNT,
// 32 bits at F_CPU_ACTUAL = 600 MHz, wrapping every 7.2 s), extended to 64 bits in software.
// Any context (main loop or ISR); it must be called at least once per wrap, which the main
// loop does many thousand times a second.
#include "src/core/config.hpp"

namespace box {

void clock_begin();
lockstep::fw::DeviceTime now();

} // namespace box
