#pragma once
// The trigger scheduler: triggers scheduled ahead on the device clock, one pulse deadline per
// output so that pulses never stretch one another (the box's first firmware shared one pulse
// counter between outputs, so a later trigger stretched earlier pulses).
//
// Contexts (single-core Cortex-M7):
//   - producer, the main loop (USB/control side, the standalone sequencer's tick):
//     schedule(); counters() and levels() from any context.
//   - consumer, the hardware timer's ISR: advance(), next_edge(), levels(). The ISR runs
//     advance(now) when the timer fires, then arms the timer for next_edge(). After
//     schedule() the main loop pends that ISR (e.g. NVIC_SetPendingIRQ) so that a trigger
//     earlier than the armed edge is seen; advance() takes it from the queue.
// Handoff: a single-producer single-consumer ring of Capacity slots with free-running 32-bit
// indices in std::atomic<uint32_t> (lock-free on ARMv7E-M: plain LDR/STR plus DMB for
// acquire/release; no read-modify-write is needed because each index and counter has one
// writer). Triggers in flight (in the ring or taken by the ISR and not fired yet) never exceed
// Capacity: schedule() refuses (dropped counter) when full. The ISR's work per edge is
// bounded: at most outputs x Capacity comparisons (a few microseconds at 600 MHz).
// RAM: about 3.3 KB.
//
// Policies:
//   - Pulse: an output rises at the trigger's time and falls width later (0 = default 15 ms).
//     Edge times are the due times; the pin follows when the ISR runs. A rise within the
//     late tolerance still falls at its due time + width (the pulse is never longer).
//   - Retrigger: a rise due while the output's pulse would still be high, or less than
//     min_low_ns after that pulse ends, ends the pulse early at the new rise time minus
//     min_low_ns, so that the module sees two edges and the new pulse rises on time with its
//     full width (counted in `shortened`). A rise due within min_low_ns of the output's
//     previous rise cannot be separated from it: it is merged, i.e. dropped for that output
//     (counted in `merged`; the earlier pulse keeps its own width). A pulse is never
//     extended by a later trigger. (A rise that arrives after its low gap should have begun,
//     i.e. within the late tolerance of its time, ends the pulse when it is processed.)
//   - Late: a trigger that advance() reaches more than late_tolerance_ns after its due time
//     (it was scheduled too late, or the ISR ran late) is DROPPED and counted in `late`,
//     never fired late. Falls are always applied (ending a pulse is never skipped).
//   - Same time on several outputs: each output is independent; a mask fires them together.
#include "core/config.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace lockstep::fw {

class TriggerScheduler {
public:
    static constexpr std::uint32_t Capacity = 64; // a power of two (ring indices wrap)
    static constexpr std::uint32_t default_width_us = 15'000;
    static constexpr DeviceTime never = ~DeviceTime{0};

    struct Config {
        DeviceTime late_tolerance_ns = 200'000; // 0.2 ms: well above ISR latency
        DeviceTime min_low_ns = 1'000'000;      // 1 ms low between two pulses of one output
    };

    // Called from the ISR for every edge at its due time (tests, fwsim's --log). Must be
    // short and non-blocking. level: true = rise.
    using EdgeHook = void (*)(void* context, unsigned output, bool level, DeviceTime due);

    // Counters: each has a single writer; readable from any context.
    struct Counters {
        std::uint32_t scheduled; // accepted by schedule()
        std::uint32_t dropped;   // refused by schedule(): queue full
        std::uint32_t bad_mask;  // schedule() calls with bits at or beyond `outputs`
        std::uint32_t fired;     // triggers that raised at least one output
        std::uint32_t late;      // triggers dropped because advance() reached them too late
        std::uint32_t merged;    // per output: rises merged into a pulse that had just risen
        std::uint32_t shortened; // per output: pulses ended early for a following rise
    };

    TriggerScheduler() : TriggerScheduler(Config{}) {}
    explicit TriggerScheduler(Config config);
    TriggerScheduler(const TriggerScheduler&) = delete;
    TriggerScheduler& operator=(const TriggerScheduler&) = delete;

    // Main loop. Queues a trigger: outputs in `mask` rise at `at` for width_us (0 = the 15 ms
    // default). Triggers may arrive in any order. Bits at or beyond `outputs` are ignored and
    // counted in bad_mask. Returns false when the queue is full (counted in dropped) or no
    // valid bit is left. Never blocks, never allocates.
    bool schedule(DeviceTime at, std::uint16_t mask, std::uint32_t width_us = 0);

    // ISR. Applies every rise and fall due at or before now, in time order; returns the
    // output levels (bit o = output o high).
    std::uint16_t advance(DeviceTime now);

    // ISR (after advance). The due time of the next edge, `never` when idle. Also sees
    // triggers still in the ring, so it is right even before advance() has taken them.
    DeviceTime next_edge() const;

    // ISR, or the main loop for display (a torn read is impossible: 16 bits).
    std::uint16_t levels() const { return levels_.load(std::memory_order_relaxed); }

    // Any context: a snapshot of the counters (each field exact, the set not atomic).
    Counters counters() const;

    // Any context: triggers accepted and not yet fired, merged away or dropped late.
    std::uint32_t queued() const {
        return write_.load(std::memory_order_acquire) - retired_.load(std::memory_order_acquire);
    }

    // Set before the ISR is enabled (not synchronised).
    void set_edge_hook(EdgeHook hook, void* context) {
        hook_ = hook;
        hook_context_ = context;
    }

private:
    struct Trigger {
        DeviceTime at;
        DeviceTime width_ns;
        std::uint16_t mask;
    };

    static void bump(std::atomic<std::uint32_t>& counter) {
        counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    void take_from_ring();
    DeviceTime fall_due(unsigned output) const;
    DeviceTime earliest_edge() const;

    Config config_;
    EdgeHook hook_ = nullptr;
    void* hook_context_ = nullptr;

    // Ring: slots written by the producer before it publishes write_; read by the consumer
    // before it publishes read_.
    Trigger ring_[Capacity] = {};
    std::atomic<std::uint32_t> write_{0};   // producer
    std::atomic<std::uint32_t> read_{0};    // consumer
    std::atomic<std::uint32_t> retired_{0}; // consumer: triggers fired, merged away or late

    // Producer-only counters.
    std::atomic<std::uint32_t> scheduled_{0};
    std::atomic<std::uint32_t> dropped_{0};
    std::atomic<std::uint32_t> bad_mask_{0};
    // Consumer-only state and counters.
    std::atomic<std::uint32_t> fired_{0};
    std::atomic<std::uint32_t> late_{0};
    std::atomic<std::uint32_t> merged_{0};
    std::atomic<std::uint32_t> shortened_{0};
    std::atomic<std::uint16_t> levels_{0};
    Trigger pending_[Capacity] = {}; // sorted by at, ties in arrival order
    std::uint32_t pending_count_ = 0;
    DeviceTime rise_[outputs] = {}; // due time of the running pulse's rise
    DeviceTime fall_[outputs] = {}; // its natural end (rise + width)
    DeviceTime last_now_ = 0;       // the latest now given to advance()
    std::uint16_t risen_ = 0;       // outputs that have had a pulse (rise_ is valid)
};

} // namespace lockstep::fw
