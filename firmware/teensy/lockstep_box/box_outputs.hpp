#pragma once
// Trigger outputs: the scheduler's pulses on GPIO pins, edges timed by a hardware timer.
#include "src/core/trigger_scheduler.hpp"

namespace box {

// Pins of outputs 1..N (through the 5 V buffer stage, see firmware/README.md).
inline constexpr std::uint8_t output_pins[16] = {2,  3,  4,  5,  6,  7,  8,  9,
                                                 10, 11, 12, 24, 25, 26, 27, 28};

// The scheduler is the device core's (lockstep::fw::Device::scheduler()); it must outlive
// the timer. setup(), before anything is scheduled.
void outputs_begin(lockstep::fw::TriggerScheduler& core_scheduler);
lockstep::fw::TriggerScheduler& scheduler();
// Main loop, after scheduling: runs the edge handler once so that a trigger earlier than the
// armed edge is seen (the ISR cannot preempt it: interrupts are masked meanwhile).
void outputs_kick();

} // namespace box
