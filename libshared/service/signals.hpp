// Clean shutdown on SIGTERM/SIGINT: the signals are blocked in every thread and read
// synchronously by the main thread through a signalfd, so no code runs in signal-handler
// context and no thread (least of all the audio thread) is ever interrupted by them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <span>

#include <signal.h>

namespace lockstep::service {

class SignalWaiter {
public:
    enum class Event {
        timeout, // the timeout passed
        signal,  // a watched signal arrived (Result::signal says which)
        woken,   // wake() was called
        fd_ready // one of the extra descriptors is readable (Result::fd_index says which)
    };
    struct Result {
        Event event = Event::timeout;
        int signal = 0;
        std::size_t fd_index = 0;
    };

    // Main thread, BEFORE any other thread starts (threads inherit the signal mask; one
    // started earlier could receive the signal and die of it). Blocks `signals` in the
    // calling thread, opens a signalfd for them and an eventfd for wake(), and sets
    // SIGPIPE to ignored for the whole process (a write to a closed socket or pipe then
    // fails with EPIPE instead of killing us). Throws std::system_error on failure.
    explicit SignalWaiter(std::initializer_list<int> signals = {SIGTERM, SIGINT});
    // Discards watched signals still pending, closes the descriptors and restores the
    // signal mask of the calling thread (call it on the constructing thread).
    ~SignalWaiter();
    SignalWaiter(const SignalWaiter&) = delete;
    SignalWaiter& operator=(const SignalWaiter&) = delete;

    // Main thread. Waits until a watched signal arrives, wake() is called, one of
    // `extra_fds` becomes readable, or `timeout` passes (nullopt: wait without limit).
    // Reports signals first, then wake-ups, then descriptors. Retries on EINTR.
    Result wait(std::optional<std::chrono::milliseconds> timeout,
                std::span<const int> extra_fds = {});

    // Any thread but the audio thread (one write(2) to an eventfd; async-signal-safe).
    // The next wait() returns Event::woken; several wake() calls before it count as one.
    void wake() noexcept;

    // Any thread: whether wait() has reported a watched signal.
    bool stop_requested() const noexcept { return stop_.load(std::memory_order_relaxed); }

    // For callers with their own poll loop (readable when wait() has news); main thread.
    int signal_fd() const noexcept { return signal_fd_; }
    int wake_fd() const noexcept { return wake_fd_; }

private:
    int signal_fd_ = -1;
    int wake_fd_ = -1;
    sigset_t watched_;
    sigset_t old_mask_;
    std::atomic<bool> stop_{false};
};

} // namespace lockstep::service
