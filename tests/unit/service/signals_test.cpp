#include "service/signals.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <thread>

#include <pthread.h>
#include <unistd.h>

namespace {

using lockstep::service::SignalWaiter;
using namespace std::chrono_literals;

bool blocked_in_this_thread(int sig) {
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, nullptr, &cur);
    return sigismember(&cur, sig) == 1;
}

TEST(Signals, TimesOutWhenNothingHappens) {
    SignalWaiter w;
    EXPECT_EQ(w.wait(0ms).event, SignalWaiter::Event::timeout);
    EXPECT_EQ(w.wait(20ms).event, SignalWaiter::Event::timeout);
    EXPECT_FALSE(w.stop_requested());
}

TEST(Signals, SigtermAndSigintAreReportedNotFatal) {
    SignalWaiter w;
    ASSERT_EQ(kill(getpid(), SIGTERM), 0);
    auto r = w.wait(10s);
    EXPECT_EQ(r.event, SignalWaiter::Event::signal);
    EXPECT_EQ(r.signal, SIGTERM);
    EXPECT_TRUE(w.stop_requested());

    ASSERT_EQ(raise(SIGINT), 0);
    r = w.wait(10s);
    EXPECT_EQ(r.event, SignalWaiter::Event::signal);
    EXPECT_EQ(r.signal, SIGINT);
}

TEST(Signals, ThreadsStartedAfterwardsHaveThemBlocked) {
    SignalWaiter w;
    bool term = false;
    bool intr = false;
    std::thread t([&] {
        term = blocked_in_this_thread(SIGTERM);
        intr = blocked_in_this_thread(SIGINT);
    });
    t.join();
    EXPECT_TRUE(term);
    EXPECT_TRUE(intr);
}

TEST(Signals, WakeFromAnotherThread) {
    SignalWaiter w;
    std::thread t([&] { w.wake(); });
    const auto r = w.wait(10s);
    t.join();
    EXPECT_EQ(r.event, SignalWaiter::Event::woken);
    EXPECT_FALSE(w.stop_requested());
    // Wake-ups are consumed: nothing left.
    EXPECT_EQ(w.wait(0ms).event, SignalWaiter::Event::timeout);
}

TEST(Signals, SignalIsReportedBeforeWakeUp) {
    SignalWaiter w;
    w.wake();
    ASSERT_EQ(kill(getpid(), SIGTERM), 0);
    EXPECT_EQ(w.wait(10s).event, SignalWaiter::Event::signal);
    EXPECT_EQ(w.wait(10s).event, SignalWaiter::Event::woken);
}

TEST(Signals, ExtraDescriptors) {
    SignalWaiter w;
    int a[2];
    int b[2];
    ASSERT_EQ(pipe(a), 0);
    ASSERT_EQ(pipe(b), 0);
    const int fds[] = {a[0], b[0]};
    EXPECT_EQ(w.wait(0ms, fds).event, SignalWaiter::Event::timeout);
    ASSERT_EQ(write(b[1], "x", 1), 1);
    const auto r = w.wait(10s, fds);
    EXPECT_EQ(r.event, SignalWaiter::Event::fd_ready);
    EXPECT_EQ(r.fd_index, 1U);
    for (int fd : {a[0], a[1], b[0], b[1]}) {
        close(fd);
    }
}

TEST(Signals, SigpipeIsIgnored) {
    SignalWaiter w;
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    close(p[0]);
    errno = 0;
    EXPECT_EQ(write(p[1], "x", 1), -1); // would kill the process if SIGPIPE were fatal
    EXPECT_EQ(errno, EPIPE);
    close(p[1]);
}

TEST(Signals, DestructorDropsPendingSignalAndRestoresMask) {
    ASSERT_FALSE(blocked_in_this_thread(SIGTERM));
    {
        SignalWaiter w;
        EXPECT_TRUE(blocked_in_this_thread(SIGTERM));
        ASSERT_EQ(kill(getpid(), SIGTERM), 0); // pending, never waited for
    }
    EXPECT_FALSE(blocked_in_this_thread(SIGTERM)); // and we are still alive
}

} // namespace
