#include "engine.hpp"

namespace lockstep::bridge {

Engine::Engine(const TriggerMap& map, const LineSlot& line, SpscQueue<ToSerial>& queue,
               ScheduleConfig config) noexcept
    : decoder_(map), slot_(line), queue_(queue), scheduler_(config) {}

void Engine::process(jack::Cycle& cycle) noexcept RT_NONBLOCKING {
    // One try per cycle; when the serial thread is mid-store the previous line is still good
    // (its epoch says which session it belongs to).
    (void)slot_.try_load(line_);
    const std::int64_t now = host_now_ns();
    const CycleTiming timing{cycle.start,   cycle.usecs, cycle.next_usecs,
                             cycle.nframes, cycle.rate,  cycle.raw_offset_ns};
    if (cycle.midi_in.empty()) {
        return;
    }
    for (const jack::MidiEvent& e : cycle.midi_in[0]) {
        const MidiAction a = decoder_.decode(e.bytes);
        const Frame f = cycle.start + e.offset;
        ToSerial m;
        switch (a.kind) {
        case MidiKind::none:
            continue;
        case MidiKind::trigger: {
            const ScheduledTrigger t = scheduler_.schedule(timing, f, line_.line, now);
            if (t.verdict != ScheduleVerdict::send) {
                continue;
            }
            m.kind = ToSerialKind::trigger;
            m.epoch = line_.epoch;
            m.device_ns = t.device_ns;
            m.mask = a.outputs;
            m.host_ns = t.host_ns;
            break;
        }
        case MidiKind::step:
            m.kind = ToSerialKind::step;
            m.pattern = a.pattern;
            m.step = a.step;
            m.tracks = static_cast<std::uint16_t>(a.track_mask & 0xFFFFU);
            m.host_ns = host_ns_at_frame(timing, f);
            break;
        case MidiKind::stop:
            m.kind = ToSerialKind::stop;
            break;
        }
        if (!queue_.try_push(m)) {
            overflow_ += 1;
        } else if (m.kind == ToSerialKind::trigger) {
            queued_.fetch_add(1, std::memory_order_relaxed);
        }
    }
    publish_counts();
}

void Engine::publish_counts() noexcept RT_NONBLOCKING {
    const MidiCounts& mc = decoder_.counts();
    const ScheduleCounts& sc = scheduler_.counts();
    triggers_.store(mc.triggers, std::memory_order_relaxed);
    steps_.store(mc.steps, std::memory_order_relaxed);
    malformed_.store(mc.malformed, std::memory_order_relaxed);
    late_.store(sc.late, std::memory_order_relaxed);
    unsynced_.store(sc.unsynced, std::memory_order_relaxed);
    min_slack_.store(sc.min_slack_ns, std::memory_order_relaxed);
    overflow_pub_.store(overflow_, std::memory_order_relaxed);
}

EngineCounts Engine::counts() const noexcept {
    EngineCounts c;
    c.triggers = triggers_.load(std::memory_order_relaxed);
    c.queued = queued_.load(std::memory_order_relaxed);
    c.late = late_.load(std::memory_order_relaxed);
    c.unsynced = unsynced_.load(std::memory_order_relaxed);
    c.overflow = overflow_pub_.load(std::memory_order_relaxed);
    c.steps = steps_.load(std::memory_order_relaxed);
    c.malformed = malformed_.load(std::memory_order_relaxed);
    c.min_slack_ns = min_slack_.load(std::memory_order_relaxed);
    return c;
}

} // namespace lockstep::bridge
