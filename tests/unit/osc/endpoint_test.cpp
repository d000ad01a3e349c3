// The endpoint over real sockets (loopback UDP and UNIX datagram): replies are awaited
// with poll() and a generous timeout; "nothing happened" is proven by a later /ping
// whose /pong can only come after the earlier packet was handled (one socket, one
// thread, packets in order). Clocks are injected; nothing sleeps.
#include "osc/decode.hpp"
#include "osc/endpoint.hpp"

#include "bytes.hpp"
#include "harness/osc_peer.hpp"

#include <gtest/gtest.h>
#include <lo/lo.h>

#include <arpa/inet.h>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <limits>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace lockstep::osc {
namespace {

using lockstep::test::non_loopback_ipv4;

using namespace std::chrono_literals;
using test::Bytes;

constexpr auto kTimeout = 5s;

SocketAddress ipv4(const char* host, std::uint16_t port) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    EXPECT_EQ(inet_pton(AF_INET, host, &sin.sin_addr), 1) << host;
    return SocketAddress(reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
}

// A test client socket: sends packets and waits for replies.
class Peer {
public:
    // UDP, bound to host:0.
    explicit Peer(const char* host = "127.0.0.1") {
        fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        const SocketAddress a = ipv4(host, 0);
        bound_ = ::bind(fd_, a.get(), a.size()) == 0;
    }
    // UNIX datagram, bound to `path`.
    explicit Peer(const std::string& path) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        const auto a = parse_url("osc.unix://" + path);
        bound_ = a && ::bind(fd_, a->get(), a->size()) == 0;
    }
    ~Peer() { ::close(fd_); }
    Peer(const Peer&) = delete;
    Peer& operator=(const Peer&) = delete;

    bool bound() const { return bound_; }

    void send(const Bytes& bytes, const SocketAddress& to) {
        ASSERT_EQ(::sendto(fd_, bytes.data(), bytes.size(), 0, to.get(), to.size()),
                  static_cast<ssize_t>(bytes.size()))
            << std::strerror(errno);
    }
    void send(const Message& message, const SocketAddress& to) { send(encode(message), to); }

    // The next message (a bundle's messages one by one, in order), or nullopt after
    // `timeout`.
    std::optional<Message> receive(std::chrono::milliseconds timeout = kTimeout) {
        if (!unpacked_.empty()) {
            Message m = std::move(unpacked_.front());
            unpacked_.pop_front();
            return m;
        }
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
            return std::nullopt;
        }
        std::uint8_t buffer[65536];
        const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n < 0) {
            return std::nullopt;
        }
        datagrams.push_back(static_cast<std::size_t>(n));
        const Decoded d =
            decode(std::span<const std::uint8_t>(buffer, static_cast<std::size_t>(n)));
        EXPECT_TRUE(d.ok()) << "endpoint sent a malformed packet";
        if (!d.ok() || d.elements.empty()) {
            return std::nullopt;
        }
        for (std::size_t i = 1; i < d.elements.size(); ++i) {
            unpacked_.push_back(d.elements[i].message);
        }
        return d.elements[0].message;
    }

    bool pending() {
        pollfd p{fd_, POLLIN, 0};
        return !unpacked_.empty() || ::poll(&p, 1, 0) == 1;
    }

    std::vector<std::size_t> datagrams; // sizes of the datagrams received, in order

    SocketAddress address() const {
        sockaddr_storage s{};
        socklen_t length = sizeof s;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&s), &length);
        return SocketAddress(reinterpret_cast<const sockaddr*>(&s), length);
    }

private:
    int fd_ = -1;
    std::deque<Message> unpacked_;
    bool bound_ = false;
};

// Sends /ping and expects the very next message to be /pong: everything `peer` sent
// before has been handled by then.
void sync(Peer& peer, const SocketAddress& to) {
    peer.send(Message("/ping"), to);
    const auto reply = peer.receive();
    ASSERT_TRUE(reply) << "no /pong";
    EXPECT_EQ(reply->path, "/pong") << to_string(*reply);
}

// Expects an /error reply for `path` whose reason contains `reason`.
void expect_error(Peer& peer, const std::string& path, const std::string& reason) {
    const auto reply = peer.receive();
    ASSERT_TRUE(reply) << "no /error for " << path;
    ASSERT_EQ(reply->path, "/error") << to_string(*reply);
    ASSERT_EQ(reply->types(), "ss");
    EXPECT_EQ(reply->args[0].s(), path);
    EXPECT_NE(reply->args[1].s().find(reason), std::string::npos) << reply->args[1].s();
}

struct Call {
    Message message;
    std::optional<std::int64_t> frame;
    std::uint64_t timetag;
};

// Records handler calls (made on the endpoint's thread) for the test thread.
class Recorder {
public:
    Endpoint::Handler handler() {
        return [this](const Message& m, Context& ctx) {
            const std::lock_guard lock(mutex_);
            calls_.push_back({m, ctx.frame, ctx.timetag});
            changed_.notify_all();
        };
    }
    bool wait_for(std::size_t count) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, kTimeout, [&] { return calls_.size() >= count; });
    }
    std::vector<Call> calls() {
        const std::lock_guard lock(mutex_);
        return calls_;
    }
    std::size_t count() { return calls().size(); }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<Call> calls_;
};

Endpoint::Config loopback() {
    Endpoint::Config c;
    c.listen = "osc.udp://127.0.0.1:0";
    return c;
}

// ---- binding and senders ---------------------------------------------------------------

TEST(OscEndpoint, DefaultConfigListensOnLoopbackOnly) {
    Endpoint ep(Endpoint::Config{});
    const SocketAddress local = ep.local_address(); // from getsockname()
    ASSERT_EQ(local.family(), AF_INET);
    EXPECT_EQ(local.to_string().substr(0, 10), "127.0.0.1:");
    EXPECT_NE(local.port(), 0);
    EXPECT_EQ(ep.url(), "osc.udp://127.0.0.1:" + std::to_string(local.port()) + "/");
}

TEST(OscEndpoint, DoesNotAnswerOnANonLoopbackAddressByDefault) {
    const auto other = non_loopback_ipv4();
    if (!other) {
        GTEST_SKIP() << "this machine has no non-loopback IPv4 address";
    }
    Endpoint ep(Endpoint::Config{});
    ep.start();
    Peer peer("0.0.0.0"); // can reach both addresses
    peer.send(Message("/ping"), ipv4(other->c_str(), ep.local_address().port()));
    sync(peer, ep.local_address());
    EXPECT_EQ(ep.stats().packets, 1u) << "the packet sent to " << *other << " reached the endpoint";
    EXPECT_FALSE(peer.pending());
}

TEST(OscEndpoint, DropsNonLoopbackSendersUnlessAllowed) {
    const auto other = non_loopback_ipv4();
    if (!other) {
        GTEST_SKIP() << "this machine has no non-loopback IPv4 address";
    }
    Endpoint::Config config;
    config.listen = "osc.udp://0.0.0.0:0";
    Endpoint ep(config);
    ep.start();
    const SocketAddress to = ipv4("127.0.0.1", ep.local_address().port());
    Peer outside(other->c_str());
    ASSERT_TRUE(outside.bound());
    Peer local;
    outside.send(Message("/ping"), to);
    sync(local, to);
    EXPECT_EQ(ep.stats().disallowed, 1u);
    EXPECT_FALSE(outside.pending());
}

TEST(OscEndpoint, DropsDisallowedSendersSilently) {
    Endpoint::Config config;
    config.listen = "osc.udp://0.0.0.0:0";
    config.allow = {"10.0.0.0/8"};
    Endpoint ep(config);
    Recorder rec;
    ep.add("/test/set", "i", rec.handler());
    ep.start();
    const SocketAddress to = ipv4("127.0.0.1", ep.local_address().port());
    Peer stranger("127.0.0.2");
    ASSERT_TRUE(stranger.bound());
    Peer friendly;
    stranger.send(Message("/ping"), to);
    stranger.send(Message("/test/set", {Arg::int32(5)}), to);
    stranger.send(Bytes{1, 2, 3}, to); // malformed too: still no reply
    sync(friendly, to);
    EXPECT_EQ(ep.stats().disallowed, 3u);
    EXPECT_EQ(ep.stats().malformed, 0u); // never even validated
    EXPECT_EQ(rec.count(), 0u);
    EXPECT_FALSE(stranger.pending());
}

TEST(OscEndpoint, AdmitsSendersInTheAllowList) {
    Endpoint::Config config;
    config.listen = "osc.udp://0.0.0.0:0";
    config.allow = {"127.0.0.2/32"};
    Endpoint ep(config);
    ep.start();
    Peer admitted("127.0.0.2");
    ASSERT_TRUE(admitted.bound());
    sync(admitted, ipv4("127.0.0.1", ep.local_address().port()));
    EXPECT_EQ(ep.stats().disallowed, 0u);
}

TEST(OscEndpoint, RefusesBadConfiguration) {
    Endpoint::Config bad_url;
    bad_url.listen = "osc.tcp://127.0.0.1:0";
    EXPECT_THROW(Endpoint{bad_url}, std::invalid_argument);
    Endpoint::Config bad_cidr = loopback();
    bad_cidr.allow = {"10.0.0.0/40"};
    EXPECT_THROW(Endpoint{bad_cidr}, std::invalid_argument);
    Endpoint first(loopback());
    Endpoint::Config taken;
    taken.listen = std::to_string(first.local_address().port());
    EXPECT_THROW(Endpoint{taken}, std::system_error);
}

// ---- built-ins -------------------------------------------------------------------------

TEST(OscEndpoint, PingPongsToTheSenderOrTheGivenUrl) {
    Endpoint ep(loopback());
    ep.start();
    Peer a;
    Peer b;
    sync(a, ep.local_address());
    a.send(Message("/ping", {Arg::string(b.address().url())}), ep.local_address());
    const auto reply = b.receive();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->path, "/pong");
    a.send(Message("/ping", {Arg::string("osc.udp://example.org:1")}), ep.local_address());
    expect_error(a, "/ping", "bad url");
    a.send(Message("/ping", {Arg::string("osc.udp://127.0.0.1:0")}), ep.local_address());
    expect_error(a, "/ping", "bad url");
    EXPECT_FALSE(a.pending());
}

TEST(OscEndpoint, RunOnceServesWithoutAThread) {
    Endpoint ep(loopback());
    Peer peer;
    peer.send(Message("/ping"), ep.local_address());
    ep.run_once(5000ms);
    const auto reply = peer.receive();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->path, "/pong");
}

TEST(OscEndpoint, SubscribeNotifyUnsubscribe) {
    Endpoint ep(loopback());
    ep.start();
    Peer a;
    Peer b;
    a.send(Message("/subscribe"), ep.local_address());
    a.send(Message("/subscribe"), ep.local_address()); // twice: still one entry
    a.send(Message("/subscribe", {Arg::string(b.address().url())}), ep.local_address());
    sync(a, ep.local_address());
    EXPECT_EQ(ep.subscriber_count(), 2u);

    ep.notify(Message("/test/value", {Arg::int32(3)}));
    for (Peer* p : {&a, &b}) {
        const auto pushed = p->receive();
        ASSERT_TRUE(pushed);
        EXPECT_EQ(pushed->path, "/test/value");
        EXPECT_EQ(pushed->args.at(0).i(), 3);
    }
    EXPECT_FALSE(a.pending());

    a.send(Message("/unsubscribe"), ep.local_address());
    a.send(Message("/unsubscribe", {Arg::string(b.address().url())}), ep.local_address());
    sync(a, ep.local_address());
    EXPECT_EQ(ep.subscriber_count(), 0u);
    ep.notify(Message("/test/value", {Arg::int32(4)}));
    sync(a, ep.local_address()); // a notification would have arrived before this /pong
    sync(b, ep.local_address());
}

TEST(OscEndpoint, SubscriberListIsBounded) {
    Endpoint::Config config = loopback();
    config.max_subscribers = 1;
    Endpoint ep(config);
    ep.start();
    Peer a;
    Peer b;
    a.send(Message("/subscribe"), ep.local_address());
    sync(a, ep.local_address());
    b.send(Message("/subscribe"), ep.local_address());
    expect_error(b, "/subscribe", "subscriber list full");
    EXPECT_EQ(ep.subscriber_count(), 1u);
}

// A big state (a full sampler or sequencer: hundreds of messages) arrives whole and in
// order: bundled, each datagram at most query_bundle_bytes, and a UDP socket's default
// receive buffer is not overrun (one datagram per message lost most of them).
TEST(OscEndpoint, QueryRepliesComeInBundlesThatFitOneFrame) {
    Endpoint ep(loopback());
    constexpr int count = 1000; // a full sampler: 128 slots, 7 messages each
    ep.on_query([](Context& ctx) {
        for (int i = 0; i < count; ++i) {
            ctx.reply(Message("/test/slot", {Arg::int32(i), Arg::string("/samples/hit.wav")}));
        }
    });
    ep.start();
    Peer a;
    a.send(Message("/query"), ep.local_address());
    for (int i = 0; i < count; ++i) {
        const auto m = a.receive();
        ASSERT_TRUE(m) << "reply " << i << " of " << count << " lost";
        ASSERT_EQ(to_string(*m), "/test/slot ,is " + std::to_string(i) + " \"/samples/hit.wav\"");
    }
    EXPECT_FALSE(a.pending());
    EXPECT_LT(a.datagrams.size(), static_cast<std::size_t>(count) / 20);
    for (const std::size_t n : a.datagrams) {
        EXPECT_LE(n, query_bundle_bytes);
    }
    EXPECT_EQ(ep.stats().send_failures, 0U);
}

TEST(OscEndpoint, QueryDumpsStateToTheSenderOrTheGivenUrl) {
    Endpoint ep(loopback());
    ep.on_query([](Context& ctx) {
        ctx.reply(Message("/test/value", {Arg::int32(7)}));
        ctx.reply(Message("/test/name", {Arg::string("seven")}));
    });
    ep.start();
    Peer a;
    Peer b;
    a.send(Message("/query"), ep.local_address());
    auto first = a.receive();
    auto second = a.receive();
    ASSERT_TRUE(first && second);
    EXPECT_EQ(to_string(*first), "/test/value ,i 7");
    EXPECT_EQ(to_string(*second), "/test/name ,s \"seven\"");
    a.send(Message("/query", {Arg::string(b.address().url())}), ep.local_address());
    first = b.receive();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->path, "/test/value");
    sync(a, ep.local_address());
}

// ---- bad input -------------------------------------------------------------------------

class OscEndpointBadInput : public ::testing::Test {
protected:
    OscEndpointBadInput() : ep_(config()) {
        ep_.add("/test/set", "i", {range(0, 10)}, rec_.handler());
        ep_.add("/test/gain", "f", {range(-60, 6)}, rec_.handler());
        ep_.add("/test/free", "f", rec_.handler());
        ep_.add("/test/big", "h", {range(0, 9007199254740992.0)}, rec_.handler()); // 2^53
        ep_.add("/test/name", "s", {max_length(4)}, rec_.handler());
        ep_.add("/test/pair", "is", rec_.handler());
        ep_.add("/test/pair", "i", rec_.handler()); // two signatures, one path
        ep_.add("/test/throw", "",
                [](const Message&, Context&) { throw std::runtime_error("handler bug"); });
        ep_.add("/test/refuse", "", [](const Message&, Context& ctx) { ctx.error("not now"); });
        ep_.start();
    }
    static Endpoint::Config config() {
        Endpoint::Config c = loopback();
        c.limits.max_packet_size = 256;
        return c;
    }
    void send(const Message& m) { peer_.send(m, ep_.local_address()); }
    void send(const Bytes& b) { peer_.send(b, ep_.local_address()); }

    Endpoint ep_;
    Recorder rec_;
    Peer peer_;
};

TEST_F(OscEndpointBadInput, WrongTypesGetAnErrorAndChangeNothing) {
    send(Message("/test/set", {Arg::float32(1)}));
    expect_error(peer_, "/test/set", "wrong types: expected ,i, got ,f");
    send(Message("/test/set"));
    expect_error(peer_, "/test/set", "got ,");
    send(Message("/test/pair", {Arg::string("x")}));
    expect_error(peer_, "/test/pair", "expected ,is or ,i, got ,s");
    sync(peer_, ep_.local_address());
    EXPECT_EQ(rec_.count(), 0u);
    EXPECT_EQ(ep_.stats().rejected, 3u);
}

TEST_F(OscEndpointBadInput, OutOfRangeValuesGetAnErrorAndChangeNothing) {
    send(Message("/test/set", {Arg::int32(11)}));
    expect_error(peer_, "/test/set", "argument 1 out of range [0, 10]: 11");
    send(Message("/test/set", {Arg::int32(-1)}));
    expect_error(peer_, "/test/set", "out of range");
    send(Message("/test/gain", {Arg::float32(std::numeric_limits<float>::quiet_NaN())}));
    expect_error(peer_, "/test/gain", "not a finite number");
    send(Message("/test/gain", {Arg::float32(std::numeric_limits<float>::infinity())}));
    expect_error(peer_, "/test/gain", "not a finite number");
    send(Message("/test/free", {Arg::float32(std::numeric_limits<float>::quiet_NaN())}));
    expect_error(peer_, "/test/free", "not a finite number");
    send(Message("/test/big", {Arg::int64(9007199254740993)})); // 2^53 + 1: compared exactly
    expect_error(peer_, "/test/big", "out of range [0, 9007199254740992]: 9007199254740993");
    send(Message("/test/name", {Arg::string("toolong")}));
    expect_error(peer_, "/test/name", "longer than 4 bytes");
    sync(peer_, ep_.local_address());
    EXPECT_EQ(rec_.count(), 0u);

    send(Message("/test/set", {Arg::int32(10)})); // the edges are in range
    send(Message("/test/gain", {Arg::float32(-60)}));
    send(Message("/test/big", {Arg::int64(9007199254740992)}));
    sync(peer_, ep_.local_address());
    EXPECT_EQ(rec_.count(), 3u);
}

TEST_F(OscEndpointBadInput, UnknownPathsGetAnError) {
    send(Message("/test/nope", {Arg::int32(1)}));
    expect_error(peer_, "/test/nope", "unknown path");
    send(Message("/test/*"));
    expect_error(peer_, "/test/*", "address patterns are not supported");
    sync(peer_, ep_.local_address());
    EXPECT_EQ(rec_.count(), 0u);
}

TEST_F(OscEndpointBadInput, MalformedPacketsGetAnErrorAndCrashNothing) {
    using namespace test;
    Bytes zero_element; // liblo 0.31 reads past this one
    str(zero_element, "#bundle");
    be64(zero_element, 1);
    be32(zero_element, 0);
    const Bytes list[] = {
        msg("/b", ",b"), // liblo 0.31 reads a blob size that is not there
        zero_element,
        Bytes{},
        Bytes{'/', 'a', 0},
        raw(Bytes{}, "hello world!"),
        msg("/test/set", ",i"),
        bundle(1, {msg("/test/set", ",i", be32(Bytes{}, 1)), msg("/x", ",b", be32(Bytes{}, 99))}),
        Bytes(300, 0x2f), // larger than max_packet_size (256)
    };
    for (const Bytes& packet : list) {
        send(packet);
        expect_error(peer_, "", "malformed packet: ");
    }
    sync(peer_, ep_.local_address());
    EXPECT_EQ(rec_.count(), 0u);
    EXPECT_EQ(ep_.stats().malformed, std::size(list));
}

TEST_F(OscEndpointBadInput, ABundleWithOneBadMessageRunsNone) {
    const std::vector<Bytes> elements = {encode(Message("/test/set", {Arg::int32(1)})),
                                         encode(Message("/test/set", {Arg::int32(99)})),
                                         encode(Message("/test/set", {Arg::int32(2)}))};
    send(encode_bundle(kImmediate, elements));
    expect_error(peer_, "/test/set", "out of range");
    sync(peer_, ep_.local_address());
    EXPECT_EQ(rec_.count(), 0u);
    // The same bundle without the bad message runs whole, in order.
    const std::vector<Bytes> good = {elements[0], elements[2]};
    send(encode_bundle(kImmediate, good));
    sync(peer_, ep_.local_address());
    const auto calls = rec_.calls();
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(calls[0].message.args[0].i(), 1);
    EXPECT_EQ(calls[1].message.args[0].i(), 2);
}

TEST_F(OscEndpointBadInput, HandlerErrorsAndExceptionsBecomeErrorReplies) {
    send(Message("/test/refuse"));
    expect_error(peer_, "/test/refuse", "not now");
    send(Message("/test/throw"));
    expect_error(peer_, "/test/throw", "internal error");
    sync(peer_, ep_.local_address());
}

TEST(OscEndpoint, RegistrationChecksItsArguments) {
    Endpoint ep(loopback());
    const Endpoint::Handler h = [](const Message&, Context&) {};
    EXPECT_THROW(ep.add("no/slash", "i", h), std::invalid_argument);
    EXPECT_THROW(ep.add("/has space", "i", h), std::invalid_argument);
    EXPECT_THROW(ep.add("/wild/*", "i", h), std::invalid_argument);
    EXPECT_THROW(ep.add("/ping", "i", h), std::invalid_argument);
    EXPECT_THROW(ep.add("/x", "q", h), std::invalid_argument);
    EXPECT_THROW(ep.add("/x", "[i", h), std::invalid_argument);
    EXPECT_THROW(ep.add("/x", "s", {range(0, 1)}, h), std::invalid_argument);
    EXPECT_THROW(ep.add("/x", "i", {max_length(1)}, h), std::invalid_argument);
    EXPECT_THROW(ep.add("/x", "i", {range(0, 1), range(0, 1)}, h), std::invalid_argument);
    EXPECT_THROW(ep.add("/x", "i", nullptr), std::invalid_argument);
    ep.add("/x", "i", h);
    EXPECT_THROW(ep.add("/x", "i", h), std::invalid_argument);
    ep.add("/x", "i[ff]", h);
}

// ---- timetags --------------------------------------------------------------------------

constexpr std::uint64_t kBase = 3900000000ULL << 32; // "now" of the injected clock
constexpr std::uint64_t kSecond = 1ULL << 32;

std::optional<std::int64_t> map_to_frame(std::uint64_t timetag) {
    // Any exact function will do: 48 kHz frames since kBase, rounded up.
    // Only called for future timetags, so timetag > kBase here.
    const std::uint64_t since = timetag - kBase;
    const std::uint64_t whole = (since >> 32) * 48000;
    const std::uint64_t part = ((since & (kSecond - 1)) * 48000 + (kSecond - 1)) >> 32;
    return static_cast<std::int64_t>(whole + part);
}

class OscEndpointTimetags : public ::testing::Test {
protected:
    explicit OscEndpointTimetags(std::size_t capacity = 8) : ep_(config(capacity, now_)) {
        ep_.add("/test/set", "i", rec_.handler());
        ep_.start();
    }
    static Endpoint::Config config(std::size_t capacity, std::atomic<std::uint64_t>& now) {
        Endpoint::Config c = loopback();
        c.clock = [&now] { return now.load(); };
        c.mapper = map_to_frame;
        c.lookahead = 50ms;
        c.scheduler_capacity = capacity;
        return c;
    }
    void send_at(std::uint64_t timetag, std::int32_t value) {
        const std::vector<Bytes> one = {encode(Message("/test/set", {Arg::int32(value)}))};
        peer_.send(encode_bundle(timetag, one), ep_.local_address());
    }
    void advance_to(std::uint64_t t) {
        now_.store(t);
        ep_.wake();
    }

    std::atomic<std::uint64_t> now_{kBase};
    Endpoint ep_;
    Recorder rec_;
    Peer peer_;
};

TEST_F(OscEndpointTimetags, ImmediateAndPastBundlesApplyAtTheNextCycle) {
    peer_.send(Message("/test/set", {Arg::int32(1)}), ep_.local_address()); // bare message
    send_at(kImmediate, 2);
    send_at(kBase - kSecond, 3);
    send_at(kBase, 4); // due exactly now
    sync(peer_, ep_.local_address());
    const auto calls = rec_.calls();
    ASSERT_EQ(calls.size(), 4u);
    for (const Call& c : calls) {
        EXPECT_FALSE(c.frame) << to_string(c.message);
    }
    EXPECT_EQ(calls[0].timetag, kImmediate);
    EXPECT_EQ(calls[2].timetag, kBase - kSecond);
}

TEST_F(OscEndpointTimetags, BundlesWithinLookaheadGetTheirFrameAtOnce) {
    const std::uint64_t t = kBase + kSecond / 50; // 20 ms ahead, lookahead is 50 ms
    send_at(t, 5);
    sync(peer_, ep_.local_address());
    const auto calls = rec_.calls();
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].frame, map_to_frame(t));
    EXPECT_EQ(calls[0].frame, 960); // 20 ms at 48 kHz
    EXPECT_EQ(ep_.stats().scheduled, 0u);
}

TEST_F(OscEndpointTimetags, FutureBundlesWaitAndReleaseWithTheExactFrame) {
    const std::uint64_t t = kBase + 10 * kSecond + 12345; // not a whole frame
    send_at(t, 6);
    sync(peer_, ep_.local_address());
    EXPECT_EQ(rec_.count(), 0u);
    EXPECT_EQ(ep_.stats().scheduled, 1u);

    advance_to(t - ntp_from_ns(60'000'000)); // 60 ms before: still outside the lookahead
    sync(peer_, ep_.local_address());
    EXPECT_EQ(rec_.count(), 0u);

    advance_to(t - ntp_from_ns(40'000'000)); // 40 ms before: released now
    ASSERT_TRUE(rec_.wait_for(1));
    const auto calls = rec_.calls();
    EXPECT_EQ(calls[0].timetag, t);
    EXPECT_EQ(calls[0].frame, map_to_frame(t));
    EXPECT_EQ(calls[0].frame, 480001); // 10 s + a sliver at 48 kHz, rounded up
    EXPECT_EQ(ep_.stats().late, 0u);
}

TEST_F(OscEndpointTimetags, ReleasesInTimetagOrder) {
    send_at(kBase + 20 * kSecond, 2);
    send_at(kBase + 15 * kSecond, 1);
    send_at(kBase + 20 * kSecond, 3); // same time as 2: after it
    sync(peer_, ep_.local_address());
    advance_to(kBase + 20 * kSecond - 1);
    ASSERT_TRUE(rec_.wait_for(3));
    const auto calls = rec_.calls();
    EXPECT_EQ(calls[0].message.args[0].i(), 1);
    EXPECT_EQ(calls[1].message.args[0].i(), 2);
    EXPECT_EQ(calls[2].message.args[0].i(), 3);
    EXPECT_FALSE(calls[0].frame); // already due: next cycle
    EXPECT_EQ(calls[1].frame, 20 * 48000);
    EXPECT_EQ(calls[2].frame, 20 * 48000);
}

TEST_F(OscEndpointTimetags, ReleasedLateMeansNextCycle) {
    send_at(kBase + 10 * kSecond, 1);
    sync(peer_, ep_.local_address());
    advance_to(kBase + 11 * kSecond); // the endpoint missed it (e.g. suspended)
    ASSERT_TRUE(rec_.wait_for(1));
    EXPECT_FALSE(rec_.calls()[0].frame);
    EXPECT_EQ(ep_.stats().late, 1u);
}

TEST_F(OscEndpointTimetags, LibloBundlesWork) {
    const std::uint64_t t = kBase + 3 * kSecond;
    lo_bundle b =
        lo_bundle_new({static_cast<std::uint32_t>(t >> 32), static_cast<std::uint32_t>(t)});
    lo_message m = lo_message_new();
    lo_message_add_int32(m, 9);
    lo_bundle_add_message(b, "/test/set", m);
    std::size_t size = 0;
    void* raw = lo_bundle_serialise(b, nullptr, &size);
    peer_.send(Bytes(static_cast<std::uint8_t*>(raw), static_cast<std::uint8_t*>(raw) + size),
               ep_.local_address());
    std::free(raw);
    lo_bundle_free_recursive(b);
    sync(peer_, ep_.local_address());
    advance_to(t);
    ASSERT_TRUE(rec_.wait_for(1));
    EXPECT_EQ(rec_.calls()[0].message.args[0].i(), 9);
    EXPECT_FALSE(rec_.calls()[0].frame); // released exactly when due: next cycle
}

class OscEndpointSmallScheduler : public OscEndpointTimetags {
protected:
    OscEndpointSmallScheduler() : OscEndpointTimetags(2) {}
};

TEST_F(OscEndpointSmallScheduler, AFullSchedulerRefusesWholeBundles) {
    send_at(kBase + 5 * kSecond, 1);
    sync(peer_, ep_.local_address());
    // Two future messages, one free slot: refused whole, including its immediate part.
    const std::vector<Bytes> later = {encode(Message("/test/set", {Arg::int32(2)})),
                                      encode(Message("/test/set", {Arg::int32(3)}))};
    const std::vector<Bytes> mixed = {encode(Message("/test/set", {Arg::int32(4)})),
                                      encode_bundle(kBase + 6 * kSecond, later)};
    peer_.send(encode_bundle(kImmediate, mixed), ep_.local_address());
    expect_error(peer_, "/test/set", "scheduler full");
    EXPECT_EQ(rec_.count(), 0u);
    EXPECT_EQ(ep_.stats().scheduler_full, 1u);
    send_at(kBase + 7 * kSecond, 5); // one still fits
    sync(peer_, ep_.local_address());
    send_at(kBase + 8 * kSecond, 6);
    expect_error(peer_, "/test/set", "scheduler full");
    advance_to(kBase + 9 * kSecond);
    ASSERT_TRUE(rec_.wait_for(2));
    EXPECT_EQ(rec_.calls()[0].message.args[0].i(), 1);
    EXPECT_EQ(rec_.calls()[1].message.args[0].i(), 5);
}

// ---- UNIX socket -----------------------------------------------------------------------

class TempDir {
public:
    TempDir() {
        char name[] = "/tmp/lockstep-osc-XXXXXX";
        path_ = ::mkdtemp(name) != nullptr ? name : "";
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

TEST(OscEndpointUnix, PingPongAndCleanUp) {
    TempDir dir;
    ASSERT_FALSE(dir.path().empty());
    const std::string socket_path = dir.path() + "/ep.sock";
    {
        Endpoint::Config config;
        config.listen = "osc.unix://" + socket_path;
        Endpoint ep(config);
        EXPECT_EQ(ep.url(), "osc.unix://" + socket_path);
        ep.start();
        Peer peer(dir.path() + "/peer.sock");
        ASSERT_TRUE(peer.bound());
        sync(peer, ep.local_address());
        // Replies across families: from the UNIX endpoint to a UDP peer.
        Peer udp;
        peer.send(Message("/ping", {Arg::string(udp.address().url())}), ep.local_address());
        const auto reply = udp.receive();
        ASSERT_TRUE(reply);
        EXPECT_EQ(reply->path, "/pong");
        // A second endpoint must not steal a live socket path.
        EXPECT_THROW(Endpoint{config}, std::system_error);
    }
    struct stat st {};
    EXPECT_NE(::stat(socket_path.c_str(), &st), 0) << "socket file left behind";
}

TEST(OscEndpointUnix, ReplacesAStaleSocketFile) {
    TempDir dir;
    const std::string socket_path = dir.path() + "/stale.sock";
    {
        Peer dead(socket_path); // binds the path, then closes: the file stays
        ASSERT_TRUE(dead.bound());
    }
    Endpoint::Config config;
    config.listen = "osc.unix://" + socket_path;
    Endpoint ep(config);
    ep.start();
    Peer peer(dir.path() + "/peer.sock");
    sync(peer, ep.local_address());
}

} // namespace
} // namespace lockstep::osc
