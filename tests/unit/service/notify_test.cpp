#include "service/notify.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

namespace notify = lockstep::service::notify;
using namespace std::chrono_literals;

// A fake systemd: a unix datagram socket that NOTIFY_SOCKET points at.
class Notify : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/lockstep-notify-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        path_ = dir_ + "/notify";
        fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ASSERT_GE(fd_, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        ASSERT_LT(path_.size(), sizeof addr.sun_path);
        path_.copy(addr.sun_path, path_.size());
        ASSERT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        setenv("NOTIFY_SOCKET", path_.c_str(), 1);
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
    }
    void TearDown() override {
        unsetenv("NOTIFY_SOCKET");
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");
        close(fd_);
        unlink(path_.c_str());
        rmdir(dir_.c_str());
    }
    // Next datagram, or "<none>" after a generous timeout.
    std::string receive() {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 10000) != 1) {
            return "<none>";
        }
        char buf[4096];
        const ssize_t n = recv(fd_, buf, sizeof buf, 0);
        return n < 0 ? "<error>" : std::string(buf, static_cast<std::size_t>(n));
    }
    bool nothing_queued() {
        pollfd p{fd_, POLLIN, 0};
        return poll(&p, 1, 0) == 0;
    }
    void enable_watchdog(const char* usec) {
        setenv("WATCHDOG_USEC", usec, 1);
        setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
    }

    std::string dir_;
    std::string path_;
    int fd_ = -1;
};

TEST_F(Notify, ReadyStatusStopping) {
    EXPECT_TRUE(notify::enabled());
    EXPECT_TRUE(notify::ready());
    EXPECT_EQ(receive(), "READY=1");
    EXPECT_TRUE(notify::ready("listening on 9010"));
    EXPECT_EQ(receive(), "READY=1\nSTATUS=listening on 9010");
    EXPECT_TRUE(notify::status("two\nlines"));
    EXPECT_EQ(receive(), "STATUS=two lines");
    EXPECT_TRUE(notify::stopping());
    EXPECT_EQ(receive(), "STOPPING=1");
    EXPECT_TRUE(nothing_queued());
}

TEST_F(Notify, NoOpsWithoutNotifySocket) {
    unsetenv("NOTIFY_SOCKET");
    EXPECT_FALSE(notify::enabled());
    EXPECT_FALSE(notify::ready());
    EXPECT_FALSE(notify::stopping());
    EXPECT_FALSE(notify::status("x"));
    notify::Watchdog w;
    EXPECT_FALSE(w.enabled());
    EXPECT_FALSE(w.poll(1));
    EXPECT_EQ(w.until_due(), std::chrono::milliseconds::max());
    EXPECT_TRUE(nothing_queued());
}

TEST_F(Notify, WatchdogDisabledWithoutWatchdogUsecOrForAnotherPid) {
    notify::Watchdog off;
    EXPECT_FALSE(off.enabled());
    setenv("WATCHDOG_USEC", "2000000", 1);
    setenv("WATCHDOG_PID", std::to_string(getpid() + 1).c_str(), 1);
    notify::Watchdog other;
    EXPECT_FALSE(other.enabled());
}

// WATCHDOG=1 goes out only when the progress counter moved since the previous check, at
// half of WATCHDOG_USEC. Times are passed explicitly, so the test does not depend on the
// wall clock.
TEST_F(Notify, WatchdogPingsOnlyWhileTheCounterMoves) {
    enable_watchdog("2000000");
    notify::Watchdog w;
    ASSERT_TRUE(w.enabled());
    EXPECT_EQ(w.interval(), 1s);

    const auto t0 = notify::Watchdog::clock::now();
    EXPECT_EQ(w.until_due(t0), 0ms);
    EXPECT_FALSE(w.poll(10, t0)); // first check only records the counter
    EXPECT_EQ(w.until_due(t0), 1000ms);
    EXPECT_FALSE(w.poll(11, t0 + 500ms)); // not due yet
    EXPECT_TRUE(w.poll(11, t0 + 1s));     // due, and the counter moved
    EXPECT_EQ(receive(), "WATCHDOG=1");

    EXPECT_FALSE(w.poll(11, t0 + 2s)); // due, but the audio thread is stuck
    // Datagrams arrive in order: the marker comes next only if no WATCHDOG=1 was sent.
    ASSERT_TRUE(notify::status("marker"));
    EXPECT_EQ(receive(), "STATUS=marker");

    EXPECT_FALSE(w.poll(12, t0 + 2500ms)); // next check is at t0 + 3 s
    EXPECT_TRUE(w.poll(12, t0 + 3s));
    EXPECT_EQ(receive(), "WATCHDOG=1");
    EXPECT_TRUE(nothing_queued());
}

} // namespace
