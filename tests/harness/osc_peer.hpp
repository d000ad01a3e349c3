// A test's OSC peer: a UDP socket on loopback that sends messages (or raw bytes) to a
// client and waits for its replies with poll() and a timeout (never sleeps).
// Thread: the test thread. Header-only; needs lockstep_dep.
#pragma once

#include "osc/address.hpp"
#include "osc/decode.hpp"
#include "osc/message.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace lockstep::test {

// This machine's first IPv4 address that is up and not loopback ("192.0.2.2"), if any.
inline std::optional<std::string> non_loopback_ipv4() {
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) {
        return std::nullopt;
    }
    std::optional<std::string> found;
    for (ifaddrs* i = list; i != nullptr && !found; i = i->ifa_next) {
        if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET ||
            (i->ifa_flags & IFF_LOOPBACK) != 0 || (i->ifa_flags & IFF_UP) == 0) {
            continue;
        }
        sockaddr_in sin{};
        std::memcpy(&sin, i->ifa_addr, sizeof sin);
        char host[INET_ADDRSTRLEN] = {};
        inet_ntop(AF_INET, &sin.sin_addr, host, sizeof host);
        if ((ntohl(sin.sin_addr.s_addr) >> 24) != 127) {
            found = host;
        }
    }
    ::freeifaddrs(list);
    return found;
}

inline osc::SocketAddress loopback(std::uint16_t port) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return osc::SocketAddress(reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
}

// A UDP port on loopback that was free a moment ago (the clients' CLI refuses port 0);
// 0 if the kernel would not give one.
inline std::uint16_t free_udp_port() {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const osc::SocketAddress a = loopback(0);
    sockaddr_in sin{};
    socklen_t len = sizeof sin;
    std::uint16_t port = 0;
    if (fd >= 0 && ::bind(fd, a.get(), a.size()) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len) == 0) {
        port = ntohs(sin.sin_port);
    }
    if (fd >= 0) {
        ::close(fd);
    }
    return port;
}

class OscPeer {
public:
    // Bound to 127.0.0.1:0; sends to 127.0.0.1:`port`.
    explicit OscPeer(std::uint16_t port) : to_(loopback(port)) {
        fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        const osc::SocketAddress a = loopback(0);
        bound_ = fd_ >= 0 && ::bind(fd_, a.get(), a.size()) == 0;
    }
    ~OscPeer() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    OscPeer(const OscPeer&) = delete;
    OscPeer& operator=(const OscPeer&) = delete;

    bool bound() const { return bound_; }

    bool send_bytes(std::span<const std::uint8_t> bytes) {
        return ::sendto(fd_, bytes.data(), bytes.size(), 0, to_.get(), to_.size()) ==
               static_cast<ssize_t>(bytes.size());
    }
    bool send(const osc::Message& m) {
        const auto bytes = osc::encode(m);
        return send_bytes(bytes);
    }

    // The next message received (bundles are unpacked, in order: /query replies come in
    // bundles), or nullopt after `timeout`.
    std::optional<osc::Message> receive(std::chrono::milliseconds timeout) {
        if (!unpacked_.empty()) {
            osc::Message m = std::move(unpacked_.front());
            unpacked_.pop_front();
            return m;
        }
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
            return std::nullopt;
        }
        std::vector<std::uint8_t> buffer(65536);
        const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
        if (n < 0) {
            return std::nullopt;
        }
        const osc::Decoded d =
            osc::decode(std::span<const std::uint8_t>(buffer.data(), static_cast<std::size_t>(n)));
        if (!d.ok() || d.elements.empty()) {
            return std::nullopt;
        }
        for (std::size_t i = 1; i < d.elements.size(); ++i) {
            unpacked_.push_back(d.elements[i].message);
        }
        return d.elements[0].message;
    }

    // Waits (up to `timeout` in all) for a message that `wanted` accepts, skipping others.
    template <typename Pred>
    std::optional<osc::Message> receive_until(Pred wanted, std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                return std::nullopt;
            }
            auto m = receive(left);
            if (!m) {
                return std::nullopt;
            }
            if (wanted(*m)) {
                return m;
            }
        }
    }

    // Waits (up to `timeout` in all) for a message with `path`, skipping others.
    std::optional<osc::Message> receive_path(const std::string& path,
                                             std::chrono::milliseconds timeout) {
        return receive_until([&](const osc::Message& m) { return m.path == path; }, timeout);
    }

    // Sends /ping and returns every message that came before the /pong (nullopt if none
    // came within `timeout`). A client handles packets in order, so everything sent before
    // has been handled and its replies (and refusals) are in the list.
    std::optional<std::vector<osc::Message>> ping_and_collect(std::chrono::milliseconds timeout) {
        if (!send(osc::Message("/ping"))) {
            return std::nullopt;
        }
        std::vector<osc::Message> got;
        if (!receive_until(
                [&](const osc::Message& m) {
                    if (m.path == "/pong") {
                        return true;
                    }
                    got.push_back(m);
                    return false;
                },
                timeout)) {
            return std::nullopt;
        }
        return got;
    }

private:
    int fd_ = -1;
    bool bound_ = false;
    std::deque<osc::Message> unpacked_; // the rest of the last bundle received
    osc::SocketAddress to_;
};

} // namespace lockstep::test
