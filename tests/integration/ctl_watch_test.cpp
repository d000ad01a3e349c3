// lockstep-ctl against a fake client (a socket in the test that answers like an endpoint):
// replies over a UNIX socket come back to an abstract address (reachable from a client
// under systemd's PrivateTmp=, unlike a file in /tmp); `watch` unsubscribes on SIGHUP,
// SIGPIPE and a closed output, and subscribes again when the client restarts; Ctrl-C
// while waiting for a reply says "interrupted" and exits 130; a sampler load is sent with
// an absolute path (a local one: a remote sampler gets the path as typed), and a timeout
// while the sampler is alive says it may still be loading; a repeated /error is printed
// once; a client whose queue is full is an error at once, not a hang.
#include "harness/osc_peer.hpp"
#include "harness/process.hpp"

#include "osc/decode.hpp"
#include "osc/message.hpp"

#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lockstep::test {
namespace {

using namespace std::chrono_literals;
constexpr auto generous = 30s;

struct Received {
    osc::Message message;
    osc::SocketAddress sender;
};

// One datagram socket standing in for a lockstep client's endpoint.
class FakeClient {
public:
    // UDP on 127.0.0.1:port (0: any free port).
    explicit FakeClient(std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        const osc::SocketAddress a = loopback(port);
        bound_ = fd_ >= 0 && ::bind(fd_, a.get(), a.size()) == 0;
    }
    // UNIX datagram socket at `path`.
    explicit FakeClient(const std::string& path) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un sun{};
        sun.sun_family = AF_UNIX;
        std::strncpy(sun.sun_path, path.c_str(), sizeof sun.sun_path - 1);
        bound_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<const sockaddr*>(&sun), sizeof sun) == 0;
    }
    ~FakeClient() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    FakeClient(const FakeClient&) = delete;
    FakeClient& operator=(const FakeClient&) = delete;

    bool bound() const { return bound_; }

    // The next message with `path` (others skipped), or nullopt after `timeout`.
    std::optional<Received> receive(const std::string& path, std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            pollfd p{fd_, POLLIN, 0};
            if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) {
                return std::nullopt;
            }
            std::vector<std::uint8_t> buffer(65536);
            sockaddr_storage from{};
            socklen_t length = sizeof from;
            const ssize_t n = ::recvfrom(fd_, buffer.data(), buffer.size(), 0,
                                         reinterpret_cast<sockaddr*>(&from), &length);
            if (n < 0) {
                continue;
            }
            const osc::Decoded d = osc::decode(
                std::span<const std::uint8_t>(buffer.data(), static_cast<std::size_t>(n)));
            for (const auto& e : d.elements) {
                if (e.message.path == path) {
                    return Received{e.message,
                                    osc::SocketAddress(reinterpret_cast<sockaddr*>(&from), length)};
                }
            }
        }
    }

    bool send(const osc::SocketAddress& to, const osc::Message& m) {
        const auto bytes = osc::encode(m);
        return ::sendto(fd_, bytes.data(), bytes.size(), 0, to.get(), to.size()) ==
               static_cast<ssize_t>(bytes.size());
    }

    // Answers a watch's /subscribe + /ping; returns the watcher's address.
    std::optional<osc::SocketAddress> accept_watch() {
        const auto sub = receive("/subscribe", generous);
        const auto ping = receive("/ping", generous);
        if (!sub || !ping || !send(ping->sender, osc::Message("/pong"))) {
            return std::nullopt;
        }
        return ping->sender;
    }

private:
    int fd_ = -1;
    bool bound_ = false;
};

std::string ctl_binary() {
    return built("clients/ctl/lockstep-ctl");
}

TEST(CtlUnix, RepliesComeBackToAnAbstractAddressNotAFile) {
    TempDir dir("lockstep-ctl-unix");
    const std::string path = dir.path() + "/osc.sock";
    FakeClient client(path);
    ASSERT_TRUE(client.bound());
    ChildProcess ctl({ctl_binary(), "--osc", "osc.unix://" + path, "seq", "ping"});
    const auto ping = client.receive("/ping", generous);
    ASSERT_TRUE(ping) << ctl.output();
    // Abstract: sun_path starts with a NUL and there is a name after it. A path in /tmp
    // would be out of reach of a client with PrivateTmp=yes.
    ASSERT_EQ(ping->sender.family(), AF_UNIX);
    ASSERT_FALSE(ping->sender.unnamed());
    const auto* sun = reinterpret_cast<const sockaddr_un*>(ping->sender.get());
    EXPECT_EQ(sun->sun_path[0], '\0') << ping->sender.to_string();
    ASSERT_TRUE(client.send(ping->sender, osc::Message("/pong")));
    EXPECT_EQ(ctl.wait(generous), 0) << ctl.output();
    EXPECT_NE(ctl.output().find("/pong"), std::string::npos) << ctl.output();
}

TEST(CtlInterrupt, CtrlCWhileWaitingSaysInterruptedAndExits130) {
    const std::uint16_t port = free_udp_port();
    FakeClient silent(port);
    ASSERT_TRUE(silent.bound());
    ChildProcess ctl(
        {ctl_binary(), "--osc", std::to_string(port), "--timeout", "600000", "seq", "play"});
    ASSERT_TRUE(silent.receive("/seq/play", generous)) << ctl.output();
    ctl.signal(SIGINT);
    EXPECT_EQ(ctl.wait(generous), 130) << ctl.output();
    EXPECT_NE(ctl.output().find("interrupted"), std::string::npos) << ctl.output();
    EXPECT_EQ(ctl.output().find("no reply"), std::string::npos) << ctl.output();
}

TEST(CtlAsync, SendsAbsolutePathsAndSaysWhenTheClientIsStillLoading) {
    const std::uint16_t port = free_udp_port();
    FakeClient sampler(port);
    ASSERT_TRUE(sampler.bound());
    ChildProcess ctl({ctl_binary(), "--osc", std::to_string(port), "--timeout", "1000", "sampler",
                      "load", "36", "kick.wav"});
    const auto load = sampler.receive("/sampler/load", generous);
    ASSERT_TRUE(load) << ctl.output();
    // The child runs in the test's directory.
    EXPECT_EQ(load->message.args.at(1).s(), std::filesystem::current_path().string() + "/kick.wav");
    const auto ping = sampler.receive("/ping", generous);
    ASSERT_TRUE(ping) << ctl.output();
    ASSERT_TRUE(sampler.send(ping->sender, osc::Message("/pong")));
    EXPECT_EQ(ctl.wait(generous), 3) << ctl.output();
    EXPECT_NE(ctl.output().find("may still be loading"), std::string::npos) << ctl.output();
}

class CtlWatchSignal : public ::testing::TestWithParam<int> {};

TEST_P(CtlWatchSignal, UnsubscribesBeforeLeaving) {
    const std::uint16_t port = free_udp_port();
    FakeClient client(port);
    ASSERT_TRUE(client.bound());
    ChildProcess watch({ctl_binary(), "--osc", std::to_string(port), "watch", "seq"});
    const auto watcher = client.accept_watch();
    ASSERT_TRUE(watcher) << watch.output();
    ASSERT_TRUE(watch.wait_for_output("watching", generous)) << watch.output();
    watch.signal(GetParam());
    const auto unsub = client.receive("/unsubscribe", generous);
    ASSERT_TRUE(unsub) << watch.output();
    EXPECT_EQ(unsub->sender, *watcher);
    if (const auto ping = client.receive("/ping", generous)) {
        client.send(ping->sender, osc::Message("/pong"));
    }
    EXPECT_EQ(watch.wait(generous), 0) << watch.output();
}

INSTANTIATE_TEST_SUITE_P(Signals, CtlWatchSignal,
                         ::testing::Values(SIGINT, SIGTERM, SIGHUP, SIGPIPE),
                         [](const auto& p) { return std::string(sigabbrev_np(p.param)); });

TEST(CtlWatch, ClosedOutputUnsubscribes) {
    const std::uint16_t port = free_udp_port();
    FakeClient client(port);
    ASSERT_TRUE(client.bound());
    // `watch | head -n 1`: head leaves after one line; the next write hits a closed pipe.
    ChildProcess shell(
        {"sh", "-c",
         "'" + ctl_binary() + "' --osc " + std::to_string(port) + " watch seq | head -n 1"});
    const auto watcher = client.accept_watch();
    ASSERT_TRUE(watcher) << shell.output();
    // Feedback until the watcher has written into the closed pipe and given up.
    std::optional<Received> unsub;
    for (int i = 0; i < 100 && !unsub; ++i) {
        client.send(*watcher, osc::Message("/seq/tempo", {osc::Arg::float32(120)}));
        unsub = client.receive("/unsubscribe", 200ms);
    }
    ASSERT_TRUE(unsub) << shell.output();
    EXPECT_EQ(shell.wait(generous), 0) << shell.output();
}

TEST(CtlWatch, SubscribesAgainWhenTheClientRestarts) {
    const std::uint16_t port = free_udp_port();
    auto client = std::make_unique<FakeClient>(port);
    ASSERT_TRUE(client->bound());
    ChildProcess watch({ctl_binary(), "--osc", std::to_string(port), "watch", "seq"});
    ASSERT_TRUE(client->accept_watch()) << watch.output();
    ASSERT_TRUE(watch.wait_for_output("watching", generous)) << watch.output();
    // The client restarts on the same port and knows no subscriber.
    client.reset();
    client = std::make_unique<FakeClient>(port);
    ASSERT_TRUE(client->bound());
    const auto again = client->receive("/subscribe", generous);
    ASSERT_TRUE(again) << watch.output();
    ASSERT_TRUE(client->send(again->sender, osc::Message("/seq/tempo", {osc::Arg::float32(99)})));
    EXPECT_TRUE(watch.wait_for_output("/seq/tempo 99", generous)) << watch.output();
    watch.signal(SIGTERM);
    ASSERT_TRUE(client->receive("/unsubscribe", generous)) << watch.output();
    if (const auto ping = client->receive("/ping", generous)) {
        client->send(ping->sender, osc::Message("/pong"));
    }
    EXPECT_EQ(watch.wait(generous), 0) << watch.output();
}

TEST(CtlWatch, AnErrorRepeatedEverySecondIsPrintedOnce) {
    const std::uint16_t port = free_udp_port();
    FakeClient client(port);
    ASSERT_TRUE(client.bound());
    ChildProcess watch({ctl_binary(), "--osc", std::to_string(port), "watch", "seq"});
    ASSERT_TRUE(client.accept_watch()) << watch.output();
    ASSERT_TRUE(watch.wait_for_output("watching", generous)) << watch.output();
    // Each later /subscribe is refused the same way (the client's list is full).
    const osc::Message full(
        "/error", {osc::Arg::string("/subscribe"), osc::Arg::string("subscriber list full")});
    for (int i = 0; i < 3; ++i) {
        const auto sub = client.receive("/subscribe", generous);
        ASSERT_TRUE(sub) << watch.output();
        ASSERT_TRUE(client.send(sub->sender, full));
    }
    // The third answer is in before the fourth /subscribe goes out.
    ASSERT_TRUE(client.receive("/subscribe", generous)) << watch.output();
    watch.signal(SIGTERM);
    if (const auto ping = client.receive("/ping", generous)) {
        client.send(ping->sender, osc::Message("/pong"));
    }
    EXPECT_EQ(watch.wait(generous), 0) << watch.output();
    const std::string out = watch.output();
    const auto first = out.find("subscriber list full");
    ASSERT_NE(first, std::string::npos) << out;
    EXPECT_EQ(out.find("subscriber list full", first + 1), std::string::npos) << out;
}

TEST(CtlUnix, AClientWithAFullQueueIsAnErrorNotAHang) {
    TempDir dir("lockstep-ctl-full");
    const std::string path = dir.path() + "/osc.sock";
    FakeClient stuck(path); // never reads
    ASSERT_TRUE(stuck.bound());
    // Fill its queue from another socket until the kernel refuses more.
    const int filler = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(filler, 0);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::strncpy(sun.sun_path, path.c_str(), sizeof sun.sun_path - 1);
    const auto bytes = osc::encode(osc::Message("/ping"));
    int sent = 0;
    while (::sendto(filler, bytes.data(), bytes.size(), MSG_DONTWAIT,
                    reinterpret_cast<const sockaddr*>(&sun), sizeof sun) > 0 &&
           sent < 100000) {
        ++sent;
    }
    ::close(filler);
    ASSERT_LT(sent, 100000);
    ChildProcess ctl({ctl_binary(), "--osc", "osc.unix://" + path, "seq", "play"});
    EXPECT_EQ(ctl.wait(generous), 1) << ctl.output();
    EXPECT_NE(ctl.output().find("queue is full"), std::string::npos) << ctl.output();
}

TEST(CtlAsync, ARemoteSamplerGetsThePathAsTyped) {
    // A relative path names a file in ctl's directory, which a sampler on another machine
    // does not share: it goes as typed. This machine's own non-loopback address stands in
    // for the other machine.
    const auto other = non_loopback_ipv4();
    ASSERT_TRUE(other) << "this machine has no non-loopback IPv4 address";
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    ASSERT_EQ(inet_pton(AF_INET, other->c_str(), &sin.sin_addr), 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin), 0);
    socklen_t length = sizeof sin;
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &length), 0);
    ChildProcess to_port({ctl_binary(), "--osc",
                          "osc.udp://" + *other + ":" + std::to_string(ntohs(sin.sin_port)) + "/",
                          "--timeout", "1000", "sampler", "kit", "kits/909.sfz"});
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 30000), 1) << to_port.output();
    std::vector<std::uint8_t> buffer(65536);
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    ::close(fd);
    ASSERT_GT(n, 0);
    const osc::Decoded d =
        osc::decode(std::span<const std::uint8_t>(buffer.data(), static_cast<std::size_t>(n)));
    ASSERT_FALSE(d.elements.empty());
    EXPECT_EQ(d.elements[0].message.path, "/sampler/kit");
    EXPECT_EQ(d.elements[0].message.args.at(0).s(), "kits/909.sfz");
    to_port.wait(generous);
}

TEST(CtlAsync, AUnixSamplerIsLocalAndGetsTheAbsolutePath) {
    TempDir dir("lockstep-ctl-path");
    const std::string path = dir.path() + "/osc.sock";
    FakeClient sampler(path);
    ASSERT_TRUE(sampler.bound());
    ChildProcess ctl({ctl_binary(), "--osc", "osc.unix://" + path, "--timeout", "1000", "sampler",
                      "kit", "kits/909.sfz"});
    const auto kit = sampler.receive("/sampler/kit", generous);
    ASSERT_TRUE(kit) << ctl.output();
    EXPECT_EQ(kit->message.args.at(0).s(),
              std::filesystem::current_path().string() + "/kits/909.sfz");
    ctl.wait(generous);
}

} // namespace
} // namespace lockstep::test
