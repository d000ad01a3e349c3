// The OSC endpoint every lockstep client listens on (DESIGN.md section 4, docs/osc.md).
//
// It owns its socket (UDP, 127.0.0.1 by default, or a UNIX datagram socket) and checks
// every packet in this order: sender allowed? (else dropped, no reply) -> strict
// validation (osc/validate.hpp) -> every message's path, exact type signature and
// argument ranges. A packet with any bad part is refused whole with an
// `/error s:path s:reason` reply to the sender and a rate-limited log line; no handler
// runs, so no state changes. Built in: /ping, /subscribe, /unsubscribe, /query.
//
// Timetags: a bundle due now (or in the past, or immediate) reaches its handlers with
// frame = nullopt ("apply at the start of the next cycle"). A future bundle waits in a
// bounded queue and is released `lookahead` before it is due, with the frame the
// client's mapper gives for its timetag. liblo's own server and timetag queue are unused.
//
// Thread: the endpoint is a control-thread component. Handlers run on its receive thread
// (start()) or inside run_once(). Never use it from the audio thread.
#pragma once

#include "osc/address.hpp"
#include "osc/message.hpp"
#include "osc/validate.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lockstep::osc {

// A check on one argument, by position in the type signature.
struct Constraint {
    enum class Kind : std::uint8_t { any, range, max_length };
    Kind kind = Kind::any;
    double lo = 0;
    double hi = 0;
    std::size_t max_length = 0;
};

// No check (floats must still be finite).
Constraint any();
// lo <= value <= hi, for i, h, f, d arguments (NaN and infinities fail).
Constraint range(double lo, double hi);
// At most n bytes, for s, S and b arguments.
Constraint max_length(std::size_t n);

class Endpoint;

// What a handler knows about the message it is running for.
class Context {
public:
    // Frame the message applies at; nullopt: at the start of the next cycle.
    std::optional<std::int64_t> frame;
    // The bundle timetag the message came with (kImmediate for a bare message).
    std::uint64_t timetag = kImmediate;

    const SocketAddress& sender() const noexcept { return *sender_; }
    const std::string& path() const noexcept { return path_; }

    // Sends `message` to the reply target: the sender, or the URL given to a built-in.
    // Within /query the replies are gathered into bundles (timetag immediate) of at most
    // query_bundle_bytes each, in order: hundreds of one-message datagrams at once would
    // overflow the receiver's socket buffer.
    void reply(const Message& message);
    // Sends /error <path> <reason> to the sender and logs it (rate-limited).
    void error(std::string_view reason);

private:
    friend class Endpoint;
    Context(Endpoint& endpoint, const SocketAddress& sender, std::string path)
        : endpoint_(&endpoint), sender_(&sender), target_(&sender), path_(std::move(path)) {}

    void flush_replies();

    Endpoint* endpoint_;
    const SocketAddress* sender_;
    const SocketAddress* target_;
    std::string path_;
    bool gather_ = false; // in /query: reply() gathers into replies_
    std::vector<std::vector<std::uint8_t>> replies_;
    std::size_t replies_bytes_ = 0; // of the bundle replies_ would make
};

// Largest bundle of /query replies: fits one Ethernet frame's UDP payload (1472 bytes), so
// a tablet on the network gets it unfragmented. A single larger message goes alone.
inline constexpr std::size_t query_bundle_bytes = 1400;

struct Stats {
    std::uint64_t packets = 0;        // datagrams received
    std::uint64_t disallowed = 0;     // dropped: sender not allowed
    std::uint64_t malformed = 0;      // refused by the validator
    std::uint64_t rejected = 0;       // refused: unknown path, wrong types, out of range
    std::uint64_t dispatched = 0;     // messages handed to handlers
    std::uint64_t scheduled = 0;      // messages queued for a future timetag
    std::uint64_t late = 0;           // queued messages released after they were due
    std::uint64_t scheduler_full = 0; // bundles refused because the queue was full
    std::uint64_t send_failures = 0;  // replies or notifications that could not be sent
};

class Endpoint {
public:
    using Handler = std::function<void(const Message&, Context&)>;
    // Client-supplied: timetag -> absolute frame (JACK adapter); nullopt if it cannot say.
    using Mapper = std::function<std::optional<std::int64_t>(std::uint64_t ntp_timetag)>;
    // Now as an NTP timetag; tests inject one, the default reads CLOCK_REALTIME.
    using Clock = std::function<std::uint64_t()>;
    // Sends the client's state with ctx.reply(...) (one message per value).
    using QueryHandler = std::function<void(Context&)>;

    struct Config {
        std::string listen;             // --osc URL|PORT; empty: 127.0.0.1:default_port
        std::uint16_t default_port = 0; // e.g. port::seq; 0 picks a free port
        std::vector<std::string> allow; // --osc-allow CIDRs (127.0.0.1, ::1 always)
        std::size_t max_subscribers = 16;
        std::size_t scheduler_capacity = 1024;
        std::chrono::nanoseconds lookahead = std::chrono::milliseconds(50);
        Limits limits;
        Mapper mapper;            // empty: frames are always nullopt
        Clock clock;              // empty: ntp_now()
        std::string name = "osc"; // prefix of log lines
    };

    // Binds the socket. Throws std::invalid_argument for a bad URL or CIDR and
    // std::system_error when the socket cannot be bound. Thread: control.
    explicit Endpoint(Config config);
    ~Endpoint();
    Endpoint(const Endpoint&) = delete;
    Endpoint& operator=(const Endpoint&) = delete;

    // Registers `handler` for `path` with exact type tags `types` (no leading ',', "" for
    // none) and optional per-argument constraints. A path may have several signatures.
    // Throws std::invalid_argument for a bad path/types/constraint or a duplicate.
    // Thread: control, before start().
    void add(std::string path, std::string types, std::vector<Constraint> constraints,
             Handler handler);
    void add(std::string path, std::string types, Handler handler) {
        add(std::move(path), std::move(types), {}, std::move(handler));
    }
    // The /query dump. Thread: control, before start().
    void on_query(QueryHandler handler);

    // Runs the receive loop on its own thread until stop(). Thread: control.
    void start();
    void stop();
    // Without start(): waits up to `timeout` for packets, handles what arrived and
    // releases due bundles. Thread: control (tests, single-threaded programs).
    void run_once(std::chrono::milliseconds timeout);
    // Makes the loop re-read the clock now (tests that move an injected clock). Thread: any.
    void wake() noexcept;

    // Sends `message` to every subscriber. Thread: any control thread.
    void notify(const Message& message);

    // Where the endpoint listens, with the real port (e.g. after port 0).
    const SocketAddress& local_address() const noexcept;
    std::string url() const { return local_address().url(); }
    Stats stats() const noexcept;
    std::size_t subscriber_count() const;

private:
    friend class Context;
    struct Impl;
    void send(const SocketAddress& to, const Message& message);
    void send_bytes(const SocketAddress& to, std::span<const std::uint8_t> bytes,
                    const std::string& what);
    void send_error(const SocketAddress& to, std::string_view path, std::string_view reason);

    std::unique_ptr<Impl> impl_;
};

} // namespace lockstep::osc
