// systemd service notifications (Type=notify): READY=1, STATUS=..., STOPPING=1 and a
// watchdog that only pings while the client really makes progress.
// Every call is a no-op returning false when NOTIFY_SOCKET is unset (not run by systemd).
// Thread: any non-real-time thread (each call is a sendmsg(2)); never the audio thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace lockstep::service::notify {

// Whether NOTIFY_SOCKET is set, i.e. whether the calls below send anything.
bool enabled();

// Sends READY=1 (and STATUS=<status> when given): JACK is active and OSC is listening.
bool ready(std::string_view status = {});
// Sends STOPPING=1: shutdown has begun.
bool stopping();
// Sends STATUS=<text> (one line; newlines become spaces), shown by systemctl status.
bool status(std::string_view text);
// Sends raw "KEY=value\n..." assignments. Returns true when sent. A failure to send is
// logged once per process and otherwise ignored: notification is best effort.
bool send(std::string_view assignments);

// Feeds the systemd watchdog (WatchdogSec=) from a progress counter, normally
// jack::Client::heartbeat() (process callbacks while connected, reconnect-loop ticks while
// the server is gone): WATCHDOG=1 is sent only when the counter moved since the previous
// check, so a stuck audio thread lets the watchdog fire but a server outage does not.
// Thread: one non-RT thread (usually the main loop); the counter may come from anywhere.
class Watchdog {
public:
    using clock = std::chrono::steady_clock;

    // Reads WATCHDOG_USEC/WATCHDOG_PID (sd_watchdog_enabled). Disabled when unset.
    Watchdog();

    bool enabled() const { return interval_.count() > 0; }
    // Half of WATCHDOG_USEC: how often poll() checks; zero when disabled.
    std::chrono::microseconds interval() const { return interval_; }

    // Call at least every interval() (wait for until_due() in the main loop). When a
    // check is due, sends WATCHDOG=1 if `progress` differs from the previous check and
    // schedules the next check one interval later. Returns true when it pinged.
    bool poll(std::uint64_t progress, clock::time_point now = clock::now());

    // How long until the next check is due (zero if due now; max() when disabled).
    std::chrono::milliseconds until_due(clock::time_point now = clock::now()) const;

private:
    std::chrono::microseconds interval_{0};
    clock::time_point next_check_ = clock::time_point::min();
    std::uint64_t last_progress_ = 0;
    bool have_progress_ = false;
};

} // namespace lockstep::service::notify
