#include "service/nsm.hpp"

#include "osc/decode.hpp"
#include "osc/message.hpp"
#include "service/log.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

namespace lockstep::service::nsm {

namespace {

constexpr int api_major = 1;
constexpr int api_minor = 1;

struct Target {
    sockaddr_storage address{};
    socklen_t length = 0;
};

// "osc.udp://HOST:PORT/" -> the server's address. HOST may be a name (nsmd puts the
// machine's host name there), a dotted IPv4 or a bracketed IPv6 address.
Target resolve(std::string_view url) {
    constexpr std::string_view scheme = "osc.udp://";
    if (url.substr(0, scheme.size()) != scheme) {
        throw std::runtime_error("NSM_URL '" + std::string(url) +
                                 "' is not an osc.udp:// URL (nsmd speaks UDP)");
    }
    std::string_view rest = url.substr(scheme.size());
    while (!rest.empty() && rest.back() == '/') {
        rest.remove_suffix(1);
    }
    std::string host;
    std::string_view port;
    if (!rest.empty() && rest.front() == '[') {
        const auto close = rest.find(']');
        if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
            throw std::runtime_error("NSM_URL '" + std::string(url) + "' has no port");
        }
        host = std::string(rest.substr(1, close - 1));
        port = rest.substr(close + 2);
    } else {
        const auto colon = rest.rfind(':');
        if (colon == std::string_view::npos) {
            throw std::runtime_error("NSM_URL '" + std::string(url) + "' has no port");
        }
        host = std::string(rest.substr(0, colon));
        port = rest.substr(colon + 1);
    }
    if (port.empty() || port.find_first_not_of("0123456789") != std::string_view::npos ||
        port.size() > 5) {
        throw std::runtime_error("NSM_URL '" + std::string(url) + "' has a bad port");
    }
    if (host.empty()) {
        host = "127.0.0.1";
    }
    // IPv4 first: nsmd (liblo) listens on IPv4 only, and a host name may resolve to an
    // IPv6 address first ("localhost" -> ::1).
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* found = nullptr;
    const std::string port_text(port);
    int rc = ::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &found);
    if (rc != 0) {
        hints.ai_family = AF_UNSPEC;
        rc = ::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &found);
    }
    if (rc != 0) {
        throw std::runtime_error("NSM_URL host '" + host + "': " + ::gai_strerror(rc));
    }
    Target t;
    std::memcpy(&t.address, found->ai_addr, found->ai_addrlen);
    t.length = found->ai_addrlen;
    ::freeaddrinfo(found);
    return t;
}

std::uint16_t port_of(const sockaddr_storage& a) {
    if (a.ss_family == AF_INET) {
        return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
    }
    if (a.ss_family == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
    }
    return 0;
}

bool is_string(const osc::Message& m, std::size_t i) {
    return m.args.size() > i && (m.args[i].type() == 's' || m.args[i].type() == 'S');
}

} // namespace

struct Session::Impl {
    int fd = -1;
    Target server;
    std::string capabilities;
    std::string server_name;
    bool announced = false;
    std::optional<Open> open;
    std::string refused; // an /error reply to the announce
    bool is_open = false;
    std::optional<bool> dirty_sent;
    std::vector<Request> pending;
    std::vector<std::uint8_t> buffer = std::vector<std::uint8_t>(65536);

    ~Impl() {
        if (fd >= 0) {
            ::close(fd);
        }
    }

    void send(const osc::Message& m) {
        const auto bytes = osc::encode(m);
        if (::sendto(fd, bytes.data(), bytes.size(), MSG_DONTWAIT,
                     reinterpret_cast<const sockaddr*>(&server.address), server.length) < 0) {
            log::warning("nsm: cannot send %s: %s", m.path.c_str(), std::strerror(errno));
        }
    }

    // Handles every datagram waiting on the socket. Returns false on a socket error.
    bool drain() {
        std::vector<std::uint8_t>& buf = buffer;
        for (;;) {
            sockaddr_storage from{};
            socklen_t from_len = sizeof from;
            const ssize_t n = ::recvfrom(fd, buf.data(), buf.size(), MSG_DONTWAIT,
                                         reinterpret_cast<sockaddr*>(&from), &from_len);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                    return true;
                }
                if (errno == ECONNREFUSED) { // an ICMP error from an earlier send
                    continue;
                }
                log::warning("nsm: receive: %s", std::strerror(errno));
                return false;
            }
            // The server answers from the port it listens on; anyone else is ignored.
            if (port_of(from) != port_of(server.address)) {
                continue;
            }
            const osc::Decoded d =
                osc::decode(std::span<const std::uint8_t>(buf.data(), static_cast<std::size_t>(n)));
            if (!d.ok()) {
                log::warning("nsm: a malformed packet from the session manager, ignored");
                continue;
            }
            for (const osc::Element& e : d.elements) {
                handle(e.message);
            }
        }
    }

    void handle(const osc::Message& m) {
        if (m.path == "/reply" && is_string(m, 0) && m.args[0].s() == "/nsm/server/announce") {
            announced = true;
            server_name = is_string(m, 2) ? m.args[2].s() : std::string("a session manager");
            return;
        }
        if (m.path == "/error" && is_string(m, 0) && m.args[0].s() == "/nsm/server/announce") {
            refused = m.args.size() > 2 && is_string(m, 2) ? m.args[2].s() : "refused";
            return;
        }
        if (m.path == "/nsm/client/open") {
            if (m.types() != "sss") {
                log::warning("nsm: /nsm/client/open with arguments ,%s ignored", m.types().c_str());
                return;
            }
            if (is_open || open) { // no :switch: capability: one open per run
                send(osc::Message("/error", {osc::Arg::string("/nsm/client/open"),
                                             osc::Arg::int32(error::not_now),
                                             osc::Arg::string("this client cannot switch "
                                                              "sessions: restart it")}));
                return;
            }
            open = Open{m.args[0].s(), m.args[1].s(), m.args[2].s()};
            return;
        }
        if (m.path == "/nsm/client/save") {
            pending.push_back(Request::save);
            return;
        }
        if (m.path == "/nsm/client/session_is_loaded") {
            pending.push_back(Request::loaded);
            return;
        }
        log::info("nsm: %s from the session manager ignored", m.path.c_str());
    }
};

Session::Session(std::string_view url, std::string application_name, std::string capabilities,
                 std::string executable)
    : impl_(std::make_unique<Impl>()) {
    impl_->server = resolve(url);
    impl_->capabilities = std::move(capabilities);
    impl_->fd = ::socket(impl_->server.address.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (impl_->fd < 0) {
        throw std::runtime_error(std::string("NSM socket: ") + std::strerror(errno));
    }
    impl_->send(osc::Message("/nsm/server/announce",
                             {osc::Arg::string(application_name),
                              osc::Arg::string(impl_->capabilities), osc::Arg::string(executable),
                              osc::Arg::int32(api_major), osc::Arg::int32(api_minor),
                              osc::Arg::int32(static_cast<std::int32_t>(::getpid()))}));
}

Session::~Session() = default;

std::optional<Open> Session::wait_open(std::chrono::milliseconds timeout, std::string& why,
                                       int stop_fd, bool* stopped) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (!impl_->drain()) {
            why = "the session manager's socket failed";
            return std::nullopt;
        }
        if (!impl_->refused.empty()) {
            why = "the session manager refused the announce: " + impl_->refused;
            return std::nullopt;
        }
        if (impl_->announced && impl_->open) {
            return impl_->open;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            why = impl_->announced ? "no /nsm/client/open after the announce reply"
                                   : "no reply to /nsm/server/announce";
            why += " within " + std::to_string(timeout.count()) + " ms";
            return std::nullopt;
        }
        std::array<pollfd, 2> p{pollfd{impl_->fd, POLLIN, 0}, pollfd{stop_fd, POLLIN, 0}};
        const nfds_t n = stop_fd >= 0 ? 2 : 1;
        if (::poll(p.data(), n, static_cast<int>(std::min<long long>(left.count(), 100))) > 0 &&
            n == 2 && (p[1].revents & POLLIN) != 0) {
            why = "stopped while waiting for the session manager's open";
            if (stopped != nullptr) {
                *stopped = true;
            }
            return std::nullopt;
        }
    }
}

void Session::opened(std::string_view message) {
    impl_->is_open = true;
    impl_->send(
        osc::Message("/reply", {osc::Arg::string("/nsm/client/open"), osc::Arg::string(message)}));
}

void Session::open_failed(int code, std::string_view message) {
    impl_->send(osc::Message("/error", {osc::Arg::string("/nsm/client/open"), osc::Arg::int32(code),
                                        osc::Arg::string(message)}));
}

Request Session::poll() {
    if (impl_->pending.empty()) {
        impl_->drain();
    }
    if (impl_->pending.empty()) {
        return Request::none;
    }
    const Request r = impl_->pending.front();
    impl_->pending.erase(impl_->pending.begin());
    return r;
}

void Session::saved(std::string_view message) {
    impl_->send(
        osc::Message("/reply", {osc::Arg::string("/nsm/client/save"), osc::Arg::string(message)}));
}

void Session::save_failed(int code, std::string_view message) {
    impl_->send(osc::Message("/error", {osc::Arg::string("/nsm/client/save"), osc::Arg::int32(code),
                                        osc::Arg::string(message)}));
}

void Session::set_dirty(bool dirty) {
    if (!impl_->is_open || impl_->capabilities.find(":dirty:") == std::string::npos ||
        impl_->dirty_sent == dirty) {
        return;
    }
    impl_->dirty_sent = dirty;
    impl_->send(osc::Message(dirty ? "/nsm/client/is_dirty" : "/nsm/client/is_clean"));
}

const std::string& Session::server_name() const noexcept {
    return impl_->server_name;
}

std::unique_ptr<Session> join_from_env(std::string application_name, std::string capabilities,
                                       std::string executable, std::optional<Open>& open,
                                       int stop_fd, bool& stopped,
                                       std::chrono::milliseconds timeout) {
    open.reset();
    stopped = false;
    const char* url = std::getenv("NSM_URL");
    if (url == nullptr || *url == '\0') {
        return nullptr;
    }
    std::unique_ptr<Session> s;
    try {
        s = std::make_unique<Session>(url, std::move(application_name), std::move(capabilities),
                                      std::move(executable));
    } catch (const std::exception& e) {
        log::warning("nsm: %s: running without session management", e.what());
        return nullptr;
    }
    std::string why;
    open = s->wait_open(timeout, why, stop_fd, &stopped);
    if (stopped) {
        log::notice("nsm: %s", why.c_str());
        return nullptr;
    }
    if (!open) {
        log::warning("nsm: %s: running without session management", why.c_str());
        return nullptr;
    }
    if (open->client_id.empty() || open->path.empty() || open->path.front() != '/') {
        s->open_failed(error::general, "an open needs a client id and an absolute path");
        log::warning("nsm: an open with client id '%s' and path '%s' cannot be used: running "
                     "without session management",
                     open->client_id.c_str(), open->path.c_str());
        open.reset();
        return nullptr;
    }
    log::notice("nsm: under %s as '%s', state at %s", s->server_name().c_str(),
                open->client_id.c_str(), open->path.c_str());
    return s;
}

void open_failed(Session* session, std::string_view why) {
    if (session != nullptr) {
        session->open_failed(error::general, why);
    }
}

void serve(Session& session, const std::function<std::string()>& save,
           const std::function<bool()>& dirty) {
    for (Request r = session.poll(); r != Request::none; r = session.poll()) {
        if (r != Request::save) {
            continue;
        }
        const std::string why = save();
        if (why.empty()) {
            session.saved("saved");
        } else {
            session.save_failed(error::save_failed, why);
        }
    }
    session.set_dirty(dirty());
}

std::unique_ptr<osc::Endpoint> make_endpoint(osc::Endpoint::Config config, bool under_nsm,
                                             bool osc_given) {
    try {
        return std::make_unique<osc::Endpoint>(config);
    } catch (const std::system_error& e) {
        if (!under_nsm || osc_given) {
            throw;
        }
        log::notice("nsm: OSC port %u is taken (%s): listening on a free port instead",
                    static_cast<unsigned>(config.default_port), e.what());
        config.listen = "osc.udp://127.0.0.1:0";
        return std::make_unique<osc::Endpoint>(config);
    }
}

} // namespace lockstep::service::nsm
