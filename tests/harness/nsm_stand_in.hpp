// A stand-in for an NSM server (nsmd is not packaged in Debian 12): a UDP socket on
// 127.0.0.1 that receives what clients send and answers the last client that spoke, as
// nsmd answers from its one socket. Waits use poll() with a timeout (never sleeps).
// Thread: the test thread. Header-only; needs lockstep_dep.
#pragma once

#include "harness/osc_peer.hpp"

#include <string>

namespace lockstep::test {

class NsmStandIn {
public:
    NsmStandIn() {
        fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        const osc::SocketAddress a = loopback(0);
        bound_ = fd_ >= 0 && ::bind(fd_, a.get(), a.size()) == 0;
        sockaddr_storage s{};
        socklen_t n = sizeof s;
        if (bound_ && ::getsockname(fd_, reinterpret_cast<sockaddr*>(&s), &n) == 0) {
            port_ = osc::SocketAddress(reinterpret_cast<const sockaddr*>(&s), n).port();
        }
    }
    ~NsmStandIn() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    NsmStandIn(const NsmStandIn&) = delete;
    NsmStandIn& operator=(const NsmStandIn&) = delete;

    bool bound() const { return bound_ && port_ != 0; }
    std::uint16_t port() const { return port_; }
    // What NSM_URL says for this server.
    std::string url() const { return "osc.udp://127.0.0.1:" + std::to_string(port_) + "/"; }
    const osc::SocketAddress& last_sender() const { return client_; }

    // The next message from anyone (it becomes the client answered), or nullopt after
    // `timeout`.
    std::optional<osc::Message> receive_any(std::chrono::milliseconds timeout) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
            return std::nullopt;
        }
        std::vector<std::uint8_t> buffer(65536);
        sockaddr_storage from{};
        socklen_t from_len = sizeof from;
        const ssize_t n = ::recvfrom(fd_, buffer.data(), buffer.size(), 0,
                                     reinterpret_cast<sockaddr*>(&from), &from_len);
        if (n < 0) {
            return std::nullopt;
        }
        client_ = osc::SocketAddress(reinterpret_cast<const sockaddr*>(&from), from_len);
        const osc::Decoded d =
            osc::decode(std::span<const std::uint8_t>(buffer.data(), static_cast<std::size_t>(n)));
        if (!d.ok() || d.elements.empty()) {
            return std::nullopt;
        }
        return d.elements[0].message;
    }

    // Waits (up to `timeout` in all) for a message `wanted` accepts; the others are kept in
    // skipped().
    template <typename Pred>
    std::optional<osc::Message> receive_until(Pred wanted, std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                return std::nullopt;
            }
            auto m = receive_any(left);
            if (m && wanted(*m)) {
                return m;
            }
            if (m) {
                skipped_.push_back(*m);
            }
        }
    }
    std::optional<osc::Message> receive(const std::string& path,
                                        std::chrono::milliseconds timeout) {
        return receive_until([&](const osc::Message& m) { return m.path == path; }, timeout);
    }
    // The client's answer to `request`: a /reply or /error whose first argument is `request`.
    std::optional<osc::Message> receive_answer(const std::string& request,
                                               std::chrono::milliseconds timeout) {
        return receive_until(
            [&](const osc::Message& m) {
                return (m.path == "/reply" || m.path == "/error") && !m.args.empty() &&
                       m.args[0].type() == 's' && m.args[0].s() == request;
            },
            timeout);
    }
    const std::vector<osc::Message>& skipped() const { return skipped_; }

    // To the last client that spoke.
    bool send(const osc::Message& m) { return send_to(client_, m); }
    bool send_bytes(std::span<const std::uint8_t> bytes) {
        return ::sendto(fd_, bytes.data(), bytes.size(), 0, client_.get(), client_.size()) ==
               static_cast<ssize_t>(bytes.size());
    }
    bool send_to(const osc::SocketAddress& to, const osc::Message& m) {
        const auto bytes = osc::encode(m);
        return ::sendto(fd_, bytes.data(), bytes.size(), 0, to.get(), to.size()) ==
               static_cast<ssize_t>(bytes.size());
    }

private:
    int fd_ = -1;
    bool bound_ = false;
    std::uint16_t port_ = 0;
    osc::SocketAddress client_;
    std::vector<osc::Message> skipped_;
};

} // namespace lockstep::test
