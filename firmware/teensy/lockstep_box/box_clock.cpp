#include "box_clock.hpp"

#include <Arduino.h>

namespace box {
namespace {

std::uint32_t last_cycles = 0;
std::uint64_t wraps = 0; // high 32 bits of the extended count

// Exact integer conversion (no floating point): whole seconds, then the remainder.
lockstep::fw::DeviceTime cycles_to_ns(std::uint64_t cycles) {
    const std::uint64_t hz = F_CPU_ACTUAL;
    return (cycles / hz) * 1'000'000'000ull + (cycles % hz) * 1'000'000'000ull / hz;
}

} // namespace

void clock_begin() {
    // The Teensy 4 core enables the cycle counter at startup; make sure of it.
    ARM_DEMCR |= ARM_DEMCR_TRCENA;
    ARM_DWT_CTRL |= ARM_DWT_CTRL_CYCCNTENA;
    last_cycles = ARM_DWT_CYCCNT;
}

lockstep::fw::DeviceTime now() {
    // The extension is a read-modify-write shared by the loop and the ISR: mask interrupts
    // for its few instructions, restoring the caller's state (it may be an ISR itself).
    std::uint32_t primask;
    __asm__ volatile("mrs %0, primask" : "=r"(primask));
    __disable_irq();
    const std::uint32_t c = ARM_DWT_CYCCNT;
    if (c < last_cycles) {
        wraps += 1ull << 32;
    }
    last_cycles = c;
    const std::uint64_t cycles = wraps | c;
    if (primask == 0) {
        __enable_irq();
    }
    return cycles_to_ns(cycles);
}

} // namespace box
