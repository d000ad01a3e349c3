#include "service/notify.hpp"

#include "service/log.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include <systemd/sd-daemon.h>

namespace lockstep::service::notify {

bool enabled() {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    return socket != nullptr && socket[0] != '\0';
}

bool send(std::string_view assignments) {
    if (!enabled()) {
        return false;
    }
    const std::string text(assignments);
    const int r = sd_notify(0, text.c_str());
    if (r > 0) {
        return true;
    }
    static std::atomic<bool> reported{false};
    if (r < 0 && !reported.exchange(true)) {
        log::warning("cannot notify systemd: %s (carrying on without notifications)",
                     std::strerror(-r));
    }
    return false;
}

namespace {
std::string one_line(std::string_view text) {
    std::string s(text);
    for (char& c : s) {
        if (c == '\n' || c == '\r') {
            c = ' ';
        }
    }
    return s;
}
} // namespace

bool ready(std::string_view status_text) {
    if (status_text.empty()) {
        return send("READY=1");
    }
    return send("READY=1\nSTATUS=" + one_line(status_text));
}

bool stopping() {
    return send("STOPPING=1");
}

bool status(std::string_view text) {
    return send("STATUS=" + one_line(text));
}

Watchdog::Watchdog() {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        interval_ = std::chrono::microseconds(usec / 2);
    }
}

bool Watchdog::poll(std::uint64_t progress, clock::time_point now) {
    if (!enabled() || now < next_check_) {
        return false;
    }
    next_check_ = now + interval_;
    // The first check has nothing to compare with: it only records the counter.
    const bool ping = have_progress_ && progress != last_progress_;
    have_progress_ = true;
    last_progress_ = progress;
    return ping && send("WATCHDOG=1");
}

std::chrono::milliseconds Watchdog::until_due(clock::time_point now) const {
    if (!enabled()) {
        return std::chrono::milliseconds::max();
    }
    if (now >= next_check_) {
        return std::chrono::milliseconds(0);
    }
    return std::chrono::ceil<std::chrono::milliseconds>(next_check_ - now);
}

} // namespace lockstep::service::notify
