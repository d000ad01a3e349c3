#include "service/rt_priority.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include <grp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

// ASan and TSan replace mlockall() with a no-op that reports success.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LOCKSTEP_FAKE_MLOCK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LOCKSTEP_FAKE_MLOCK 1
#endif
#endif
#ifndef LOCKSTEP_FAKE_MLOCK
#define LOCKSTEP_FAKE_MLOCK 0
#endif

namespace {

struct ChildResult {
    int status = -1; // bits: 1 lock#1, 2 lock#2, 4 fifo#1, 8 fifo#2 succeeded; 64 setup failed
    std::string log; // its stderr
};

// Runs lock_memory() and request_fifo() twice each in a child process (so the test process
// is neither locked nor made real-time), optionally after dropping every privilege.
ChildResult run_child(bool unprivileged) {
    int fds[2];
    if (pipe(fds) != 0) {
        return {};
    }
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        if (unprivileged) {
            const rlimit zero{0, 0};
            if (setrlimit(RLIMIT_MEMLOCK, &zero) != 0 || setrlimit(RLIMIT_RTPRIO, &zero) != 0) {
                _exit(64);
            }
            // Root would ignore the limits; become nobody (this drops all capabilities).
            if (geteuid() == 0 &&
                (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0)) {
                _exit(64);
            }
        }
        int bits = 0;
        bits |= lockstep::service::lock_memory() ? 1 : 0;
        bits |= lockstep::service::lock_memory() ? 2 : 0;
        bits |= lockstep::service::request_fifo(pthread_self(), 1000, "test thread") ? 4 : 0;
        bits |= lockstep::service::request_fifo(pthread_self(), 1000, "test thread") ? 8 : 0;
        _exit(bits);
    }
    close(fds[1]);
    ChildResult r;
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
        if (n > 0) {
            r.log.append(buf, static_cast<std::size_t>(n));
        }
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

std::size_t count(const std::string& haystack, const std::string& needle) {
    std::size_t n = 0;
    for (auto pos = haystack.find(needle); pos != std::string::npos;
         pos = haystack.find(needle, pos + 1)) {
        ++n;
    }
    return n;
}

TEST(RtPriority, RefusalIsLoggedOnceAndNotFatal) {
    const auto r = run_child(true);
    ASSERT_NE(r.status, 64) << "could not drop privileges in the child";
    ASSERT_NE(r.status, -1) << r.log;
#if LOCKSTEP_FAKE_MLOCK
    EXPECT_EQ(r.status & 12, 0) << r.log;
#else
    EXPECT_EQ(r.status, 0) << r.log; // every request refused ...
    EXPECT_EQ(count(r.log, "cannot lock memory"), 1U) << r.log;
    EXPECT_NE(r.log.find("running without"), std::string::npos) << r.log;
#endif
    EXPECT_EQ(count(r.log, "cannot use SCHED_FIFO"), 1U) << r.log; // ... and said once
    // The priority was clamped into the SCHED_FIFO range.
    EXPECT_NE(r.log.find("priority 99 for test thread"), std::string::npos) << r.log;
}

TEST(RtPriority, SuccessIsSilentAndRefusalIsLogged) {
    // Whatever this machine allows, each outcome must match what was logged.
    const auto r = run_child(false);
    ASSERT_GE(r.status, 0) << r.log;
    const bool locked = (r.status & 1) != 0;
    const bool fifo = (r.status & 4) != 0;
    EXPECT_EQ(count(r.log, "cannot lock memory"), locked ? 0U : 1U) << r.log;
    EXPECT_EQ(count(r.log, "cannot use SCHED_FIFO"), fifo ? 0U : 1U) << r.log;
}

} // namespace
