// The device core: handshake, ping/pong times, triggers (in order, out of order, late, queue
// full), garbage between frames with rate-limited bad_frame errors, host loss -> standalone
// playing in phase, stats.
#include "core/device.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace {

using lockstep::fw::Device;
using lockstep::fw::DeviceTime;
using lockstep::fw::outputs;
using lockstep::fw::TriggerScheduler;
namespace proto = lockstep::fw::proto;

constexpr DeviceTime ms = 1'000'000;
constexpr std::uint32_t boot = 0xB007'1D01;

// The host side of the link: encodes requests, decodes everything the device wrote.
struct Link {
    std::vector<proto::Frame> received;
    proto::Decoder decoder;
    std::uint16_t seq = 100;
    DeviceTime clock = 0; // the device clock read for pong.sent / stats.uptime

    static void output(void* context, const std::uint8_t* data, std::size_t size) {
        auto* self = static_cast<Link*>(context);
        for (std::size_t i = 0; i < size; ++i) {
            if (auto f = self->decoder.push(data[i])) {
                self->received.push_back(*f);
            }
        }
    }
    static DeviceTime read_clock(void* context) { return static_cast<Link*>(context)->clock; }

    std::unique_ptr<Device> make(std::uint32_t boot_id = boot) {
        Device::Config c;
        c.boot_id = boot_id;
        c.output = &Link::output;
        c.output_context = this;
        c.clock = &Link::read_clock;
        c.clock_context = this;
        return std::make_unique<Device>(c);
    }

    static std::vector<std::uint8_t> wire(const proto::Message& m, std::uint16_t s) {
        std::vector<std::uint8_t> out(proto::max_wire_frame);
        out.resize(proto::encode(m, s, out.data(), out.size()));
        EXPECT_FALSE(out.empty());
        return out;
    }
    // Sends one message; returns its seq.
    std::uint16_t send(Device& d, const proto::Message& m, DeviceTime now) {
        const std::uint16_t s = seq++;
        const auto bytes = wire(m, s);
        d.on_bytes(bytes.data(), bytes.size(), now);
        return s;
    }
    proto::Frame last() const {
        EXPECT_FALSE(received.empty());
        return received.empty() ? proto::Frame{} : received.back();
    }
    void hello(Device& d, DeviceTime now) {
        send(d, proto::Hello{proto::version, 42}, now);
        ASSERT_EQ(last().message.type, proto::Type::hello_reply);
    }
    proto::Ack ack_of(Device& d, const proto::Message& m, DeviceTime now) {
        const std::uint16_t s = send(d, m, now);
        const proto::Frame f = last();
        EXPECT_EQ(f.message.type, proto::Type::ack);
        EXPECT_EQ(f.message.ack.seq, s);
        return f.message.ack;
    }
    proto::Stats stats(Device& d, DeviceTime now) {
        send(d, proto::StatsRequest{}, now);
        EXPECT_EQ(last().message.type, proto::Type::stats);
        return last().message.stats;
    }
};

// Runs the scheduler like the ISR: advance at each edge; returns (output, time) of rises.
std::vector<std::pair<unsigned, DeviceTime>> run_isr(Device& d, DeviceTime until) {
    std::vector<std::pair<unsigned, DeviceTime>> rises;
    struct Ctx {
        std::vector<std::pair<unsigned, DeviceTime>>* rises;
    } ctx{&rises};
    d.scheduler().set_edge_hook(
        [](void* c, unsigned output, bool level, DeviceTime due) {
            if (level) {
                static_cast<Ctx*>(c)->rises->emplace_back(output, due);
            }
        },
        &ctx);
    for (;;) {
        const DeviceTime e = d.scheduler().next_edge();
        if (e == TriggerScheduler::never || e > until) {
            break;
        }
        d.scheduler().advance(e);
    }
    d.scheduler().set_edge_hook(nullptr, nullptr);
    return rises;
}

TEST(Device, HandshakeRepliesWithBootIdNonceAndShape) {
    Link link;
    auto dev = link.make();
    EXPECT_FALSE(dev->ready());
    const std::uint16_t s = link.send(*dev, proto::Hello{proto::version, 0xCAFE}, 5 * ms);
    const proto::Frame f = link.last();
    ASSERT_EQ(f.message.type, proto::Type::hello_reply);
    EXPECT_EQ(f.seq, 0U); // the device starts its seq at 0 each boot
    const proto::HelloReply& r = f.message.hello_reply;
    EXPECT_EQ(r.boot_id, boot);
    EXPECT_EQ(r.version, proto::version);
    EXPECT_EQ(r.nonce, 0xCAFEU);
    EXPECT_EQ(r.outputs, outputs);
    EXPECT_EQ(r.max_queue, TriggerScheduler::Capacity);
    EXPECT_TRUE(dev->ready());
    EXPECT_TRUE(dev->host_connected());
    (void)s;
}

TEST(Device, CommandsBeforeHelloAreNotReady) {
    Link link;
    auto dev = link.make();
    const std::uint16_t s = link.send(*dev, proto::Trigger{100 * ms, 1, 0}, ms);
    ASSERT_EQ(link.last().message.type, proto::Type::error);
    EXPECT_EQ(link.last().message.error.code, proto::ErrorCode::not_ready);
    EXPECT_EQ(link.last().message.error.seq, s);
    EXPECT_EQ(dev->scheduler().queued(), 0U);
    // Pings are answered before a hello.
    link.send(*dev, proto::Ping{7}, 2 * ms);
    EXPECT_EQ(link.last().message.type, proto::Type::pong);
}

TEST(Device, OtherVersionHelloIsRefusedAndCommandsStayRefused) {
    Link link;
    auto dev = link.make();
    const std::uint16_t s = link.send(*dev, proto::Hello{2, 9}, ms);
    const proto::Frame f = link.last();
    ASSERT_EQ(f.message.type, proto::Type::error);
    EXPECT_EQ(f.message.error.code, proto::ErrorCode::unsupported_version);
    EXPECT_EQ(f.message.error.seq, s);
    EXPECT_EQ(f.version, proto::version); // the error speaks the device's version
    EXPECT_FALSE(dev->ready());
    link.send(*dev, proto::Step{0, 1, 1}, 2 * ms);
    EXPECT_EQ(link.last().message.error.code, proto::ErrorCode::not_ready);
    // A hello of our version then works.
    link.hello(*dev, 3 * ms);
    EXPECT_TRUE(dev->ready());
}

TEST(Device, DeviceToHostTypesAreWrongDirection) {
    Link link;
    auto dev = link.make();
    const std::uint16_t s = link.send(*dev, proto::Ack{1, 2, proto::AckStatus::ok}, ms);
    ASSERT_EQ(link.last().message.type, proto::Type::error);
    EXPECT_EQ(link.last().message.error.code, proto::ErrorCode::wrong_direction);
    EXPECT_EQ(link.last().message.error.seq, s);
}

TEST(Device, PongCarriesReceiveAndSendTimes) {
    Link link;
    auto dev = link.make();
    link.clock = 1'000'250; // the clock read just before writing: later than the arrival
    const std::uint16_t s = link.send(*dev, proto::Ping{0x1122334455667788ULL}, 1'000'000);
    const proto::Frame f = link.last();
    ASSERT_EQ(f.message.type, proto::Type::pong);
    const proto::Pong& p = f.message.pong;
    EXPECT_EQ(p.boot_id, boot);
    EXPECT_EQ(p.ping_seq, s);
    EXPECT_EQ(p.host_time, 0x1122334455667788ULL);
    EXPECT_EQ(p.received, 1'000'000U);
    EXPECT_EQ(p.sent, 1'000'250U);
    // A clock behind the arrival time (cannot happen, but) never gives sent < received.
    link.clock = 0;
    link.send(*dev, proto::Ping{1}, 2'000'000);
    EXPECT_EQ(link.last().message.pong.sent, 2'000'000U);
}

TEST(Device, TriggersInAndOutOfOrderFireInTimeOrder) {
    Link link;
    auto dev = link.make();
    link.hello(*dev, ms);
    EXPECT_EQ(link.ack_of(*dev, proto::Trigger{50 * ms, 0x1, 0}, 2 * ms).status,
              proto::AckStatus::ok);
    EXPECT_EQ(link.ack_of(*dev, proto::Trigger{30 * ms, outputs > 1 ? 0x2 : 0x1, 0}, 3 * ms).status,
              proto::AckStatus::ok);
    EXPECT_EQ(link.ack_of(*dev, proto::Trigger{70 * ms, 0x1, 5'000}, 4 * ms).status,
              proto::AckStatus::ok);
    EXPECT_EQ(dev->scheduler().queued(), 3U);
    const auto rises = run_isr(*dev, 200 * ms);
    ASSERT_EQ(rises.size(), 3U);
    EXPECT_EQ(rises[0].second, 30 * ms);
    EXPECT_EQ(rises[1].second, 50 * ms);
    EXPECT_EQ(rises[1].first, 0U);
    EXPECT_EQ(rises[2].second, 70 * ms);
    const proto::Stats st = link.stats(*dev, 200 * ms);
    EXPECT_EQ(st.triggers_fired, 3U);
    EXPECT_EQ(st.late_triggers, 0U);
    EXPECT_EQ(st.queue_depth, 0U);
    EXPECT_EQ(st.queue_high_water, 3U);
}

TEST(Device, LateTriggerIsAckedLateCountedAndNotFired) {
    Link link;
    auto dev = link.make();
    link.hello(*dev, ms);
    EXPECT_EQ(link.ack_of(*dev, proto::Trigger{10 * ms, 1, 0}, 10 * ms).status,
              proto::AckStatus::late); // at == arrival: already passed
    EXPECT_EQ(link.ack_of(*dev, proto::Trigger{5 * ms, 1, 0}, 10 * ms).status,
              proto::AckStatus::late);
    EXPECT_EQ(dev->scheduler().queued(), 0U);
    // Queued in time but the ISR reaches it 150 us late (> 100 us): dropped, late.
    EXPECT_EQ(link.ack_of(*dev, proto::Trigger{20 * ms, 1, 0}, 11 * ms).status,
              proto::AckStatus::ok);
    dev->scheduler().advance(20 * ms + 150'000);
    const proto::Stats st = link.stats(*dev, 30 * ms);
    EXPECT_EQ(st.late_triggers, 3U);
    EXPECT_EQ(st.triggers_fired, 0U);
    EXPECT_EQ(dev->counters().late_on_arrival, 2U);
}

TEST(Device, FullQueueIsAckedQueueFull) {
    Link link;
    auto dev = link.make();
    link.hello(*dev, ms);
    for (std::uint32_t i = 0; i < TriggerScheduler::Capacity; ++i) {
        ASSERT_EQ(link.ack_of(*dev, proto::Trigger{(100 + 20 * i) * ms, 1, 0}, 2 * ms).status,
                  proto::AckStatus::ok);
    }
    EXPECT_EQ(link.ack_of(*dev, proto::Trigger{50 * ms, 1, 0}, 2 * ms).status,
              proto::AckStatus::queue_full);
    const proto::Stats st = link.stats(*dev, 3 * ms);
    EXPECT_EQ(st.dropped_triggers, 1U);
    EXPECT_EQ(st.queue_depth, TriggerScheduler::Capacity);
    EXPECT_EQ(st.queue_high_water, TriggerScheduler::Capacity);
}

TEST(Device, GarbageBetweenFramesIsSkippedWithRateLimitedErrors) {
    Link link;
    auto dev = link.make();
    link.hello(*dev, ms);
    std::vector<std::uint8_t> bytes;
    auto append = [&](const std::vector<std::uint8_t>& v) {
        bytes.insert(bytes.end(), v.begin(), v.end());
    };
    const std::vector<std::uint8_t> garbage{0x00, 0x13, 0x37, 0x00, 0xFF, 0x42, 0x00, 0x05};
    append(garbage);
    append(Link::wire(proto::Ping{11}, 500));
    append(garbage);
    append(Link::wire(proto::Ping{12}, 501));
    link.received.clear();
    dev->on_bytes(bytes.data(), bytes.size(), 2 * ms);
    // Both pings answered; one bad_frame error only (rate limit: 100 ms).
    unsigned pongs = 0;
    unsigned errors = 0;
    for (const auto& f : link.received) {
        if (f.message.type == proto::Type::pong) {
            ++pongs;
        } else if (f.message.type == proto::Type::error) {
            EXPECT_EQ(f.message.error.code, proto::ErrorCode::bad_frame);
            EXPECT_EQ(f.message.error.seq, 0U);
            ++errors;
        }
    }
    EXPECT_EQ(pongs, 2U);
    EXPECT_EQ(errors, 1U);
    const auto failed = [&] {
        const auto& c = dev->decoder_counters();
        return c.framing_errors + c.crc_errors + c.bad_length + c.unknown_type;
    };
    EXPECT_GE(failed(), 3U);
    // 50 ms later: still limited; 100 ms after the first: a second error.
    link.received.clear();
    dev->on_bytes(garbage.data(), garbage.size(), 52 * ms);
    EXPECT_TRUE(link.received.empty());
    const std::vector<std::uint8_t> bad{0x00, 0x02, 0x01, 0x00};
    dev->on_bytes(bad.data(), bad.size(), 102 * ms);
    ASSERT_EQ(link.received.size(), 1U);
    EXPECT_EQ(link.received[0].message.error.code, proto::ErrorCode::bad_frame);
    EXPECT_EQ(dev->counters().bad_frame_errors_sent, 2U);
}

TEST(Device, HostLossContinuesStandaloneInPhase) {
    Link link;
    auto dev = link.make();
    link.hello(*dev, ms);
    // 120 BPM: a step is 125 ms. Track 1 fires on every step of pattern 3.
    proto::PatternSnapshot snap{};
    snap.pattern = 3;
    snap.steps = 16;
    snap.tracks = 1;
    snap.masks[0] = 0xFFFF;
    EXPECT_EQ(link.ack_of(*dev, snap, 2 * ms).status, proto::AckStatus::ok);
    const DeviceTime host_at = 1000 * ms;
    EXPECT_EQ(link.ack_of(*dev,
                          proto::Transport{proto::TransportState::play, 120'000, 3, 4, host_at},
                          3 * ms)
                  .status,
              proto::AckStatus::ok);
    EXPECT_EQ(dev->sequencer().model().tempo_bpm100, 12000U);
    // While connected the own clock emits nothing.
    dev->poll(500 * ms);
    EXPECT_EQ(dev->scheduler().queued(), 0U);
    // Pings keep the link alive; the last valid frame is at 900 ms.
    link.send(*dev, proto::Ping{1}, 900 * ms);
    dev->poll(1'800 * ms);
    EXPECT_TRUE(dev->host_connected());
    std::vector<std::pair<unsigned, DeviceTime>> rises;
    DeviceTime lost_at = 0;
    for (DeviceTime t = 1'800 * ms; t < 3'000 * ms; t += ms) {
        dev->poll(t);
        if (!dev->host_connected() && lost_at == 0) {
            lost_at = t;
        }
        for (auto r : run_isr(*dev, t)) {
            rises.push_back(r);
        }
    }
    ASSERT_NE(lost_at, 0U);
    EXPECT_GT(lost_at, 1'900 * ms);
    EXPECT_LE(lost_at, 1'901 * ms);
    EXPECT_EQ(dev->counters().host_losses, 1U);
    ASSERT_GE(rises.size(), 5U);
    // In phase with the host's grid: every rise is host_at + k * 125 ms, k > lost.
    for (const auto& r : rises) {
        EXPECT_EQ(r.first, 0U);
        EXPECT_EQ((r.second - host_at) % (125 * ms), 0U) << r.second;
        EXPECT_GT(r.second, lost_at);
    }
    EXPECT_EQ(rises[0].second, host_at + 8 * 125 * ms); // 2000 ms: first grid step after loss
    EXPECT_EQ(dev->sequencer().position().pattern, 3U);
    // A valid frame reconnects: the own clock stops emitting.
    link.send(*dev, proto::Ping{2}, 3'000 * ms);
    EXPECT_TRUE(dev->host_connected());
}

TEST(Device, StepFollowsTheHostAtItsArrival) {
    Link link;
    auto dev = link.make();
    link.hello(*dev, ms);
    EXPECT_EQ(link.ack_of(*dev, proto::Step{5, 7, 0x3}, 10 * ms).status, proto::AckStatus::ok);
    const auto pos = dev->sequencer().position();
    EXPECT_TRUE(pos.host);
    EXPECT_EQ(pos.pattern, 5U);
    EXPECT_EQ(pos.step, 7U);
}

TEST(Device, StatsReportDecoderAndSchedulerCounters) {
    Link link;
    auto dev = link.make();
    link.hello(*dev, ms);
    link.ack_of(*dev, proto::Trigger{20 * ms, 1, 0}, 2 * ms);
    link.clock = 7 * ms;
    const proto::Stats st = link.stats(*dev, 3 * ms);
    EXPECT_EQ(st.boot_id, boot);
    EXPECT_EQ(st.uptime, 7 * ms);
    EXPECT_EQ(st.rx_frames, 3U); // hello, trigger, stats_request
    EXPECT_EQ(st.queue_depth, 1U);
    EXPECT_EQ(st.crc_errors, 0U);
}

TEST(Device, HostStoppedThenLostStaysStopped) {
    Link link;
    auto dev = link.make();
    link.hello(*dev, ms);
    link.ack_of(*dev, proto::Transport{proto::TransportState::play, 130'000, 0, 0, 100 * ms},
                2 * ms);
    link.ack_of(*dev, proto::Transport{proto::TransportState::stop, 130'000, 0, 3, 0}, 3 * ms);
    EXPECT_EQ(dev->sequencer().model().tempo_bpm100, 13000U);
    for (DeviceTime t = 3 * ms; t < 3'000 * ms; t += ms) {
        dev->poll(t);
    }
    EXPECT_FALSE(dev->host_connected());
    EXPECT_FALSE(dev->sequencer().playing());
    EXPECT_EQ(dev->scheduler().queued(), 0U);
}

TEST(Device, PatternSnapshotIsMirroredIntoThePool) {
    Link link;
    auto dev = link.make();
    link.hello(*dev, ms);
    proto::PatternSnapshot snap{};
    snap.pattern = 9;
    snap.steps = 16;
    snap.tracks = 1;
    snap.masks[0] = 0x8001;
    link.ack_of(*dev, snap, 2 * ms);
    ASSERT_TRUE(dev->has_host_pattern());
    EXPECT_EQ(dev->host_pattern().masks[0], 0x8001U);
    const auto& p = dev->sequencer().model().patterns[9];
    EXPECT_EQ(p.on[0], 0x8001U);
    for (unsigned t = 1; t < outputs; ++t) {
        EXPECT_EQ(p.on[t], 0U); // tracks the snapshot does not carry are off
    }
}

TEST(Device, MaskBitsBeyondTheOutputsAreIgnored) {
    Link link;
    auto dev = link.make();
    link.hello(*dev, ms);
    const auto beyond = static_cast<std::uint16_t>(outputs < 16 ? 1U << outputs : 0U);
    EXPECT_EQ(link.ack_of(*dev, proto::Trigger{20 * ms, static_cast<std::uint16_t>(beyond | 1U), 0},
                          2 * ms)
                  .status,
              proto::AckStatus::ok);
    const auto rises = run_isr(*dev, 100 * ms);
    ASSERT_EQ(rises.size(), 1U);
    EXPECT_EQ(rises[0].first, 0U);
}

} // namespace
