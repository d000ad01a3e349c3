#include "service/signals.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <system_error>
#include <vector>

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace lockstep::service {

namespace {
[[noreturn]] void fail(int err, const char* what) {
    throw std::system_error(err, std::generic_category(), what);
}
} // namespace

SignalWaiter::SignalWaiter(std::initializer_list<int> signals) {
    sigemptyset(&watched_);
    for (int s : signals) {
        sigaddset(&watched_, s);
    }
    std::signal(SIGPIPE, SIG_IGN);
    if (int err = pthread_sigmask(SIG_BLOCK, &watched_, &old_mask_); err != 0) {
        fail(err, "pthread_sigmask");
    }
    signal_fd_ = signalfd(-1, &watched_, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signal_fd_ < 0) {
        const int err = errno;
        pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
        fail(err, "signalfd");
    }
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) {
        const int err = errno;
        close(signal_fd_);
        pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
        fail(err, "eventfd");
    }
}

SignalWaiter::~SignalWaiter() {
    // Unblocking with a watched signal still pending would deliver it with its default
    // action (terminate) right here; drop it first.
    signalfd_siginfo info;
    while (read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    }
    close(signal_fd_);
    close(wake_fd_);
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

SignalWaiter::Result SignalWaiter::wait(std::optional<std::chrono::milliseconds> timeout,
                                        std::span<const int> extra_fds) {
    std::vector<pollfd> fds;
    fds.reserve(2 + extra_fds.size());
    fds.push_back({signal_fd_, POLLIN, 0});
    fds.push_back({wake_fd_, POLLIN, 0});
    for (int fd : extra_fds) {
        fds.push_back({fd, POLLIN, 0});
    }
    using clock = std::chrono::steady_clock;
    const auto deadline = timeout ? clock::now() + *timeout : clock::time_point::max();
    for (;;) {
        int wait_ms = -1;
        if (timeout) {
            const auto left =
                std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now()).count();
            wait_ms = left <= 0 ? 0 : static_cast<int>(std::min<std::int64_t>(left, INT32_MAX));
        }
        const int n = poll(fds.data(), fds.size(), wait_ms);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail(errno, "poll");
        }
        if (fds[0].revents != 0) {
            signalfd_siginfo info;
            if (read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
                stop_.store(true, std::memory_order_relaxed);
                return Result{Event::signal, static_cast<int>(info.ssi_signo), 0};
            }
        }
        if (fds[1].revents != 0) {
            std::uint64_t count;
            if (read(wake_fd_, &count, sizeof count) == static_cast<ssize_t>(sizeof count)) {
                return Result{Event::woken, 0, 0};
            }
        }
        for (std::size_t i = 2; i < fds.size(); ++i) {
            if (fds[i].revents != 0) {
                return Result{Event::fd_ready, 0, i - 2};
            }
        }
        if (n == 0 && timeout && clock::now() >= deadline) {
            return Result{};
        }
    }
}

void SignalWaiter::wake() noexcept {
    const std::uint64_t one = 1;
    // Only fails when the counter would overflow, i.e. a wake-up is pending anyway.
    [[maybe_unused]] auto n = write(wake_fd_, &one, sizeof one);
}

} // namespace lockstep::service
