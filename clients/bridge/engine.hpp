// lockstep-bridge's process-thread side: per JACK cycle, decode the MIDI of port `in`, map
// each trigger's frame to device time with the link's latest clock line (schedule.hpp) and
// queue triggers and steps for the serial thread. Counts what it cannot send.
#pragma once

#include "link.hpp"
#include "messages.hpp"
#include "schedule.hpp"
#include "trigger_map.hpp"

#include "jack/cycle.hpp"
#include "rt/spsc_queue.hpp"

#include <atomic>
#include <cstdint>

namespace lockstep::bridge {

struct EngineCounts {
    std::uint64_t triggers = 0;  // mapped note-ons seen
    std::uint64_t queued = 0;    // triggers handed to the serial thread
    std::uint64_t late = 0;      // could not reach the device in time: dropped
    std::uint64_t unsynced = 0;  // no locked clock line: dropped
    std::uint64_t overflow = 0;  // the queue to the serial thread was full: dropped
    std::uint64_t steps = 0;     // sync steps seen
    std::uint64_t malformed = 0; // MIDI the decoder refused
    std::int64_t min_slack_ns = 0;
};

class Engine final : public jack::Processor {
public:
    // Control thread. `map` and `line` (the link's published clock line,
    // Link::line_slot()) must outlive the engine.
    Engine(const TriggerMap& map, const LineSlot& line, SpscQueue<ToSerial>& queue,
           ScheduleConfig config) noexcept;

    // RT.
    void process(jack::Cycle& cycle) noexcept RT_NONBLOCKING override;

    // Any thread.
    EngineCounts counts() const noexcept;

private:
    void publish_counts() noexcept RT_NONBLOCKING;

    MidiDecoder decoder_;
    const LineSlot& slot_;
    SpscQueue<ToSerial>& queue_;
    Scheduler scheduler_;
    SyncedLine line_{}; // the last line the process thread could read
    std::uint64_t overflow_ = 0;

    std::atomic<std::uint64_t> triggers_{0}, queued_{0}, late_{0}, unsynced_{0}, overflow_pub_{0},
        steps_{0}, malformed_{0};
    std::atomic<std::int64_t> min_slack_{0};
};

} // namespace lockstep::bridge
