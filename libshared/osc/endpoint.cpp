#include "osc/endpoint.hpp"

#include "osc/decode.hpp"
#include "osc/scheduler.hpp"
#include "service/log.hpp"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace lockstep::osc {

Constraint any() {
    return {};
}

Constraint range(double lo, double hi) {
    Constraint c;
    c.kind = Constraint::Kind::range;
    c.lo = lo;
    c.hi = hi;
    return c;
}

Constraint max_length(std::size_t n) {
    Constraint c;
    c.kind = Constraint::Kind::max_length;
    c.max_length = n;
    return c;
}

namespace {

constexpr std::string_view kBuiltins[] = {"/ping",  "/subscribe", "/unsubscribe",
                                          "/query", "/pong",      "/error"};

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    return line;
}

bool valid_path(std::string_view path) {
    if (!path.starts_with('/')) {
        return false;
    }
    return std::all_of(path.begin(), path.end(), [](char c) {
        return c > ' ' && c < 0x7f && std::strchr("#,*?[]{} ", c) == nullptr;
    });
}

bool valid_types(std::string_view types) {
    int depth = 0;
    for (char t : types) {
        if (std::strchr("ifsbhtdScrmTFNI[]", t) == nullptr || t == '\0') {
            return false;
        }
        depth += t == '[' ? 1 : t == ']' ? -1 : 0;
        if (depth < 0) {
            return false;
        }
    }
    return depth == 0;
}

// Integral values exactly (int64 beyond 2^53 too), others as %g.
std::string number_text(long double v) {
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9.2e18L) {
        return std::to_string(static_cast<long long>(v));
    }
    return format("%Lg", v);
}

bool has_pattern_chars(std::string_view path) {
    return path.find_first_of("*?[]{}") != std::string_view::npos;
}

int close_quietly(int fd) {
    return fd >= 0 ? ::close(fd) : 0;
}

} // namespace

struct Endpoint::Impl {
    struct Method {
        std::string path;
        std::string types;
        std::vector<Constraint> constraints;
        Handler handler;
    };
    struct Pending {
        std::size_t method;
        Message message;
        SocketAddress sender;
    };

    Impl(Endpoint& self_, Config config_)
        : self(self_), config(std::move(config_)),
          lookahead(ntp_from_ns(static_cast<std::uint64_t>(
              std::max<std::chrono::nanoseconds::rep>(config.lookahead.count(), 0)))),
          scheduler(config.scheduler_capacity, lookahead) {}

    Endpoint& self;
    Config config;
    std::uint64_t lookahead;
    AllowList allow;
    int fd = -1;
    int wake_fd = -1;
    SocketAddress local;
    std::string unix_path; // unlinked on destruction when we created it

    std::vector<Method> methods;
    std::map<std::string, std::vector<std::size_t>, std::less<>> by_path;
    QueryHandler query;
    Scheduler<Pending> scheduler;
    std::vector<std::uint8_t> buffer;

    std::mutex send_mutex; // guards the lazily opened sockets for other address families
    int other_fds[3] = {-1, -1, -1};

    mutable std::mutex subscribers_mutex;
    std::vector<SocketAddress> subscribers;

    std::thread thread;
    std::atomic<bool> running{false};

    struct Counters {
        std::atomic<std::uint64_t> packets{0}, disallowed{0}, malformed{0}, rejected{0},
            dispatched{0}, scheduled{0}, late{0}, scheduler_full{0}, send_failures{0};
    } counters;

    log::RateLimiter bad_input_log{5, std::chrono::seconds(10)};
    log::RateLimiter disallowed_log{5, std::chrono::seconds(10)};
    log::RateLimiter send_log{5, std::chrono::seconds(10)};
    // /error replies are limited too so that a flood cannot make us a reflector.
    log::RateLimiter error_replies{200, std::chrono::seconds(1)};

    std::uint64_t now() const { return config.clock ? config.clock() : ntp_now(); }

    void complain(log::RateLimiter& limiter, const std::string& line) {
        std::uint64_t suppressed = 0;
        if (!limiter.admit(suppressed)) {
            return;
        }
        if (suppressed > 0) {
            log::warning("%s: %s (%" PRIu64 " similar lines suppressed)", config.name.c_str(),
                         line.c_str(), suppressed);
        } else {
            log::warning("%s: %s", config.name.c_str(), line.c_str());
        }
    }

    void bind_socket();
    int fd_for(int family);
    void send(const SocketAddress& to, const Message& message);
    void send_bytes(const SocketAddress& to, std::span<const std::uint8_t> bytes,
                    const std::string& what);
    void send_error(const SocketAddress& to, std::string_view path, std::string_view reason);
    void register_method(std::string path, std::string types, std::vector<Constraint> c,
                         Handler handler);
    void add_builtins();
    std::optional<std::size_t> route(const Message& message, std::string& why) const;
    void handle_packet(std::span<const std::uint8_t> bytes, std::size_t real_size,
                       const SocketAddress& sender);
    void dispatch(std::size_t method, const Message& message, const SocketAddress& sender,
                  std::uint64_t timetag, std::uint64_t at, bool from_queue);
    void release_due();
    void receive_some();
    void poll_once(std::chrono::milliseconds max_wait);
    bool retarget(Context& ctx, const Message& message, SocketAddress& storage);
};

// ---- sockets ---------------------------------------------------------------------------

void Endpoint::Impl::bind_socket() {
    std::string error;
    const auto address = parse_listen(config.listen, config.default_port, &error);
    if (!address) {
        throw std::invalid_argument("--osc " + config.listen + ": " + error);
    }
    fd = ::socket(address->family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw std::system_error(errno, std::generic_category(), "osc socket");
    }
    if (address->family() == AF_UNIX) {
        const std::string path = address->to_string().substr(5);
        struct stat st {};
        if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
            // A socket file left by a process that died: remove it, but never steal the
            // path from a live endpoint (connect() succeeds on a live datagram socket).
            const int probe = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            const bool refused = probe >= 0 &&
                                 ::connect(probe, address->get(), address->size()) != 0 &&
                                 errno == ECONNREFUSED;
            close_quietly(probe);
            if (refused) {
                ::unlink(path.c_str());
            }
        }
        if (::bind(fd, address->get(), address->size()) != 0) {
            throw std::system_error(errno, std::generic_category(),
                                    "cannot listen on " + address->url());
        }
        unix_path = path;
    } else if (::bind(fd, address->get(), address->size()) != 0) {
        throw std::system_error(errno, std::generic_category(),
                                "cannot listen on " + address->url());
    }
    sockaddr_storage bound{};
    socklen_t length = sizeof bound;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
        throw std::system_error(errno, std::generic_category(), "osc getsockname");
    }
    local = SocketAddress(reinterpret_cast<const sockaddr*>(&bound), length);
    wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd < 0) {
        throw std::system_error(errno, std::generic_category(), "osc eventfd");
    }
}

int Endpoint::Impl::fd_for(int family) {
    if (family == local.family()) {
        return fd; // replies come from the port the sender talked to
    }
    const int slot = family == AF_INET ? 0 : family == AF_INET6 ? 1 : 2;
    const std::lock_guard lock(send_mutex);
    if (other_fds[slot] < 0) {
        other_fds[slot] = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    }
    return other_fds[slot];
}

void Endpoint::Impl::send(const SocketAddress& to, const Message& message) {
    send_bytes(to, encode(message), message.path);
}

// `what` names the packet in the log line of a failure.
void Endpoint::Impl::send_bytes(const SocketAddress& to, std::span<const std::uint8_t> bytes,
                                const std::string& what) {
    if (to.empty() || to.unnamed()) {
        counters.send_failures.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    const int out = fd_for(to.family());
    if (out < 0 || ::sendto(out, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL, to.get(),
                            to.size()) < 0) {
        const int err = errno;
        counters.send_failures.fetch_add(1, std::memory_order_relaxed);
        complain(send_log, format("cannot send %s to %s: %s", what.c_str(), to.to_string().c_str(),
                                  std::strerror(err)));
    }
}

void Endpoint::Impl::send_error(const SocketAddress& to, std::string_view path,
                                std::string_view reason) {
    std::uint64_t suppressed = 0;
    if (!error_replies.admit(suppressed)) {
        return;
    }
    send(to, Message("/error", {Arg::string(path), Arg::string(reason)}));
}

// ---- methods ---------------------------------------------------------------------------

void Endpoint::Impl::register_method(std::string path, std::string types,
                                     std::vector<Constraint> constraints, Handler handler) {
    if (!valid_path(path)) {
        throw std::invalid_argument("osc: bad path " + path);
    }
    if (!valid_types(types)) {
        throw std::invalid_argument("osc: bad type signature '" + types + "' for " + path);
    }
    if (constraints.size() > types.size()) {
        throw std::invalid_argument("osc: more constraints than arguments for " + path);
    }
    for (std::size_t i = 0; i < constraints.size(); ++i) {
        const char t = types[i];
        const bool number = std::strchr("ihfd", t) != nullptr;
        const bool sized = std::strchr("sSb", t) != nullptr;
        if ((constraints[i].kind == Constraint::Kind::range && !number) ||
            (constraints[i].kind == Constraint::Kind::max_length && !sized)) {
            throw std::invalid_argument("osc: constraint does not fit argument " +
                                        std::to_string(i + 1) + " of " + path);
        }
    }
    if (!handler) {
        throw std::invalid_argument("osc: no handler for " + path);
    }
    auto& list = by_path[path];
    for (std::size_t m : list) {
        if (methods[m].types == types) {
            throw std::invalid_argument("osc: " + path + " ," + types + " registered twice");
        }
    }
    list.push_back(methods.size());
    methods.push_back(
        {std::move(path), std::move(types), std::move(constraints), std::move(handler)});
}

// Points ctx's replies at the URL in the message's first argument, if it has one.
bool Endpoint::Impl::retarget(Context& ctx, const Message& message, SocketAddress& storage) {
    if (message.args.empty()) {
        return true;
    }
    std::string error;
    auto target = parse_url(message.args[0].s(), &error);
    if (target && target->family() != AF_UNIX && target->port() == 0) {
        error = "port 0";
        target.reset();
    }
    if (!target) {
        ctx.error("bad url: " + error);
        return false;
    }
    storage = *target;
    ctx.target_ = &storage;
    return true;
}

void Endpoint::Impl::add_builtins() {
    for (const char* types : {"", "s"}) {
        register_method("/ping", types, {}, [this](const Message& m, Context& ctx) {
            SocketAddress target;
            if (retarget(ctx, m, target)) {
                ctx.reply(Message("/pong"));
            }
        });
        register_method("/subscribe", types, {}, [this](const Message& m, Context& ctx) {
            SocketAddress target;
            if (!retarget(ctx, m, target)) {
                return;
            }
            const SocketAddress who = *ctx.target_;
            if (who.unnamed()) {
                return; // an unbound UNIX socket: nothing could ever reach it
            }
            std::unique_lock lock(subscribers_mutex);
            if (std::find(subscribers.begin(), subscribers.end(), who) != subscribers.end()) {
                return;
            }
            if (subscribers.size() >= config.max_subscribers) {
                lock.unlock();
                ctx.error("subscriber list full");
                return;
            }
            subscribers.push_back(who);
        });
        register_method("/unsubscribe", types, {}, [this](const Message& m, Context& ctx) {
            SocketAddress target;
            if (!retarget(ctx, m, target)) {
                return;
            }
            const std::lock_guard lock(subscribers_mutex);
            std::erase(subscribers, *ctx.target_);
        });
        register_method("/query", types, {}, [this](const Message& m, Context& ctx) {
            SocketAddress target;
            if (retarget(ctx, m, target) && query) {
                ctx.gather_ = true;
                query(ctx);
                ctx.flush_replies();
                ctx.gather_ = false;
            }
        });
    }
}

std::optional<std::size_t> Endpoint::Impl::route(const Message& message, std::string& why) const {
    const auto found = by_path.find(message.path);
    if (found == by_path.end()) {
        why = has_pattern_chars(message.path) ? "unknown path (address patterns are not supported)"
                                              : "unknown path";
        return std::nullopt;
    }
    const std::string types = message.types();
    for (std::size_t index : found->second) {
        const Method& method = methods[index];
        if (method.types != types) {
            continue;
        }
        for (std::size_t i = 0; i < message.args.size(); ++i) {
            const Arg& arg = message.args[i];
            if ((arg.type() == 'f' || arg.type() == 'd') && !std::isfinite(arg.number())) {
                why = format("argument %zu is not a finite number", i + 1);
                return std::nullopt;
            }
            if (i >= method.constraints.size()) {
                continue;
            }
            const Constraint& c = method.constraints[i];
            if (c.kind == Constraint::Kind::range) {
                // long double holds every int64 exactly, so 'h' bounds are exact too.
                const long double v = arg.type() == 'h' ? static_cast<long double>(arg.h())
                                                        : static_cast<long double>(arg.number());
                if (!(v >= static_cast<long double>(c.lo) && v <= static_cast<long double>(c.hi))) {
                    why = format("argument %zu out of range [%s, %s]: %s", i + 1,
                                 number_text(c.lo).c_str(), number_text(c.hi).c_str(),
                                 number_text(v).c_str());
                    return std::nullopt;
                }
            } else if (c.kind == Constraint::Kind::max_length) {
                const std::size_t length = arg.type() == 'b' ? arg.b().size() : arg.s().size();
                if (length > c.max_length) {
                    why = format("argument %zu longer than %zu bytes", i + 1, c.max_length);
                    return std::nullopt;
                }
            }
        }
        return index;
    }
    why = "wrong types: expected";
    for (std::size_t i = 0; i < found->second.size(); ++i) {
        why += (i == 0 ? " ," : " or ,") + methods[found->second[i]].types;
    }
    why += ", got ," + types;
    return std::nullopt;
}

// ---- receiving -------------------------------------------------------------------------

void Endpoint::Impl::handle_packet(std::span<const std::uint8_t> bytes, std::size_t real_size,
                                   const SocketAddress& sender) {
    counters.packets.fetch_add(1, std::memory_order_relaxed);
    if (sender.family() != AF_UNIX && !allow.allows(sender)) {
        counters.disallowed.fetch_add(1, std::memory_order_relaxed);
        complain(disallowed_log,
                 format("dropped packet from %s: sender not allowed (see --osc-allow)",
                        sender.to_string().c_str()));
        return;
    }
    Decoded decoded;
    if (real_size > bytes.size()) {
        decoded.verdict = {Reason::too_large, bytes.size()};
    } else {
        decoded = decode(bytes, config.limits);
    }
    if (!decoded.ok()) {
        counters.malformed.fetch_add(1, std::memory_order_relaxed);
        const std::string reason = format("malformed packet: %s at byte %zu",
                                          describe(decoded.verdict.reason), decoded.verdict.offset);
        complain(bad_input_log, format("%zu bytes from %s: %s", real_size,
                                       sender.to_string().c_str(), reason.c_str()));
        send_error(sender, "", reason);
        return;
    }

    // Check every message first: a packet with one bad message runs none of them.
    std::vector<std::size_t> routes(decoded.elements.size());
    bool refused = false;
    for (std::size_t i = 0; i < decoded.elements.size(); ++i) {
        const Message& message = decoded.elements[i].message;
        std::string why;
        if (const auto index = route(message, why)) {
            routes[i] = *index;
            continue;
        }
        refused = true;
        counters.rejected.fetch_add(1, std::memory_order_relaxed);
        complain(bad_input_log, format("%s from %s: %s", message.path.c_str(),
                                       sender.to_string().c_str(), why.c_str()));
        send_error(sender, message.path, why);
    }
    if (refused) {
        return;
    }

    const std::uint64_t at = now();
    std::size_t future = 0;
    const std::string* first_future = nullptr;
    for (const Element& e : decoded.elements) {
        if (!scheduler.releasable(e.timetag, at)) {
            ++future;
            first_future = first_future != nullptr ? first_future : &e.message.path;
        }
    }
    if (future > scheduler.free()) {
        counters.scheduler_full.fetch_add(1, std::memory_order_relaxed);
        complain(bad_input_log,
                 format("%s from %s: scheduler full (%zu queued)", first_future->c_str(),
                        sender.to_string().c_str(), scheduler.size()));
        send_error(sender, *first_future, "scheduler full");
        return;
    }
    for (std::size_t i = 0; i < decoded.elements.size(); ++i) {
        Element& e = decoded.elements[i];
        if (scheduler.releasable(e.timetag, at)) {
            dispatch(routes[i], e.message, sender, e.timetag, at, false);
        } else {
            scheduler.push(e.timetag, Pending{routes[i], std::move(e.message), sender});
            counters.scheduled.fetch_add(1, std::memory_order_relaxed);
        }
    }
}

void Endpoint::Impl::dispatch(std::size_t method, const Message& message,
                              const SocketAddress& sender, std::uint64_t timetag, std::uint64_t at,
                              bool from_queue) {
    Context ctx(self, sender, message.path);
    ctx.timetag = timetag;
    if (timetag > at) {
        if (config.mapper) {
            ctx.frame = config.mapper(timetag);
        }
    } else if (from_queue) {
        counters.late.fetch_add(1, std::memory_order_relaxed);
    }
    counters.dispatched.fetch_add(1, std::memory_order_relaxed);
    try {
        methods[method].handler(message, ctx);
    } catch (const std::exception& e) {
        // A handler bug must not take the endpoint down with it.
        log::error("%s: handler for %s failed: %s", config.name.c_str(), message.path.c_str(),
                   e.what());
        send_error(sender, message.path, "internal error");
    }
}

void Endpoint::Impl::release_due() {
    const std::uint64_t at = now();
    while (auto entry = scheduler.pop_ready(at)) {
        dispatch(entry->value.method, entry->value.message, entry->value.sender, entry->timetag, at,
                 true);
    }
}

void Endpoint::Impl::receive_some() {
    // Bounded so that a flood cannot starve the scheduler.
    for (int i = 0; i < 64; ++i) {
        sockaddr_storage from{};
        socklen_t length = sizeof from;
        const ssize_t n = ::recvfrom(fd, buffer.data(), buffer.size(), MSG_DONTWAIT | MSG_TRUNC,
                                     reinterpret_cast<sockaddr*>(&from), &length);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return; // EAGAIN, or an error the next poll will show again
        }
        const SocketAddress sender(reinterpret_cast<const sockaddr*>(&from), length);
        const auto size = static_cast<std::size_t>(n);
        handle_packet(std::span<const std::uint8_t>(buffer.data(), std::min(size, buffer.size())),
                      size, sender);
    }
}

void Endpoint::Impl::poll_once(std::chrono::milliseconds max_wait) {
    release_due();
    auto wait = max_wait.count();
    if (const auto next = scheduler.next_release()) {
        const std::uint64_t at = now();
        const std::uint64_t until = *next > at ? ns_from_ntp(*next - at) : 0;
        wait =
            std::min<decltype(wait)>(wait, static_cast<decltype(wait)>((until + 999999) / 1000000));
    }
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    const int ready =
        ::poll(fds, 2, static_cast<int>(std::clamp<decltype(wait)>(wait, 0, 3600000)));
    if (ready > 0) {
        if ((fds[1].revents & POLLIN) != 0) {
            std::uint64_t count = 0;
            [[maybe_unused]] const ssize_t r = ::read(wake_fd, &count, sizeof count);
        }
        if ((fds[0].revents & (POLLIN | POLLERR)) != 0) {
            receive_some();
        }
    }
    release_due();
}

// ---- Endpoint --------------------------------------------------------------------------

Endpoint::Endpoint(Config config) : impl_(std::make_unique<Impl>(*this, std::move(config))) {
    for (const std::string& cidr : impl_->config.allow) {
        std::string error;
        if (!impl_->allow.add(cidr, &error)) {
            throw std::invalid_argument("--osc-allow " + cidr + ": " + error);
        }
    }
    impl_->buffer.resize(std::max<std::size_t>(impl_->config.limits.max_packet_size, 16));
    impl_->add_builtins();
    try {
        impl_->bind_socket();
    } catch (...) {
        close_quietly(impl_->fd);
        close_quietly(impl_->wake_fd);
        throw;
    }
}

Endpoint::~Endpoint() {
    stop();
    close_quietly(impl_->fd);
    close_quietly(impl_->wake_fd);
    for (int other : impl_->other_fds) {
        close_quietly(other);
    }
    if (!impl_->unix_path.empty()) {
        ::unlink(impl_->unix_path.c_str());
    }
}

void Endpoint::add(std::string path, std::string types, std::vector<Constraint> constraints,
                   Handler handler) {
    if (impl_->running.load()) {
        throw std::logic_error("osc: add() after start()");
    }
    if (std::find(std::begin(kBuiltins), std::end(kBuiltins), path) != std::end(kBuiltins)) {
        throw std::invalid_argument("osc: " + path + " is built in");
    }
    impl_->register_method(std::move(path), std::move(types), std::move(constraints),
                           std::move(handler));
}

void Endpoint::on_query(QueryHandler handler) {
    if (impl_->running.load()) {
        throw std::logic_error("osc: on_query() after start()");
    }
    impl_->query = std::move(handler);
}

void Endpoint::start() {
    if (impl_->running.exchange(true)) {
        return;
    }
    impl_->thread = std::thread([this] {
        while (impl_->running.load(std::memory_order_relaxed)) {
            impl_->poll_once(std::chrono::seconds(1));
        }
    });
}

void Endpoint::stop() {
    if (!impl_->running.exchange(false)) {
        return;
    }
    wake();
    impl_->thread.join();
}

void Endpoint::run_once(std::chrono::milliseconds timeout) {
    if (impl_->running.load()) {
        throw std::logic_error("osc: run_once() while the receive thread runs");
    }
    impl_->poll_once(timeout);
}

void Endpoint::wake() noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t r = ::write(impl_->wake_fd, &one, sizeof one);
}

void Endpoint::notify(const Message& message) {
    std::vector<SocketAddress> targets;
    {
        const std::lock_guard lock(impl_->subscribers_mutex);
        targets = impl_->subscribers;
    }
    for (const SocketAddress& to : targets) {
        impl_->send(to, message);
    }
}

const SocketAddress& Endpoint::local_address() const noexcept {
    return impl_->local;
}

Stats Endpoint::stats() const noexcept {
    const auto& c = impl_->counters;
    Stats s;
    s.packets = c.packets.load();
    s.disallowed = c.disallowed.load();
    s.malformed = c.malformed.load();
    s.rejected = c.rejected.load();
    s.dispatched = c.dispatched.load();
    s.scheduled = c.scheduled.load();
    s.late = c.late.load();
    s.scheduler_full = c.scheduler_full.load();
    s.send_failures = c.send_failures.load();
    return s;
}

std::size_t Endpoint::subscriber_count() const {
    const std::lock_guard lock(impl_->subscribers_mutex);
    return impl_->subscribers.size();
}

void Endpoint::send(const SocketAddress& to, const Message& message) {
    impl_->send(to, message);
}

void Endpoint::send_error(const SocketAddress& to, std::string_view path, std::string_view reason) {
    impl_->send_error(to, path, reason);
}

void Endpoint::send_bytes(const SocketAddress& to, std::span<const std::uint8_t> bytes,
                          const std::string& what) {
    impl_->send_bytes(to, bytes, what);
}

void Context::reply(const Message& message) {
    if (!gather_) {
        endpoint_->send(*target_, message);
        return;
    }
    constexpr std::size_t bundle_header = 16; // "#bundle\0" + timetag
    std::vector<std::uint8_t> bytes = encode(message);
    if (!replies_.empty() &&
        bundle_header + replies_bytes_ + 4 + bytes.size() > query_bundle_bytes) {
        flush_replies();
    }
    replies_bytes_ += 4 + bytes.size(); // size prefix + message
    replies_.push_back(std::move(bytes));
}

void Context::flush_replies() {
    if (replies_.size() == 1) { // alone: a bare message, as before
        endpoint_->send_bytes(*target_, replies_[0], path_ + " reply");
    } else if (!replies_.empty()) {
        endpoint_->send_bytes(*target_, encode_bundle(kImmediate, replies_), path_ + " replies");
    }
    replies_.clear();
    replies_bytes_ = 0;
}

void Context::error(std::string_view reason) {
    endpoint_->impl_->complain(endpoint_->impl_->bad_input_log,
                               format("%s from %s: %s", path_.c_str(), sender_->to_string().c_str(),
                                      std::string(reason).c_str()));
    endpoint_->send_error(*sender_, path_, reason);
}

} // namespace lockstep::osc
