// From "MIDI event at JACK frame F" to "trigger at device time D" (docs/bridge.md, "Lead time
// and late triggers").
//
// A frame's time is where JACK's own jack_frames_to_time() puts it: on the line through the
// cycle's start (current_frames at current_usecs) and the next cycle's start (current_frames
// + nframes at next_usecs), as jack_get_cycle_times() reports them. JACK rounds that to whole
// µs; here it is kept in ns, computed exactly in integers and rounded once. (period_usecs, a
// float, is not needed: next_usecs - current_usecs is the same period without rounding.)
// The clock fit's host stamps count CLOCK_MONOTONIC_RAW. On Linux JACK2 counts it too;
// PipeWire's JACK counts CLOCK_MONOTONIC, which NTP slews away from it (250 ms apart on one
// test machine, so every trigger was that late there): the cycle's raw_offset_ns, measured
// by the JACK adapter every cycle, moves the line onto the raw clock.
//
// The trigger fires at D = to_device(host_ns(F) + lead): the same lead (10 ms by default)
// for every trigger, so their spacing is kept exactly and the lead only has to cover the
// trip through the serial thread and the USB cable. A trigger that cannot be at the device
// by then is "late": it is dropped and counted, never sent to fire at another time.
#pragma once

#include "clock_fit.hpp"
#include "rt/rt.hpp"
#include "time/clock_map.hpp" // lockstep::CycleTiming
#include "time/frame_clock.hpp"

#include <cstdint>

namespace lockstep::bridge {

// Host ns (CLOCK_MONOTONIC_RAW) at which frame f starts, exact and rounded to nearest
// (halves up): usecs*1000 + raw_offset_ns + (f - frame) * (next_usecs - usecs) * 1000 /
// nframes. Frames outside the cycle
// extrapolate along the same line. When next_usecs <= usecs (no span yet) it uses `rate`;
// with neither, every frame maps to usecs. Thread: any.
std::int64_t host_ns_at_frame(const CycleTiming& cycle, Frame f) noexcept RT_NONBLOCKING;

struct ScheduleConfig {
    std::int64_t lead_ns = 10'000'000; // trigger time = frame time + lead
    // Beyond the smallest recent round trip: time for the serial thread to wake up and write.
    std::int64_t send_margin_ns = 1'000'000;
};

enum class ScheduleVerdict : std::uint8_t {
    send,     // to the device: fire at `device_ns`
    late,     // cannot reach the device in time: dropped, counted
    unsynced, // no clock fit yet (or the device is gone): dropped, counted
};

struct ScheduledTrigger {
    ScheduleVerdict verdict = ScheduleVerdict::unsynced;
    std::int64_t host_ns = 0;  // the event's frame time on JACK's clock (ns, before the lead)
    DeviceTime device_ns = 0;  // when to fire, on the device clock (valid for send and late)
    std::int64_t slack_ns = 0; // fire time minus (now + minimum round trip + margin)
};

struct ScheduleCounts {
    std::uint64_t sent = 0;
    std::uint64_t late = 0;
    std::uint64_t unsynced = 0;
    std::int64_t min_slack_ns = 0; // smallest slack of a sent trigger (0 before any)
};

// Thread: the bridge's process thread (RT); owns its counters.
class Scheduler {
public:
    explicit Scheduler(const ScheduleConfig& config = {}) noexcept : config_(config) {}

    // The trigger for an event at frame `f` of the cycle `cycle`, mapped with `line` (the
    // clock fit's latest published line) at host time `now_ns` (CLOCK_MONOTONIC_RAW, ns;
    // the adapter reads it once per cycle). Late means: leaving now, it might arrive after its
    // fire time if it took the smallest recent round trip plus the margin. That is
    // conservative, not exact: the one-way trip is shorter than a round trip, so a trigger
    // called late might still have made it; it is dropped and counted rather than risked.
    // The minimum, because spikes and a loaded host's slow reading of pongs do not slow a
    // trigger down. What the host cannot foresee the device catches: it drops a trigger that
    // arrives after its time.
    ScheduledTrigger schedule(const CycleTiming& cycle, Frame f, const ClockLine& line,
                              std::int64_t now_ns) noexcept RT_NONBLOCKING;

    const ScheduleCounts& counts() const noexcept RT_NONBLOCKING { return counts_; }
    const ScheduleConfig& config() const noexcept RT_NONBLOCKING { return config_; }

private:
    ScheduleConfig config_;
    ScheduleCounts counts_{};
};

} // namespace lockstep::bridge
