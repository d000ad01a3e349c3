#include "service/log.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace lockstep::log {

namespace {
Level initial_level() {
    const char* env = std::getenv("LOCKSTEP_LOG");
    if (env == nullptr) {
        return Level::info;
    }
    if (std::strcmp(env, "debug") == 0) {
        return Level::debug;
    }
    if (std::strcmp(env, "notice") == 0) {
        return Level::notice;
    }
    if (std::strcmp(env, "warning") == 0) {
        return Level::warning;
    }
    if (std::strcmp(env, "error") == 0) {
        return Level::error;
    }
    return Level::info;
}

std::atomic<int> g_level{static_cast<int>(initial_level())};
} // namespace

void set_level(Level l) {
    g_level.store(static_cast<int>(l), std::memory_order_relaxed);
}

Level level() {
    return static_cast<Level>(g_level.load(std::memory_order_relaxed));
}

void write(Level l, const char* fmt, ...) {
    if (static_cast<int>(l) > g_level.load(std::memory_order_relaxed)) {
        return;
    }
    // Format into one buffer and write it with one call so lines from threads never interleave.
    char line[1024];
    int n = std::snprintf(line, sizeof line, "<%d>", static_cast<int>(l));
    va_list ap;
    va_start(ap, fmt);
    int m = std::vsnprintf(line + n, sizeof line - static_cast<size_t>(n) - 1, fmt, ap);
    va_end(ap);
    size_t len = static_cast<size_t>(n) + (m < 0 ? 0 : static_cast<size_t>(m));
    if (len > sizeof line - 2) {
        len = sizeof line - 2;
    }
    line[len++] = '\n';
    std::fwrite(line, 1, len, stderr);
    std::fflush(stderr);
}

bool RateLimiter::admit(std::uint64_t& suppressed) {
    const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count();
    auto start = window_start_ns_.load(std::memory_order_relaxed);
    const auto interval_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(interval_).count();
    if (now - start >= interval_ns &&
        window_start_ns_.compare_exchange_strong(start, now, std::memory_order_relaxed)) {
        in_window_.store(0, std::memory_order_relaxed);
    }
    if (in_window_.fetch_add(1, std::memory_order_relaxed) < burst_) {
        suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
        return true;
    }
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    suppressed = 0;
    return false;
}

} // namespace lockstep::log
