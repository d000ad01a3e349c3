#include "core/trigger_scheduler.hpp"

namespace lockstep::fw {

namespace {
constexpr std::uint32_t ring_mask = TriggerScheduler::Capacity - 1;
static_assert((TriggerScheduler::Capacity & ring_mask) == 0, "Capacity must be a power of two");
constexpr std::uint16_t valid_mask = static_cast<std::uint16_t>((std::uint32_t{1} << outputs) - 1U);
} // namespace

TriggerScheduler::TriggerScheduler(Config config) : config_(config) {}

bool TriggerScheduler::schedule(DeviceTime at, std::uint16_t mask, std::uint32_t width_us) {
    if ((mask & ~valid_mask) != 0) {
        bump(bad_mask_);
    }
    mask = static_cast<std::uint16_t>(mask & valid_mask);
    if (mask == 0) {
        return false;
    }
    const std::uint32_t w = write_.load(std::memory_order_relaxed);
    // Acquire: the consumer has finished with the slot before it counts the trigger retired.
    if (w - retired_.load(std::memory_order_acquire) >= Capacity) {
        bump(dropped_);
        return false;
    }
    const std::uint32_t width = width_us == 0 ? default_width_us : width_us;
    ring_[w & ring_mask] = Trigger{at, DeviceTime{width} * 1000U, mask};
    write_.store(w + 1, std::memory_order_release);
    bump(scheduled_);
    return true;
}

void TriggerScheduler::take_from_ring() {
    std::uint32_t r = read_.load(std::memory_order_relaxed);
    const std::uint32_t w = write_.load(std::memory_order_acquire);
    for (; r != w; ++r) {
        const Trigger t = ring_[r & ring_mask];
        // pending_ is sorted latest first, so the next trigger is popped from the back; a
        // trigger goes before (at a lower index than) earlier arrivals with the same time.
        std::uint32_t p = pending_count_;
        while (p > 0 && pending_[p - 1].at <= t.at) {
            --p;
        }
        for (std::uint32_t i = pending_count_; i > p; --i) {
            pending_[i] = pending_[i - 1];
        }
        pending_[p] = t;
        ++pending_count_;
    }
    read_.store(r, std::memory_order_release);
}

DeviceTime TriggerScheduler::fall_due(unsigned output) const {
    const std::uint16_t bit = static_cast<std::uint16_t>(1U << output);
    // The first pending rise of this output that can be separated from the running pulse
    // ends it min_low_ns early (rises closer than that to the pulse's start are merged).
    for (std::uint32_t i = pending_count_; i > 0; --i) {
        const Trigger& t = pending_[i - 1];
        if ((t.mask & bit) != 0 && t.at > rise_[output] + config_.min_low_ns) {
            DeviceTime early = t.at - config_.min_low_ns;
            // A rise learned too late to keep the whole low gap: end the pulse as soon as
            // possible (no earlier than the last advance()).
            early = early < last_now_ ? last_now_ : early;
            return early < fall_[output] ? early : fall_[output];
        }
    }
    return fall_[output];
}

DeviceTime TriggerScheduler::earliest_edge() const {
    DeviceTime next = pending_count_ > 0 ? pending_[pending_count_ - 1].at : never;
    const std::uint16_t high = levels_.load(std::memory_order_relaxed);
    for (unsigned o = 0; o < outputs; ++o) {
        if ((high >> o) & 1U) {
            const DeviceTime f = fall_due(o);
            next = f < next ? f : next;
        }
    }
    return next;
}

DeviceTime TriggerScheduler::next_edge() const {
    DeviceTime next = earliest_edge();
    const std::uint32_t w = write_.load(std::memory_order_acquire);
    for (std::uint32_t r = read_.load(std::memory_order_relaxed); r != w; ++r) {
        const DeviceTime at = ring_[r & ring_mask].at;
        next = at < next ? at : next;
    }
    return next;
}

std::uint16_t TriggerScheduler::advance(DeviceTime now) {
    take_from_ring();
    std::uint16_t high = levels_.load(std::memory_order_relaxed);
    std::uint32_t retired = retired_.load(std::memory_order_relaxed);
    for (;;) {
        const DeviceTime edge = earliest_edge();
        if (edge == never || edge > now) {
            break;
        }
        // Falls first: a fall and a rise of one output never share an instant (min_low_ns).
        for (unsigned o = 0; o < outputs; ++o) {
            if (((high >> o) & 1U) == 0) {
                continue;
            }
            const DeviceTime due = fall_due(o);
            if (due <= edge) {
                high = static_cast<std::uint16_t>(high & ~(1U << o));
                levels_.store(high, std::memory_order_relaxed);
                if (due < fall_[o]) {
                    bump(shortened_);
                }
                if (hook_ != nullptr) {
                    hook_(hook_context_, o, false, due);
                }
            }
        }
        while (pending_count_ > 0 && pending_[pending_count_ - 1].at <= edge) {
            const Trigger t = pending_[--pending_count_];
            ++retired;
            if (now - t.at > config_.late_tolerance_ns) {
                bump(late_);
                continue;
            }
            bool any = false;
            for (unsigned o = 0; o < outputs; ++o) {
                if (((t.mask >> o) & 1U) == 0) {
                    continue;
                }
                if (((risen_ >> o) & 1U) != 0 && t.at <= rise_[o] + config_.min_low_ns) {
                    bump(merged_);
                    continue;
                }
                if ((high >> o) & 1U) {
                    // Learned too late to end the running pulse min_low_ns early (possible
                    // only for a trigger that arrived within the tolerance of its time).
                    bump(shortened_);
                    if (hook_ != nullptr) {
                        hook_(hook_context_, o, false, t.at);
                    }
                }
                risen_ = static_cast<std::uint16_t>(risen_ | (1U << o));
                high = static_cast<std::uint16_t>(high | (1U << o));
                levels_.store(high, std::memory_order_relaxed);
                rise_[o] = t.at;
                fall_[o] = t.at + t.width_ns;
                any = true;
                if (hook_ != nullptr) {
                    hook_(hook_context_, o, true, t.at);
                }
            }
            if (any) {
                bump(fired_);
            }
        }
    }
    // Release: the producer may reuse the retired triggers' capacity.
    retired_.store(retired, std::memory_order_release);
    last_now_ = now > last_now_ ? now : last_now_;
    return high;
}

TriggerScheduler::Counters TriggerScheduler::counters() const {
    constexpr auto relaxed = std::memory_order_relaxed;
    return Counters{scheduled_.load(relaxed), dropped_.load(relaxed), bad_mask_.load(relaxed),
                    fired_.load(relaxed),     late_.load(relaxed),    merged_.load(relaxed),
                    shortened_.load(relaxed)};
}

} // namespace lockstep::fw
