// What crosses lockstep-bridge's threads (DESIGN.md section 3): the process thread's
// trigger/step/stop messages to the serial thread (a bounded SPSC queue), and the serial
// thread's clock line to the process thread (a single-writer sequence lock that the
// reader only ever *tries*: it never waits for the writer).
#pragma once

#include "clock_fit.hpp"
#include "jack/seqlock.hpp"

#include <cstdint>
#include <type_traits>

namespace lockstep::bridge {

enum class ToSerialKind : std::uint8_t { trigger, step, stop };

// Process thread -> serial thread. Trivially copyable.
struct ToSerial {
    ToSerialKind kind = ToSerialKind::trigger;
    std::uint32_t epoch = 0;  // trigger: the line's epoch it was mapped with (see LineSlot)
    DeviceTime device_ns = 0; // trigger: fire time on the device clock
    std::uint16_t mask = 0;   // trigger: outputs
    std::uint8_t pattern = 0; // step
    std::uint8_t step = 0;    // step
    std::uint16_t tracks = 0; // step: tracks 1..16 of the sync mask
    std::int64_t host_ns = 0; // trigger/step: the event's frame time (JACK's clock, ns)
};
static_assert(std::is_trivially_copyable_v<ToSerial>);

// The clock line and the epoch of the device session it belongs to. The epoch changes
// whenever the fit is reset (new boot id, new port), so a trigger mapped with an old line
// is recognised by the serial thread and dropped instead of fired at a wrong time.
struct SyncedLine {
    ClockLine line{};
    std::uint32_t epoch = 0;
};
static_assert(std::is_trivially_copyable_v<SyncedLine>);

// Single writer (serial thread), single reader (process thread), which only ever calls
// try_load: it keeps its previous copy when the writer is mid-store.
using LineSlot = jack::SeqLock<SyncedLine>;

} // namespace lockstep::bridge
