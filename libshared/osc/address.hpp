// Where OSC packets come from and go to: socket addresses, OSC URLs, and the sender
// allow-list. Hosts in URLs are numeric (or "localhost"): the endpoint never waits on DNS.
// Thread: any (plain values). Allocates.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/socket.h>

namespace lockstep::osc {

// Default OSC ports per role (DESIGN.md section 4).
namespace port {
inline constexpr std::uint16_t seq = 9010;
inline constexpr std::uint16_t sampler = 9011;
inline constexpr std::uint16_t capture = 9012;
inline constexpr std::uint16_t bridge = 9013;
} // namespace port

// An IPv4, IPv6 or UNIX socket address.
class SocketAddress {
public:
    SocketAddress() = default;
    SocketAddress(const sockaddr* address, socklen_t length);

    const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
    socklen_t size() const noexcept { return length_; }
    int family() const noexcept { return storage_.ss_family; }
    bool empty() const noexcept { return length_ == 0; }

    // A UNIX datagram sender that did not bind a path: nothing can be sent back to it.
    bool unnamed() const noexcept;
    // 127.0.0.0/8, ::1 or an IPv4-mapped 127.x address (false for UNIX addresses).
    bool is_loopback() const;
    // 0 for UNIX addresses.
    std::uint16_t port() const noexcept;
    // IPv4 for an IPv4-mapped IPv6 address (a dual-stack socket's view of IPv4 senders).
    SocketAddress unmapped() const;

    // For logs: "127.0.0.1:9010", "[::1]:9010", "unix:/run/x.sock", "unix:(unnamed)".
    std::string to_string() const;
    // OSC URL: "osc.udp://127.0.0.1:9010/", "osc.unix:///run/x.sock".
    std::string url() const;

    bool operator==(const SocketAddress& other) const noexcept;

private:
    sockaddr_storage storage_{};
    socklen_t length_ = 0;
};

// Parses "osc.udp://HOST:PORT[/]" or "osc.unix:///ABSOLUTE/PATH". HOST: dotted IPv4,
// bracketed IPv6 ("[::1]"), "localhost" (127.0.0.1), or empty (127.0.0.1).
// On failure returns nullopt and, if given, sets `error` to one line saying why.
std::optional<SocketAddress> parse_url(std::string_view url, std::string* error = nullptr);

// The --osc URL|PORT convention: empty means osc.udp://127.0.0.1:<default_port>, a bare
// number means osc.udp://127.0.0.1:<number>, anything else is a URL as for parse_url.
std::optional<SocketAddress> parse_listen(std::string_view spec, std::uint16_t default_port,
                                          std::string* error = nullptr);

// Which UDP senders are admitted. 127.0.0.1 and ::1 always are; add() admits more
// (--osc-allow CIDR). UNIX-socket senders are governed by file permissions and always
// admitted here.
class AllowList {
public:
    AllowList();

    // "10.0.0.0/8", "192.168.1.20" (= /32), "fd00::/8", "::1" (= /128).
    bool add(std::string_view cidr, std::string* error = nullptr);
    bool allows(const SocketAddress& sender) const;

private:
    struct Net {
        int family;
        std::array<std::uint8_t, 16> bytes;
        int prefix;
    };
    std::vector<Net> nets_;
};

} // namespace lockstep::osc
