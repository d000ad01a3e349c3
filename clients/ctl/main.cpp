// lockstep-ctl: a command-line OSC client for every lockstep client (docs/ctl.md).
// Sends one command, waits for its reply or /error, prints it; or watches feedback.
// Thread: one (main); SIGINT/SIGTERM/SIGHUP/SIGPIPE only set a flag.
#include "ctl.hpp"

#include "osc/address.hpp"
#include "osc/decode.hpp"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using namespace lockstep;
using namespace lockstep::ctl;
using Clock = std::chrono::steady_clock;

volatile sig_atomic_t stop_requested = 0;
void on_signal(int) {
    stop_requested = 1;
}

constexpr const char* help_text = R"(Usage: lockstep-ctl [OPTIONS] CLIENT COMMAND [ARG...]
       lockstep-ctl [OPTIONS] CLIENT /PATH [ARG...]
       lockstep-ctl [OPTIONS] send CLIENT /PATH [TYPE:]VALUE...
       lockstep-ctl [OPTIONS] watch CLIENT
       lockstep-ctl list [CLIENT]

Sends one OSC command to a lockstep client and prints its reply, one message per line.
CLIENT: seq (port 9010), sampler (9011), capture (9012), bridge (9013),
        autosample (9112, a session started by /capture/autosample).
COMMAND: the path after the client's root, words for '/': `seq step velocity 0 4 100`
  sends /seq/step/velocity ,iii. Arguments get the types docs/osc.md gives the path;
  on/off mean 1/0; force a type with TYPE:VALUE (e.g. `seq tempo s:1000/7`).
  Built-ins on every client: ping, query, subscribe, unsubscribe.
send: any path, arguments as i:INT f:FLOAT s:TEXT h:INT64 d:DOUBLE or T F N I
  B:on|off (an int 1/0); untyped: integer, else float, else string; no table check.
Relative file paths (sampler kit, load) are made absolute from the current directory.
watch: subscribes and prints pushed feedback until SIGINT/SIGTERM/SIGHUP (or its output
  is closed), then unsubscribes; it subscribes again every second, so a restarted client
  keeps feeding it.
list: every command with its arguments and OSC signatures.
Options go before CLIENT, so that negative numbers are arguments.

Options:
  --osc URL|PORT   where the client listens (default osc.udp://127.0.0.1:<its port>/;
                   osc.unix:///PATH too)
  --host HOST      the client's numeric address (default 127.0.0.1), with its port
  --timeout MS     how long to wait for a reply (default 2000; 30000 for the
                   sampler's kit, load, gain... which answer once applied)
  -h, --help       this text
  --version        the version

Exit codes: 0 done (reply printed); 1 the client answered /error (printed on stderr),
or a socket error; 2 usage error; 3 no reply within the timeout (is the client running?);
130 interrupted (SIGINT/SIGTERM/SIGHUP) before the reply.
)";

// A datagram socket for one client. UNIX targets need a named sender for replies: the
// socket is autobound to a Linux abstract address, which (unlike a file in /tmp) a client
// running with systemd's PrivateTmp= can reach, and which vanishes with the socket.
class Link {
public:
    explicit Link(const osc::SocketAddress& to) : to_(to) {
        fd_ = ::socket(to.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd_ >= 0 && to.family() == AF_UNIX) {
            sockaddr_un sun{};
            sun.sun_family = AF_UNIX;
            // An address of just the family: the kernel picks a unique abstract name.
            bound_ = ::bind(fd_, reinterpret_cast<const sockaddr*>(&sun), sizeof(sa_family_t)) == 0;
        }
    }
    ~Link() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

    bool ok() const { return fd_ >= 0 && (to_.family() != AF_UNIX || bound_); }

    // Never blocks: a UNIX client whose OSC thread is stuck has a full queue, and a ctl
    // blocked in sendto would need a Ctrl-C per message to leave (EAGAIN is reported).
    bool send(const osc::Message& m) {
        const auto bytes = osc::encode(m);
        return ::sendto(fd_, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL, to_.get(),
                        to_.size()) == static_cast<ssize_t>(bytes.size());
    }

    // The next message (bundles are unpacked), or nullopt at `deadline` or on a signal.
    std::optional<osc::Message> receive(Clock::time_point deadline) {
        return receive(deadline, [] {});
    }
    // The same, calling `every_second` about once a second while it waits.
    template <typename F>
    std::optional<osc::Message> receive(Clock::time_point deadline, F every_second) {
        auto next_tick = Clock::now() + std::chrono::seconds(1);
        while (pending_.empty()) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0 || stop_requested != 0) {
                return std::nullopt;
            }
            if (Clock::now() >= next_tick) {
                next_tick = Clock::now() + std::chrono::seconds(1);
                every_second();
            }
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 200))) != 1) {
                continue;
            }
            std::vector<std::uint8_t> buffer(65536);
            const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
            if (n <= 0) {
                continue;
            }
            osc::Decoded d = osc::decode(
                std::span<const std::uint8_t>(buffer.data(), static_cast<std::size_t>(n)));
            for (auto& e : d.elements) {
                pending_.push_back(std::move(e.message));
            }
        }
        osc::Message m = std::move(pending_.front());
        pending_.pop_front();
        return m;
    }

private:
    int fd_ = -1;
    osc::SocketAddress to_;
    bool bound_ = false;
    std::deque<osc::Message> pending_;
};

// `busy`: the client answered a /ping but not (yet) the command: an async one still running.
int no_reply(const std::string& what, const std::string& url, const std::string& client,
             bool busy = false) {
    if (stop_requested != 0) {
        std::fprintf(stderr, "lockstep-ctl: interrupted while waiting for the reply to %s\n",
                     what.c_str());
        return exit_interrupted;
    }
    if (busy) {
        std::fprintf(stderr,
                     "lockstep-ctl: no reply to %s from %s within the timeout; %s applies it "
                     "in the background and answers when done: it may still be loading "
                     "(longer --timeout, or `lockstep-ctl sampler query` later)\n",
                     what.c_str(), url.c_str(), client.c_str());
        return exit_no_reply;
    }
    std::fprintf(stderr,
                 "lockstep-ctl: no reply to %s from %s within the timeout: is %s running "
                 "there? (--osc to pick another address)\n",
                 what.c_str(), url.c_str(), client.c_str());
    return exit_no_reply;
}

// After a failed send (errno set by sendto).
int cannot_send(const std::string& url) {
    const int e = errno;
    if (e == EINTR && stop_requested != 0) {
        std::fprintf(stderr, "lockstep-ctl: interrupted while sending to %s\n", url.c_str());
        return exit_interrupted;
    }
    std::fprintf(stderr, "lockstep-ctl: cannot send to %s: %s%s\n", url.c_str(), std::strerror(e),
                 e == EAGAIN || e == EWOULDBLOCK ? " (its queue is full: is it stuck?)" : "");
    return exit_error;
}

bool is_error_for(const osc::Message& m, const std::string& path) {
    return m.path == "/error" && !m.args.empty() && m.args[0].type() == 's' &&
           (m.args[0].s() == path || m.args[0].s().empty());
}

int print_error(const Request& r, const osc::Message& m) {
    std::string reason = m.args.size() > 1 && m.args[1].type() == 's' ? m.args[1].s() : "?";
    std::fprintf(stderr, "lockstep-ctl: %s: %s: %s\n", std::string(r.role->name).c_str(),
                 r.message.path.c_str(), reason.c_str());
    if (r.command != nullptr &&
        (reason.starts_with("argument") || reason.starts_with("wrong types"))) {
        std::fprintf(stderr, "%s\n", usage(*r.role, *r.command).c_str());
    }
    return exit_error;
}

// Sends the request and waits for its answer; prints replies on stdout.
int run(Link& link, const Request& r, std::chrono::milliseconds timeout, const std::string& url) {
    const std::string client(r.role->client);
    const auto deadline = Clock::now() + timeout;
    const bool bare_ping = r.message.path == "/ping" && r.message.args.empty();
    // An async command gets a /ping too: its /pong says the client is there (and busy).
    if (!link.send(r.message) || (!bare_ping && !link.send(osc::Message("/ping")))) {
        return cannot_send(url);
    }
    if (r.command != nullptr && r.command->reply == Reply::async) {
        // The sampler answers when its loader has done the work: the same path, or /error.
        bool alive = false;
        while (auto m = link.receive(deadline)) {
            alive = alive || m->path == "/pong";
            if (is_error_for(*m, r.message.path)) {
                return print_error(r, *m);
            }
            if (m->path == r.message.path || m->path == "/sampler/warning") {
                std::printf("%s\n", format(*m).c_str());
                if (m->path == r.message.path) {
                    return exit_ok;
                }
            }
        }
        return no_reply(r.message.path, url, client, alive);
    }
    // Everything before the /pong answers the request (a client handles packets in order).
    int code = exit_ok;
    while (auto m = link.receive(deadline)) {
        if (m->path == "/pong") {
            if (bare_ping) {
                std::printf("/pong\n");
            }
            return code;
        }
        if (m->path == "/error") {
            code = print_error(r, *m);
        } else {
            std::printf("%s\n", format(*m).c_str());
        }
    }
    return no_reply(r.message.path, url, client);
}

int watch(Link& link, const Role& role, std::chrono::milliseconds timeout, const std::string& url) {
    const std::string client(role.client);
    if (!link.send(osc::Message("/subscribe")) || !link.send(osc::Message("/ping"))) {
        return cannot_send(url);
    }
    bool subscribed = false;
    const auto deadline = Clock::now() + timeout;
    while (!subscribed) {
        auto m = link.receive(deadline);
        if (!m) {
            if (stop_requested != 0) {
                link.send(osc::Message("/unsubscribe")); // in case /subscribe got there
                return exit_ok;
            }
            return no_reply("/subscribe", url, client);
        }
        if (m->path == "/error") {
            std::fprintf(stderr, "lockstep-ctl: %s: %s\n", std::string(role.name).c_str(),
                         format(*m).c_str());
            return exit_error;
        }
        subscribed = m->path == "/pong";
    }
    std::fprintf(stderr, "lockstep-ctl: watching %s at %s (Ctrl-C ends)\n", client.c_str(),
                 url.c_str());
    // A restarted client has forgotten us: subscribing again (idempotent, no reply) every
    // second picks it up. A closed output (SIGPIPE, or EPIPE) ends the watch like a signal.
    const auto resubscribe = [&link] { link.send(osc::Message("/subscribe")); };
    // Each second's /subscribe may earn the same /error ("subscriber list full"): say it once.
    std::string last_error;
    while (stop_requested == 0) {
        if (auto m = link.receive(Clock::now() + std::chrono::hours(1), resubscribe)) {
            if (m->path == "/error") {
                std::string text = format(*m);
                if (text != last_error) {
                    std::fprintf(stderr, "lockstep-ctl: %s: %s\n", std::string(role.name).c_str(),
                                 text.c_str());
                    last_error = std::move(text);
                }
            } else if (m->path != "/pong") {
                if (std::printf("%s\n", format(*m).c_str()) < 0 || std::fflush(stdout) != 0) {
                    break;
                }
            }
        }
    }
    link.send(osc::Message("/unsubscribe"));
    // Confirms the unsubscribe was handled (best effort: we are leaving anyway).
    link.send(osc::Message("/ping"));
    stop_requested = 0;
    // At most 2 s: the client may be gone, and --timeout can be a day.
    const auto until =
        Clock::now() + std::min<std::chrono::milliseconds>(timeout, std::chrono::seconds(2));
    while (auto m = link.receive(until)) {
        if (m->path == "/pong") {
            break;
        }
    }
    return exit_ok;
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    std::string osc_spec;
    std::string host;
    std::optional<std::chrono::milliseconds> timeout_given;
    std::size_t i = 0;
    // Options come before CLIENT only: later words may be negative numbers (-3 dB).
    for (; i < args.size() && args[i].starts_with('-'); ++i) {
        const std::string& a = args[i];
        const bool has_value = i + 1 < args.size();
        if (a == "-h" || a == "--help") {
            std::fputs(help_text, stdout);
            return exit_ok;
        }
        if (a == "--version") {
            std::printf("lockstep-ctl %s\n", LOCKSTEP_VERSION);
            return exit_ok;
        }
        if ((a == "--osc" || a == "--host" || a == "--timeout") && !has_value) {
            std::fprintf(stderr, "lockstep-ctl: %s needs a value (see --help)\n", a.c_str());
            return exit_usage;
        }
        if (a == "--osc") {
            osc_spec = args[++i];
        } else if (a == "--host") {
            host = args[++i];
        } else if (a == "--timeout") {
            timeout_given = parse_timeout(args[i + 1]);
            if (!timeout_given) {
                std::fprintf(stderr,
                             "lockstep-ctl: --timeout wants milliseconds from 1 to %lld, got "
                             "'%s'\n",
                             static_cast<long long>(max_timeout.count()), args[i + 1].c_str());
                return exit_usage;
            }
            ++i;
        } else {
            std::fprintf(stderr, "lockstep-ctl: unknown option %s (see --help)\n", a.c_str());
            return exit_usage;
        }
    }
    std::vector<std::string> words(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
    if (words.empty()) {
        std::fputs(help_text, stderr);
        return exit_usage;
    }
    const std::string verb = words[0];
    if (verb == "list") {
        const Listing l = list_command({words.begin() + 1, words.end()});
        if (!l.error.empty()) {
            std::fprintf(stderr, "lockstep-ctl: %s\n", l.error.c_str());
            return exit_usage;
        }
        std::printf("%s", l.text.c_str());
        return exit_ok;
    }
    const bool is_watch = verb == "watch";
    if (is_watch || verb == "send") {
        words.erase(words.begin());
    }
    Parsed parsed;
    if (is_watch) {
        parsed = parse_command({words.empty() ? "" : words[0], "ping"});
        if (words.size() > 1) {
            parsed = Parsed{std::nullopt, "watch takes one client, got more words"};
        }
    } else {
        parsed = verb == "send" ? parse_raw(words) : parse_command(words);
    }
    if (!parsed.request) {
        std::fprintf(stderr, "lockstep-ctl: %s\n", parsed.error.c_str());
        return exit_usage;
    }
    Request& request = *parsed.request;
    if (!host.empty() && !osc_spec.empty()) {
        std::fprintf(stderr, "lockstep-ctl: give --osc or --host, not both\n");
        return exit_usage;
    }
    if (!host.empty()) {
        const bool v6 = host.find(':') != std::string::npos;
        osc_spec = "osc.udp://" + (v6 ? "[" + host + "]" : host) + ":" +
                   std::to_string(request.role->port) + "/";
    }
    std::string why;
    const auto to = osc::parse_listen(osc_spec, request.role->port, &why);
    if (!to) {
        std::fprintf(stderr, "lockstep-ctl: bad address '%s': %s\n", osc_spec.c_str(), why.c_str());
        return exit_usage;
    }
    // A relative sample path means one in this directory, which only a client on this
    // machine shares; a remote client gets the path as typed.
    if (to->family() == AF_UNIX || to->is_loopback()) {
        std::error_code cwd_error;
        absolutize_paths(request, std::filesystem::current_path(cwd_error).string());
    }
    struct sigaction sa {};
    sa.sa_handler = on_signal; // no SA_RESTART: poll() returns at once
    // SIGHUP (terminal closed) and SIGPIPE (output closed) end a watch cleanly too, so
    // that it unsubscribes instead of leaving a subscription behind.
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) {
        ::sigaction(s, &sa, nullptr);
    }

    Link link(*to);
    if (!link.ok()) {
        std::fprintf(stderr, "lockstep-ctl: cannot open a socket for %s: %s\n", to->url().c_str(),
                     std::strerror(errno));
        return exit_error;
    }
    const std::chrono::milliseconds timeout = reply_timeout(request, timeout_given);
    return is_watch ? watch(link, *request.role, timeout, to->url())
                    : run(link, request, timeout, to->url());
}
