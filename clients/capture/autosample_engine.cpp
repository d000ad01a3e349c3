#include "autosample_engine.hpp"

#include "freewheel_pause.hpp"

namespace lockstep::capture {

AutoEngine::AutoEngine(AutoEngineOptions options)
    : options_(options), ring_(options.channels, options.ring_frames),
      to_engine_(options.queue_capacity), sent_(options.queue_capacity),
      segments_(options.queue_capacity) {}

void AutoEngine::process(jack::Cycle& cycle) noexcept {
    auto& rt = rt_;
    ++rt.counters.cycles;
    const std::uint32_t n = cycle.nframes;
    if (!rt.have_expected || cycle.start != rt.expected) {
        rt.new_segment = true;
    }
    rt.have_expected = true;
    rt.expected = cycle.end();

    // MIDI: every message due before this cycle's end, at its exact offset.
    if (const std::uint8_t c = cancel_.load(std::memory_order_acquire); c != 0) {
        flush_cancelled(cycle, static_cast<std::uint8_t>(c & 0x0F));
    }
    while (const AutoMidi* m = to_engine_.try_front()) {
        if (m->frame >= cycle.end()) {
            break;
        }
        const bool late = m->frame < cycle.start;
        const auto off = late ? 0U : static_cast<std::uint32_t>(m->frame - cycle.start);
        bool ok = false;
        if (!cycle.midi_out.empty()) {
            ok = cycle.midi_out[0].write(off, std::span<const std::uint8_t>(m->bytes, m->size));
        }
        if (!ok) {
            ++rt.counters.midi_failed;
        }
        if (late) {
            ++rt.counters.late_midi;
        }
        if (!sent_.try_push(AutoSent{m->id, cycle.start + off, late})) {
            ++rt.counters.feedback_dropped;
        }
        to_engine_.pop_front();
    }

    // Audio: the whole cycle into the ring.
    if (ring_.free_frames() < n && cycle.freewheeling) {
        const std::uint64_t polls = options_.freewheel_wait_ns / 100'000 + 1;
        for (std::uint64_t i = 0; i < polls && ring_.free_frames() < n; ++i) {
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wfunction-effects"
#endif
            freewheel_pause(); // freewheel is not real time (see the header)
#if defined(__clang__)
#pragma clang diagnostic pop
#endif
        }
    }
    if (ring_.free_frames() < n) {
        ++rt.counters.overruns;
        rt.new_segment = true;
    } else if (rt.new_segment && !segments_.try_push(AutoSegment{ring_.write_pos(), cycle.start})) {
        ++rt.counters.overruns; // no way to say where these frames belong: drop them
    } else {
        if (rt.new_segment) {
            ++rt.counters.segments;
            rt.new_segment = false;
        }
        ring_.write(cycle.audio_in, 0, n);
    }

    auto& c = counters_;
    c.cycles.store(rt.counters.cycles, std::memory_order_relaxed);
    c.overruns.store(rt.counters.overruns, std::memory_order_relaxed);
    c.segments.store(rt.counters.segments, std::memory_order_relaxed);
    c.late_midi.store(rt.counters.late_midi, std::memory_order_relaxed);
    c.midi_failed.store(rt.counters.midi_failed, std::memory_order_relaxed);
    c.feedback_dropped.store(rt.counters.feedback_dropped, std::memory_order_relaxed);
    now_.store(cycle.end(), std::memory_order_release);
}

// Cancelled: whatever is queued goes now, except note-ons; all-notes-off once after it.
void AutoEngine::flush_cancelled(jack::Cycle& cycle, std::uint8_t channel) noexcept {
    auto write = [&](std::span<const std::uint8_t> bytes) {
        if (cycle.midi_out.empty() || !cycle.midi_out[0].write(0, bytes)) {
            ++rt_.counters.midi_failed;
        }
    };
    while (const AutoMidi* m = to_engine_.try_front()) {
        const bool note_on = (m->bytes[0] & 0xF0) == 0x90 && m->size == 3 && m->bytes[2] > 0;
        if (!note_on) {
            write(std::span<const std::uint8_t>(m->bytes, m->size));
            if (!sent_.try_push(AutoSent{m->id, cycle.start, m->frame < cycle.start})) {
                ++rt_.counters.feedback_dropped;
            }
        }
        to_engine_.pop_front();
    }
    if (!rt_.cancel_sent) {
        const std::uint8_t all_off[3] = {static_cast<std::uint8_t>(0xB0 | channel), 123, 0};
        write(all_off);
        rt_.cancel_sent = true;
        cancel_done_.store(true, std::memory_order_release);
    }
}

AutoCounters AutoEngine::counters() const noexcept {
    AutoCounters o;
    o.cycles = counters_.cycles.load(std::memory_order_relaxed);
    o.overruns = counters_.overruns.load(std::memory_order_relaxed);
    o.segments = counters_.segments.load(std::memory_order_relaxed);
    o.late_midi = counters_.late_midi.load(std::memory_order_relaxed);
    o.midi_failed = counters_.midi_failed.load(std::memory_order_relaxed);
    o.feedback_dropped = counters_.feedback_dropped.load(std::memory_order_relaxed);
    return o;
}

} // namespace lockstep::capture
