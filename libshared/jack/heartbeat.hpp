// The client's liveness counter for the systemd watchdog. It moves with every process
// callback while a server is connected, and with the supervisor's own ticks while none is
// (waiting for the server to come back): a client in its reconnect loop stays alive for
// the watchdog, while a process callback that hangs (connected or not) stops the counter,
// so the watchdog still restarts a client whose audio thread is stuck.
#pragma once

#include "rt/rt.hpp"

#include <atomic>
#include <cstdint>

namespace lockstep::jack {

class Heartbeat {
public:
    // RT (the process callback): around each callback's work.
    void cycle_begin() noexcept RT_NONBLOCKING { in_cycle_.store(true, std::memory_order_release); }
    void cycle_end() noexcept RT_NONBLOCKING {
        beats_.fetch_add(1, std::memory_order_relaxed);
        in_cycle_.store(false, std::memory_order_release);
    }
    // Supervisor thread, once per loop turn. `connected`: a JACK session is open, so the
    // process callbacks are the heartbeat and the tick adds nothing. A callback still
    // running without a session (one JACK could not stop) means it is stuck: no beat.
    void supervisor_tick(bool connected) noexcept {
        if (!connected && !in_cycle_.load(std::memory_order_acquire)) {
            beats_.fetch_add(1, std::memory_order_relaxed);
        }
    }
    // Supervisor thread, after the JACK session closed (no process thread is left): forgets
    // a callback that was cut off mid-run, so the ticks resume. True if there was one.
    bool session_closed() noexcept { return in_cycle_.exchange(false, std::memory_order_acq_rel); }
    // Any thread.
    std::uint64_t value() const noexcept { return beats_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> beats_{0};
    std::atomic<bool> in_cycle_{false};
};

} // namespace lockstep::jack
