#include "engine.hpp"

#include "freewheel_pause.hpp"
#include "rt/simd.hpp"

#include <algorithm>
#include <cmath>

namespace lockstep::capture {

namespace {

void store_counters(const EngineCounters& c, auto& a) noexcept RT_NONBLOCKING {
    a.cycles.store(c.cycles, std::memory_order_relaxed);
    a.takes.store(c.takes, std::memory_order_relaxed);
    a.overruns.store(c.overruns, std::memory_order_relaxed);
    a.overrun_frames.store(c.overrun_frames, std::memory_order_relaxed);
    a.skipped_frames.store(c.skipped_frames, std::memory_order_relaxed);
    a.unfilled_jumps.store(c.unfilled_jumps, std::memory_order_relaxed);
    a.preroll_dropped.store(c.preroll_dropped, std::memory_order_relaxed);
    a.refused.store(c.refused, std::memory_order_relaxed);
    a.feedback_dropped.store(c.feedback_dropped, std::memory_order_relaxed);
    a.freewheel_waits.store(c.freewheel_waits, std::memory_order_relaxed);
    a.freewheel_timeouts.store(c.freewheel_timeouts, std::memory_order_relaxed);
}

} // namespace

const char* to_string(State s) noexcept {
    switch (s) {
    case State::idle:
        return "idle";
    case State::armed:
        return "armed";
    case State::recording:
        return "recording";
    }
    return "?";
}

Engine::Engine(EngineOptions options)
    : options_(options),
      ring_(options.channels, options.preroll + std::max<std::uint64_t>(options.buffer, 1)),
      to_engine_(options.queue_capacity), aborts_(64), from_engine_(options.queue_capacity),
      marks_(options.marks_capacity),
      peak_(std::make_unique<std::atomic<float>[]>(options.channels)),
      rms_(std::make_unique<std::atomic<float>[]>(options.channels)) {
    rt_.peak.assign(options_.channels, 0.0F);
    rt_.sumsq.assign(options_.channels, 0.0F);
    if (options_.meter_window == 0) {
        options_.meter_window = 1;
    }
    state_.store(options_.level ? State::armed : State::idle);
}

Engine::~Engine() = default;

bool Engine::send(const ToEngine& message) noexcept {
    return to_engine_.try_push(message);
}

bool Engine::abort(std::uint64_t take) noexcept {
    return aborts_.try_push(AbortTake{take});
}

bool Engine::receive(FromEngine& out) noexcept {
    return from_engine_.try_pop(out);
}

void Engine::feedback(const FromEngine& m) noexcept {
    if (!from_engine_.try_push(m)) {
        ++rt_.counters.feedback_dropped;
    }
}

void Engine::process(jack::Cycle& cycle) noexcept {
    auto& rt = rt_;
    ++rt.counters.cycles;
    const std::uint32_t n = cycle.nframes;

    // Frames JACK skipped (xrun, server restart): silence in a take, so the file keeps
    // its frame-time alignment; between takes the ring's contiguity simply restarts.
    if (rt.have_expected && cycle.start > rt.expected && rt.recording) {
        const auto jump = static_cast<std::uint64_t>(cycle.start - rt.expected);
        if (jump <= options_.max_gap_fill) {
            rt.pending_gap += jump;
            rt.take_frames += jump;
            rt.counters.skipped_frames += jump;
        } else {
            ++rt.counters.unfilled_jumps;
        }
    }
    rt.have_expected = true;
    rt.expected = cycle.end();

    if (rt.end_pending) {
        flush_end();
    }
    AbortTake a;
    while (aborts_.try_pop(a)) {
        if (rt.recording && a.take == rt.take) {
            stop_take(cycle, 0, Trigger::disk);
        }
    }

    meter(cycle);
    if (options_.level) {
        scan_level(cycle);
        // A loud sample before the take's planned end extends it (hold restarts).
        if (rt.recording && rt.trigger == Trigger::level && rt.first_loud >= 0 &&
            cycle.start + rt.first_loud <
                rt.last_loud_frame + 1 + static_cast<Frame>(options_.hold)) {
            rt.last_loud_frame = cycle.start + rt.last_loud;
        }
    }

    if (options_.transport && cycle.transport.valid) {
        const bool rolling = cycle.transport.state == jack::TransportState::rolling;
        if (rolling && !rt.was_rolling && !rt.recording) {
            start_take(cycle, 0, Trigger::transport);
        } else if (!rolling && rt.was_rolling && rt.recording && rt.trigger == Trigger::transport) {
            stop_take(cycle, 0, Trigger::transport);
        }
        rt.was_rolling = rolling;
    }

    std::uint32_t off = 0;
    bool level_checked = false;
    while (off < n) {
        std::uint32_t next = n;
        if (const ToEngine* m = to_engine_.try_front()) {
            const Frame at = m->frame == asap ? cycle.start : m->frame;
            const std::uint32_t o = at <= cycle.start + off ? off
                                    : at < cycle.end()
                                        ? static_cast<std::uint32_t>(at - cycle.start)
                                        : n;
            if (o == off) {
                const ToEngine msg = *m;
                to_engine_.pop_front();
                apply(msg, cycle, off);
                continue;
            }
            next = std::min(next, o);
        }
        if (options_.level && rt.recording && rt.trigger == Trigger::level) {
            const Frame end = rt.last_loud_frame + 1 + static_cast<Frame>(options_.hold);
            if (end <= cycle.start + off) {
                stop_take(cycle, off, Trigger::level);
                continue;
            }
            if (end < cycle.end()) {
                next = std::min(next, static_cast<std::uint32_t>(end - cycle.start));
            }
        } else if (options_.level && !rt.recording && !level_checked && rt.first_loud >= 0) {
            const auto o = static_cast<std::uint32_t>(rt.first_loud);
            if (o == off) {
                level_checked = true;
                start_take(cycle, off, Trigger::level);
                rt.last_loud_frame = cycle.start + rt.last_loud;
                continue;
            }
            if (o > off) {
                next = std::min(next, o);
            } else {
                level_checked = true; // loud before a stop in this cycle: next cycle decides
            }
        }
        if (rt.recording || options_.preroll > 0) {
            write_segment(cycle, off, next - off);
        }
        off = next;
    }
    publish_status();
}

void Engine::apply(const ToEngine& m, const jack::Cycle& cycle, std::uint32_t off) noexcept {
    if (m.kind == ToEngineKind::start) {
        if (rt_.recording) {
            ++rt_.counters.refused;
            feedback(FromEngine{FromEngineKind::refused, Trigger::osc, rt_.take, cycle.start + off,
                                cycle.start + off, 0});
            return;
        }
        start_take(cycle, off, Trigger::osc);
    } else {
        if (!rt_.recording) {
            ++rt_.counters.refused;
            feedback(FromEngine{FromEngineKind::refused, Trigger::osc, rt_.take, cycle.start + off,
                                cycle.start + off, 0});
            return;
        }
        stop_take(cycle, off, Trigger::osc);
    }
}

void Engine::start_take(const jack::Cycle& cycle, std::uint32_t off, Trigger trigger) noexcept {
    auto& rt = rt_;
    const Frame f = cycle.start + off;
    if (rt.end_pending && !flush_end()) {
        ++rt.counters.refused;
        feedback(FromEngine{FromEngineKind::refused, trigger, rt.take, f, f, 0});
        return;
    }
    const std::uint64_t w = ring_.write_pos();
    std::uint64_t back = 0;
    if (options_.preroll > 0 && rt.contig_valid &&
        f - rt.contig_frame == static_cast<Frame>(w - rt.contig_pos)) {
        back = std::min(options_.preroll, w - rt.contig_pos);
    } else {
        rt.contig_valid = true;
        rt.contig_pos = w;
        rt.contig_frame = f;
    }
    const Frame first = f - static_cast<Frame>(back);
    const std::uint64_t take = rt.take + 1;
    if (!marks_.try_push(Mark{MarkKind::take_start, take, w - back, first, 0})) {
        ++rt.counters.refused;
        feedback(FromEngine{FromEngineKind::refused, trigger, take, f, f, 0});
        return;
    }
    rt.take = take;
    rt.recording = true;
    rt.trigger = trigger;
    rt.take_first = first;
    rt.take_frames = back;
    rt.pending_gap = 0;
    ++rt.counters.takes;
    feedback(FromEngine{FromEngineKind::started, trigger, take, first, f, back});
}

void Engine::stop_take(const jack::Cycle& cycle, std::uint32_t off, Trigger trigger) noexcept {
    auto& rt = rt_;
    const Frame f = cycle.start + off;
    rt.recording = false;
    rt.end_pending = true;
    rt.end_mark = Mark{MarkKind::take_end, rt.take, ring_.write_pos(), f, 0};
    flush_end();
    feedback(FromEngine{FromEngineKind::stopped, trigger, rt.take, f, f, rt.take_frames});
}

// Pushes the owed silence and the pending take_end mark; false while the queue is full
// (then the next cycle tries again: the end position stays exact).
bool Engine::flush_end() noexcept {
    auto& rt = rt_;
    if (rt.pending_gap > 0) {
        if (!marks_.try_push(
                Mark{MarkKind::gap, rt.take, rt.end_mark.pos, rt.end_mark.frame, rt.pending_gap})) {
            return false;
        }
        rt.pending_gap = 0;
    }
    if (!marks_.try_push(rt.end_mark)) {
        return false;
    }
    rt.end_pending = false;
    return true;
}

void Engine::write_segment(const jack::Cycle& cycle, std::uint32_t off,
                           std::uint32_t len) noexcept {
    auto& rt = rt_;
    if (len == 0) {
        return;
    }
    const Frame f = cycle.start + off;
    if (ring_.free_frames() < len && cycle.freewheeling) {
        ++rt.counters.freewheel_waits;
        const std::uint64_t polls = options_.freewheel_wait_ns / 100'000 + 1;
        for (std::uint64_t i = 0; i < polls && ring_.free_frames() < len; ++i) {
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wfunction-effects"
#endif
            freewheel_pause(); // freewheel is not real time (see engine.hpp)
#if defined(__clang__)
#pragma clang diagnostic pop
#endif
        }
        if (ring_.free_frames() < len) {
            ++rt.counters.freewheel_timeouts;
        }
    }
    bool dropped = ring_.free_frames() < len;
    if (!dropped && rt.recording && rt.pending_gap > 0) {
        if (marks_.try_push(Mark{MarkKind::gap, rt.take, ring_.write_pos(), f, rt.pending_gap})) {
            rt.pending_gap = 0;
        } else {
            dropped = true; // data now would land before the silence it must follow
        }
    }
    if (dropped) {
        if (rt.recording) {
            ++rt.counters.overruns;
            rt.counters.overrun_frames += len;
            rt.pending_gap += len;
            rt.take_frames += len;
        } else {
            rt.counters.preroll_dropped += len;
        }
        return;
    }
    const std::uint64_t w = ring_.write_pos();
    if (!rt.contig_valid || f - rt.contig_frame != static_cast<Frame>(w - rt.contig_pos)) {
        rt.contig_valid = true;
        rt.contig_pos = w;
        rt.contig_frame = f;
    }
    ring_.write(cycle.audio_in, off, len);
    if (rt.recording) {
        rt.take_frames += len;
    }
}

void Engine::meter(const jack::Cycle& cycle) noexcept {
    auto& rt = rt_;
    const std::uint32_t n = cycle.nframes;
    const std::size_t channels = std::min<std::size_t>(options_.channels, cycle.audio_in.size());
    for (std::size_t c = 0; c < channels; ++c) {
        // Four lanes (and two sums for the adder's latency): the meters were most of the
        // audio thread's work as a scalar loop (docs/capture.md, Performance).
        const float* x = cycle.audio_in[c].data();
        simd::F4 peak4{};
        simd::F4 sum_a{};
        simd::F4 sum_b{};
        std::uint32_t i = 0;
        for (; i + 8 <= n; i += 8) {
            const simd::F4 a = simd::load4(x + i);
            const simd::F4 b = simd::load4(x + i + 4);
            peak4 = simd::max4(simd::max4(peak4, simd::abs4(a)), simd::abs4(b));
            sum_a += a * a;
            sum_b += b * b;
        }
        float peak = std::max(rt.peak[c], simd::hmax(peak4));
        float sumsq = simd::hsum(sum_a + sum_b);
        for (; i < n; ++i) {
            peak = std::max(peak, std::fabs(x[i]));
            sumsq += x[i] * x[i];
        }
        rt.peak[c] = peak;
        rt.sumsq[c] += sumsq;
    }
    rt.window += n;
    if (rt.window >= options_.meter_window) {
        for (std::size_t c = 0; c < options_.channels; ++c) {
            peak_[c].store(rt.peak[c], std::memory_order_relaxed);
            rms_[c].store(std::sqrt(rt.sumsq[c] / static_cast<float>(rt.window)),
                          std::memory_order_relaxed);
            rt.peak[c] = 0.0F;
            rt.sumsq[c] = 0.0F;
        }
        rt.window = 0;
        meter_seq_.fetch_add(1, std::memory_order_release);
    }
}

void Engine::scan_level(const jack::Cycle& cycle) noexcept {
    auto& rt = rt_;
    rt.first_loud = -1;
    rt.last_loud = -1;
    const std::int64_t n = cycle.nframes;
    const float thr = options_.threshold;
    const std::size_t channels = std::min<std::size_t>(options_.channels, cycle.audio_in.size());
    for (std::size_t c = 0; c < channels; ++c) {
        const float* x = cycle.audio_in[c].data();
        const std::int64_t stop_first = rt.first_loud < 0 ? n : rt.first_loud;
        for (std::int64_t i = 0; i < stop_first; ++i) {
            if (std::fabs(x[i]) >= thr) {
                rt.first_loud = i;
                break;
            }
        }
        for (std::int64_t i = n - 1; i > rt.last_loud; --i) {
            if (std::fabs(x[i]) >= thr) {
                rt.last_loud = i;
                break;
            }
        }
    }
}

void Engine::publish_status() noexcept {
    auto& rt = rt_;
    state_.store(rt.recording     ? State::recording
                 : options_.level ? State::armed
                                  : State::idle,
                 std::memory_order_relaxed);
    take_.store(rt.take, std::memory_order_relaxed);
    take_first_.store(rt.take_first, std::memory_order_relaxed);
    take_frames_.store(rt.take_frames, std::memory_order_relaxed);
    store_counters(rt.counters, counters_);
}

EngineStatus Engine::status() const noexcept {
    EngineStatus s;
    s.state = state_.load(std::memory_order_relaxed);
    s.take = take_.load(std::memory_order_relaxed);
    s.take_first_frame = take_first_.load(std::memory_order_relaxed);
    s.take_frames = take_frames_.load(std::memory_order_relaxed);
    s.ring_fill = ring_.fill();
    s.ring_capacity = ring_.capacity();
    return s;
}

EngineCounters Engine::counters() const noexcept {
    EngineCounters c;
    c.cycles = counters_.cycles.load(std::memory_order_relaxed);
    c.takes = counters_.takes.load(std::memory_order_relaxed);
    c.overruns = counters_.overruns.load(std::memory_order_relaxed);
    c.overrun_frames = counters_.overrun_frames.load(std::memory_order_relaxed);
    c.skipped_frames = counters_.skipped_frames.load(std::memory_order_relaxed);
    c.unfilled_jumps = counters_.unfilled_jumps.load(std::memory_order_relaxed);
    c.preroll_dropped = counters_.preroll_dropped.load(std::memory_order_relaxed);
    c.refused = counters_.refused.load(std::memory_order_relaxed);
    c.feedback_dropped = counters_.feedback_dropped.load(std::memory_order_relaxed);
    c.freewheel_waits = counters_.freewheel_waits.load(std::memory_order_relaxed);
    c.freewheel_timeouts = counters_.freewheel_timeouts.load(std::memory_order_relaxed);
    return c;
}

} // namespace lockstep::capture
