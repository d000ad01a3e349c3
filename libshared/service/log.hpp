// Logging to stderr, one line per message, with sd-daemon priority prefixes
// ("<3>" error ... "<7>" debug) so journald files each line at its level.
// Thread: any non-real-time thread. Never call from the audio thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace lockstep::log {

enum class Level : int { error = 3, warning = 4, notice = 5, info = 6, debug = 7 };

// Messages above this level are discarded (default info; LOCKSTEP_LOG=debug changes it).
void set_level(Level level);
Level level();

void write(Level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOCKSTEP_LOG_FN(name, lvl)                                                                 \
    template <typename... Args>                                                                    \
    void name(const char* fmt, Args... args) {                                                     \
        write(Level::lvl, fmt, args...);                                                           \
    }

// Helpers forward to write(); the format string is checked there.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-security"
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
LOCKSTEP_LOG_FN(error, error)
LOCKSTEP_LOG_FN(warning, warning)
LOCKSTEP_LOG_FN(notice, notice)
LOCKSTEP_LOG_FN(info, info)
LOCKSTEP_LOG_FN(debug, debug)
#pragma GCC diagnostic pop
#undef LOCKSTEP_LOG_FN

// Lets through at most `burst` messages per `interval`; counts what it suppressed so
// the next admitted line can say how many were dropped. Thread-safe, lock-free.
class RateLimiter {
public:
    RateLimiter(int burst, std::chrono::milliseconds interval)
        : burst_(burst), interval_(interval) {}

    // Returns true when a message may be written now; `suppressed` receives the number of
    // messages dropped since the last admitted one.
    bool admit(std::uint64_t& suppressed);

private:
    int burst_;
    std::chrono::milliseconds interval_;
    std::atomic<std::int64_t> window_start_ns_{0};
    std::atomic<int> in_window_{0};
    std::atomic<std::uint64_t> suppressed_{0};
};

} // namespace lockstep::log
