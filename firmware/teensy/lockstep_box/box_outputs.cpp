#include "box_outputs.hpp"

#include "box_clock.hpp"

#include <Arduino.h>
#include <IntervalTimer.h>

namespace box {
namespace {

using lockstep::fw::DeviceTime;
using lockstep::fw::TriggerScheduler;

TriggerScheduler* sched = nullptr; // the device core's, set by outputs_begin()
IntervalTimer edge_timer;

// The timer fires up to this much early; the handler spins the rest on the cycle counter, so
// that an edge lands within a few cycles of its due time instead of the timer's granularity.
constexpr DeviceTime spin_ns = 3'000;

void write_levels(std::uint16_t levels) {
    for (unsigned o = 0; o < lockstep::fw::outputs; ++o) {
        digitalWriteFast(output_pins[o], (levels >> o) & 1u);
    }
}

void edge_isr() {
    edge_timer.end(); // one-shot: re-armed below for the next edge
    for (;;) {
        const DeviceTime t = now();
        write_levels(sched->advance(t));
        const DeviceTime next = sched->next_edge();
        if (next == TriggerScheduler::never) {
            return;
        }
        if (next <= t + spin_ns) {
            while (now() < next) {
            }
            continue;
        }
        const DeviceTime wait_us = (next - t - spin_ns) / 1000u;
        edge_timer.begin(edge_isr, static_cast<unsigned>(wait_us > 1 ? wait_us : 1));
        return;
    }
}

} // namespace

TriggerScheduler& scheduler() {
    return *sched;
}

void outputs_begin(TriggerScheduler& core_scheduler) {
    sched = &core_scheduler;
    for (unsigned o = 0; o < lockstep::fw::outputs; ++o) {
        pinMode(output_pins[o], OUTPUT);
        digitalWriteFast(output_pins[o], LOW);
    }
    edge_timer.priority(16); // above USB and the display's I2C
}

void outputs_kick() {
    noInterrupts();
    edge_isr();
    interrupts();
}

} // namespace box
