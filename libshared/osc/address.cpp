#include "osc/address.hpp"

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstring>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

namespace lockstep::osc {

namespace {

void set_error(std::string* error, std::string text) {
    if (error != nullptr) {
        *error = std::move(text);
    }
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    unsigned value = 0;
    if (text.empty() || text.size() > 5) {
        return std::nullopt;
    }
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(value);
}

SocketAddress ipv4(const in_addr& host, std::uint16_t port) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr = host;
    return SocketAddress(reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
}

constexpr std::size_t kPathOffset = offsetof(sockaddr_un, sun_path);

} // namespace

SocketAddress::SocketAddress(const sockaddr* address, socklen_t length) {
    length_ = std::min<socklen_t>(length, sizeof storage_);
    std::memcpy(&storage_, address, length_);
}

bool SocketAddress::unnamed() const noexcept {
    return family() == AF_UNIX && length_ <= kPathOffset;
}

bool SocketAddress::is_loopback() const {
    const SocketAddress a = unmapped();
    if (a.family() == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(&a.storage_);
        return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
    }
    if (a.family() == AF_INET6) {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&a.storage_);
        return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
    }
    return false;
}

std::uint16_t SocketAddress::port() const noexcept {
    if (family() == AF_INET) {
        return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
    }
    if (family() == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    }
    return 0;
}

SocketAddress SocketAddress::unmapped() const {
    if (family() != AF_INET6) {
        return *this;
    }
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
    if (!IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
        return *this;
    }
    in_addr v4{};
    std::memcpy(&v4, &sin6->sin6_addr.s6_addr[12], 4);
    return ipv4(v4, ntohs(sin6->sin6_port));
}

std::string SocketAddress::to_string() const {
    char host[INET6_ADDRSTRLEN] = {};
    switch (family()) {
    case AF_INET:
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, host,
                  sizeof host);
        return std::string(host) + ":" + std::to_string(port());
    case AF_INET6:
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, host,
                  sizeof host);
        return "[" + std::string(host) + "]:" + std::to_string(port());
    case AF_UNIX: {
        if (unnamed()) {
            return "unix:(unnamed)";
        }
        const auto* sun = reinterpret_cast<const sockaddr_un*>(&storage_);
        const std::size_t max = length_ - kPathOffset;
        if (sun->sun_path[0] == '\0') { // Linux abstract namespace
            return "unix:@" + std::string(sun->sun_path + 1, max - 1);
        }
        return "unix:" + std::string(sun->sun_path, strnlen(sun->sun_path, max));
    }
    default:
        return "(no address)";
    }
}

std::string SocketAddress::url() const {
    if (family() == AF_UNIX) {
        const std::string s = to_string();
        return "osc.unix://" + s.substr(5);
    }
    return "osc.udp://" + to_string() + "/";
}

bool SocketAddress::operator==(const SocketAddress& other) const noexcept {
    if (family() != other.family()) {
        return false;
    }
    switch (family()) {
    case AF_INET: {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&storage_);
        const auto* b = reinterpret_cast<const sockaddr_in*>(&other.storage_);
        return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
    }
    case AF_INET6: {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&storage_);
        const auto* b = reinterpret_cast<const sockaddr_in6*>(&other.storage_);
        return a->sin6_port == b->sin6_port && a->sin6_scope_id == b->sin6_scope_id &&
               std::memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0;
    }
    default:
        return length_ == other.length_ && std::memcmp(&storage_, &other.storage_, length_) == 0;
    }
}

std::optional<SocketAddress> parse_url(std::string_view url, std::string* error) {
    constexpr std::string_view udp = "osc.udp://";
    constexpr std::string_view unix_scheme = "osc.unix://";
    if (url.starts_with(unix_scheme)) {
        const std::string_view path = url.substr(unix_scheme.size());
        if (!path.starts_with('/')) {
            set_error(error, "UNIX socket URL needs an absolute path (osc.unix:///path)");
            return std::nullopt;
        }
        sockaddr_un sun{};
        if (path.size() >= sizeof sun.sun_path || path.find('\0') != std::string_view::npos) {
            set_error(error, "UNIX socket path too long");
            return std::nullopt;
        }
        sun.sun_family = AF_UNIX;
        std::memcpy(sun.sun_path, path.data(), path.size());
        return SocketAddress(reinterpret_cast<const sockaddr*>(&sun),
                             static_cast<socklen_t>(kPathOffset + path.size() + 1));
    }
    if (!url.starts_with(udp)) {
        set_error(error, "unsupported OSC URL (use osc.udp://HOST:PORT or osc.unix:///PATH)");
        return std::nullopt;
    }
    std::string_view rest = url.substr(udp.size());
    if (rest.ends_with('/')) {
        rest.remove_suffix(1);
    }
    std::string host;
    std::string_view port_text;
    if (rest.starts_with('[')) {
        const std::size_t close = rest.find(']');
        if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
            set_error(error, "bad IPv6 address in URL (use osc.udp://[ADDR]:PORT)");
            return std::nullopt;
        }
        host = std::string(rest.substr(1, close - 1));
        port_text = rest.substr(close + 2);
        in6_addr a6{};
        if (inet_pton(AF_INET6, host.c_str(), &a6) != 1) {
            set_error(error, "bad IPv6 address in URL: " + host);
            return std::nullopt;
        }
        const auto port = parse_port(port_text);
        if (!port) {
            set_error(error, "bad port in URL: " + std::string(port_text));
            return std::nullopt;
        }
        sockaddr_in6 sin6{};
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(*port);
        sin6.sin6_addr = a6;
        return SocketAddress(reinterpret_cast<const sockaddr*>(&sin6), sizeof sin6);
    }
    const std::size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
        set_error(error, "URL has no port (use osc.udp://HOST:PORT)");
        return std::nullopt;
    }
    host = std::string(rest.substr(0, colon));
    port_text = rest.substr(colon + 1);
    const auto port = parse_port(port_text);
    if (!port) {
        set_error(error, "bad port in URL: " + std::string(port_text));
        return std::nullopt;
    }
    if (host.empty() || host == "localhost") {
        host = "127.0.0.1";
    }
    in_addr a4{};
    if (inet_pton(AF_INET, host.c_str(), &a4) != 1) {
        set_error(error, "host must be a numeric address or localhost: " + host);
        return std::nullopt;
    }
    return ipv4(a4, *port);
}

std::optional<SocketAddress> parse_listen(std::string_view spec, std::uint16_t default_port,
                                          std::string* error) {
    in_addr loopback{};
    loopback.s_addr = htonl(INADDR_LOOPBACK);
    if (spec.empty()) {
        return ipv4(loopback, default_port);
    }
    if (std::all_of(spec.begin(), spec.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        const auto port = parse_port(spec);
        if (!port) {
            set_error(error, "bad port: " + std::string(spec));
            return std::nullopt;
        }
        return ipv4(loopback, *port);
    }
    return parse_url(spec, error);
}

AllowList::AllowList() {
    add("127.0.0.1");
    add("::1");
}

bool AllowList::add(std::string_view cidr, std::string* error) {
    Net net{};
    std::string host(cidr.substr(0, cidr.find('/')));
    if (inet_pton(AF_INET, host.c_str(), net.bytes.data()) == 1) {
        net.family = AF_INET;
        net.prefix = 32;
    } else if (inet_pton(AF_INET6, host.c_str(), net.bytes.data()) == 1) {
        net.family = AF_INET6;
        net.prefix = 128;
    } else {
        set_error(error, "bad address in CIDR: " + std::string(cidr));
        return false;
    }
    if (const std::size_t slash = cidr.find('/'); slash != std::string_view::npos) {
        const std::string_view bits = cidr.substr(slash + 1);
        int prefix = -1;
        const auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
        if (bits.empty() || ec != std::errc{} || end != bits.data() + bits.size() || prefix < 0 ||
            prefix > net.prefix) {
            set_error(error, "bad prefix length in CIDR: " + std::string(cidr));
            return false;
        }
        net.prefix = prefix;
    }
    nets_.push_back(net);
    return true;
}

bool AllowList::allows(const SocketAddress& sender) const {
    const SocketAddress s = sender.unmapped();
    std::array<std::uint8_t, 16> bytes{};
    if (s.family() == AF_UNIX) {
        return true;
    }
    if (s.family() == AF_INET) {
        std::memcpy(bytes.data(), &reinterpret_cast<const sockaddr_in*>(s.get())->sin_addr, 4);
    } else if (s.family() == AF_INET6) {
        std::memcpy(bytes.data(), &reinterpret_cast<const sockaddr_in6*>(s.get())->sin6_addr, 16);
    } else {
        return false;
    }
    return std::any_of(nets_.begin(), nets_.end(), [&](const Net& net) {
        if (net.family != s.family()) {
            return false;
        }
        const int whole = net.prefix / 8;
        if (std::memcmp(bytes.data(), net.bytes.data(), static_cast<std::size_t>(whole)) != 0) {
            return false;
        }
        const int rest = net.prefix % 8;
        if (rest == 0) {
            return true;
        }
        const auto mask = static_cast<std::uint8_t>(0xff00U >> rest);
        const auto i = static_cast<std::size_t>(whole);
        return (bytes[i] & mask) == (net.bytes[i] & mask);
    });
}

} // namespace lockstep::osc
