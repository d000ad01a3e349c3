// The bridge <-> box codec (firmware/core: crc16, cobs, protocol) against
// docs/bridge-protocol.md: check values, COBS vectors, round trips of every message at its
// boundary values, and a decoder that never accepts a damaged frame.
#include "core/cobs.hpp"
#include "core/crc16.hpp"
#include "core/protocol.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace lockstep::fw;
using namespace lockstep::fw::proto;
using Bytes = std::vector<std::uint8_t>;

Bytes cobs(const Bytes& in) {
    Bytes out(cobs_max_encoded(in.size()));
    const std::size_t n = cobs_encode(in.data(), in.size(), out.data(), out.size());
    EXPECT_NE(n, 0u);
    out.resize(n);
    return out;
}

Bytes uncobs(const Bytes& in, bool& ok) {
    Bytes out(in.size() + 1);
    std::size_t n = 0;
    ok = cobs_decode(in.data(), in.size(), out.data(), out.size(), n);
    out.resize(ok ? n : 0);
    return out;
}

Bytes wire(const Message& m, std::uint16_t seq) {
    Bytes out(max_wire_frame);
    const std::size_t n = encode(m, seq, out.data(), out.size());
    EXPECT_NE(n, 0u);
    out.resize(n);
    return out;
}

// A wire frame around arbitrary header + payload bytes (for frames the encoder won't make).
Bytes wire_raw(Bytes raw) {
    const std::uint16_t crc = crc16(raw.data(), raw.size());
    raw.push_back(static_cast<std::uint8_t>(crc));
    raw.push_back(static_cast<std::uint8_t>(crc >> 8));
    Bytes out{0};
    const Bytes body = cobs(raw);
    out.insert(out.end(), body.begin(), body.end());
    out.push_back(0);
    return out;
}

Bytes header(std::uint8_t ver, Type type, std::uint16_t seq = 7) {
    return {ver, static_cast<std::uint8_t>(type), static_cast<std::uint8_t>(seq),
            static_cast<std::uint8_t>(seq >> 8)};
}

void put_le(Bytes& b, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) {
        b.push_back(i < 8 ? static_cast<std::uint8_t>(v >> (8 * i)) : 0); // wider: zeros
    }
}

std::vector<Frame> feed(Decoder& d, const Bytes& bytes) {
    std::vector<Frame> frames;
    for (const std::uint8_t b : bytes) {
        if (auto f = d.push(b)) {
            frames.push_back(*f);
        }
    }
    return frames;
}

std::uint64_t errors(const DecoderCounters& c) {
    return std::uint64_t{c.crc_errors} + c.framing_errors + c.oversize + c.unknown_type +
           c.bad_length + c.bad_field + c.bad_version;
}

constexpr std::uint64_t u64max = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint32_t u32max = std::numeric_limits<std::uint32_t>::max();

// Every message type at its smallest and largest field values (and a few in between).
std::vector<Message> samples() {
    std::vector<Message> v;
    v.push_back(Hello{version, 0});
    v.push_back(Hello{version, u32max});
    v.push_back(HelloReply{0, version, 0, 1, 0, 0, 0, 1});
    v.push_back(HelloReply{u32max, version, u32max, 16, 255, 255, 255, 0xFFFF});
    v.push_back(Ping{0});
    v.push_back(Ping{u64max});
    v.push_back(Pong{0, 0, 0, 0, 0});
    v.push_back(Pong{u32max, 0xFFFF, u64max, u64max - 1, u64max});
    v.push_back(Trigger{0, 1, 0});
    v.push_back(Trigger{u64max, 0xFFFF, max_pulse_width_us});
    v.push_back(Trigger{123'456'789'012, 0x0005, 15'000});
    v.push_back(Step{0, 0, 0});
    v.push_back(Step{63, 63, 0xFFFF});
    PatternSnapshot small{};
    small.pattern = 0;
    small.steps = 1;
    small.tracks = 1;
    small.masks[0] = 1;
    v.push_back(small);
    PatternSnapshot full{};
    full.pattern = 63;
    full.steps = 64;
    full.tracks = 16;
    for (unsigned t = 0; t < 16; ++t) {
        full.masks[t] = u64max - t;
    }
    v.push_back(full);
    PatternSnapshot sixteen{};
    sixteen.pattern = 5;
    sixteen.steps = 16;
    sixteen.tracks = 4;
    sixteen.masks[0] = 0x1111;
    sixteen.masks[1] = 0x0000;
    sixteen.masks[2] = 0xFFFF;
    sixteen.masks[3] = 0x8001;
    v.push_back(sixteen);
    v.push_back(Transport{TransportState::stop, min_tempo_mbpm, 0, 0, 0});
    v.push_back(Transport{TransportState::play, 137'300, 12, 3, 5'000'000'000});
    v.push_back(Transport{TransportState::resume, max_tempo_mbpm, 63, 63, u64max});
    v.push_back(StatsRequest{});
    v.push_back(Ack{0, 0, AckStatus::ok});
    v.push_back(Ack{u32max, 0xFFFF, AckStatus::late});
    v.push_back(Ack{42, 17, AckStatus::queue_full});
    v.push_back(Error{0, ErrorCode::unsupported_version, 0});
    v.push_back(Error{u32max, ErrorCode::not_ready, 0xFFFF});
    v.push_back(Error{9, ErrorCode::bad_frame, 1});
    v.push_back(Error{9, ErrorCode::wrong_direction, 2});
    Stats s{};
    v.push_back(s);
    s = Stats{u32max, u64max, u32max, u32max, u32max, u32max, u32max, u32max,
              u32max, u32max, u32max, u32max, u32max, 0xFFFF, 0xFFFF};
    v.push_back(s);
    s = Stats{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    v.push_back(s);
    return v;
}

TEST(Crc16, CheckValue) {
    const std::string check = "123456789";
    const auto* p = reinterpret_cast<const std::uint8_t*>(check.data());
    EXPECT_EQ(crc16(p, check.size()), 0x29B1);
    EXPECT_EQ(crc16(p, 0), 0xFFFF);
    // Split anywhere, the running CRC is the same.
    for (std::size_t k = 0; k <= check.size(); ++k) {
        EXPECT_EQ(crc16_update(crc16(p, k), p + k, check.size() - k), 0x29B1) << k;
    }
}

TEST(Cobs, KnownVectors) {
    const std::vector<std::pair<Bytes, Bytes>> vectors = {
        {{}, {0x01}},
        {{0x00}, {0x01, 0x01}},
        {{0x00, 0x00}, {0x01, 0x01, 0x01}},
        {{0x00, 0x11, 0x00}, {0x01, 0x02, 0x11, 0x01}},
        {{0x11, 0x22, 0x00, 0x33}, {0x03, 0x11, 0x22, 0x02, 0x33}},
        {{0x11, 0x22, 0x33, 0x44}, {0x05, 0x11, 0x22, 0x33, 0x44}},
        {{0x11, 0x00, 0x00, 0x00}, {0x02, 0x11, 0x01, 0x01, 0x01}},
    };
    for (const auto& [plain, encoded] : vectors) {
        EXPECT_EQ(cobs(plain), encoded);
        bool ok = false;
        EXPECT_EQ(uncobs(encoded, ok), plain);
        EXPECT_TRUE(ok);
    }
}

// Runs of 253, 254 and 255 non-zero bytes: the 254-byte block (code 0xFF) has no implied
// zero, and a full block at the end needs no empty block after it.
TEST(Cobs, LongRuns) {
    auto run = [](std::size_t n, std::uint8_t first) {
        Bytes b(n);
        for (std::size_t i = 0; i < n; ++i) {
            b[i] = static_cast<std::uint8_t>(1 + (first - 1 + i) % 255); // 1..255, no zero
        }
        return b;
    };
    {
        const Bytes in = run(253, 1);
        Bytes expect{0xFE};
        expect.insert(expect.end(), in.begin(), in.end());
        EXPECT_EQ(cobs(in), expect);
    }
    {
        const Bytes in = run(254, 1); // 01..FE
        Bytes expect{0xFF};
        expect.insert(expect.end(), in.begin(), in.end());
        EXPECT_EQ(cobs(in), expect);
    }
    {
        Bytes in = run(254, 1);
        in.push_back(0xFF); // 01..FF
        Bytes expect{0xFF};
        expect.insert(expect.end(), in.begin(), in.end() - 1);
        expect.push_back(0x02);
        expect.push_back(0xFF);
        EXPECT_EQ(cobs(in), expect);
    }
    {
        Bytes in{0x00};
        const Bytes r = run(254, 1);
        in.insert(in.end(), r.begin(), r.end()); // 00 01..FE
        Bytes expect{0x01, 0xFF};
        expect.insert(expect.end(), r.begin(), r.end());
        EXPECT_EQ(cobs(in), expect);
    }
    {
        Bytes in = run(254, 1);
        in.push_back(0x00); // 01..FE 00
        Bytes expect{0xFF};
        expect.insert(expect.end(), in.begin(), in.end() - 1);
        expect.push_back(0x01);
        expect.push_back(0x01);
        EXPECT_EQ(cobs(in), expect);
    }
    // Non-zero runs of any length encode to exactly cobs_max_encoded bytes.
    for (std::size_t n = 0; n < 1100; ++n) {
        const Bytes in = run(n, 7);
        const Bytes out = cobs(in);
        EXPECT_EQ(out.size(), cobs_max_encoded(n)) << n;
        bool ok = false;
        EXPECT_EQ(uncobs(out, ok), in) << n;
        EXPECT_TRUE(ok);
    }
}

TEST(Cobs, AllZerosAndRandomRoundTrip) {
    for (std::size_t n = 0; n < 600; n += 37) {
        const Bytes zeros(n, 0);
        const Bytes out = cobs(zeros);
        EXPECT_EQ(out, Bytes(n + 1, 0x01));
    }
    std::mt19937 rng(1);
    for (int round = 0; round < 2000; ++round) {
        const std::size_t n = rng() % 700;
        const unsigned zero_odds = 1 + rng() % 300;
        Bytes in(n);
        for (auto& b : in) {
            b = rng() % zero_odds == 0 ? 0 : static_cast<std::uint8_t>(1 + rng() % 255);
        }
        const Bytes out = cobs(in);
        ASSERT_LE(out.size(), cobs_max_encoded(n));
        for (const auto b : out) {
            ASSERT_NE(b, 0);
        }
        bool ok = false;
        ASSERT_EQ(uncobs(out, ok), in);
        ASSERT_TRUE(ok);
        // Exact capacities succeed, one byte less fails, for both directions.
        Bytes buf(out.size());
        EXPECT_EQ(cobs_encode(in.data(), n, buf.data(), out.size()), out.size());
        EXPECT_EQ(cobs_encode(in.data(), n, buf.data(), out.size() - 1), 0u);
        Bytes plain(n + 1);
        std::size_t got = 0;
        EXPECT_TRUE(cobs_decode(out.data(), out.size(), plain.data(), n, got));
        EXPECT_EQ(got, n);
        if (n > 0) {
            EXPECT_FALSE(cobs_decode(out.data(), out.size(), plain.data(), n - 1, got));
        }
    }
}

TEST(Cobs, RejectsInvalid) {
    Bytes out(16);
    std::size_t n = 0;
    const std::vector<Bytes> invalid = {
        {},                       // nothing
        {0x00},                   // a delimiter inside
        {0x03, 0x11, 0x00},       // a zero inside a run
        {0x05, 0x11, 0x22},       // a run longer than the input
        {0x02, 0x11, 0x03, 0x22}, // the last run is cut short
    };
    for (const auto& in : invalid) {
        EXPECT_FALSE(cobs_decode(in.data(), in.size(), out.data(), out.size(), n));
    }
    EXPECT_EQ(cobs_encode(nullptr, 0, out.data(), 0), 0u);
}

TEST(Protocol, RoundTripsEveryMessage) {
    std::set<Type> types;
    for (const Message& m : samples()) {
        types.insert(m.type);
        for (const std::uint16_t seq : {0, 1, 0x7FFF, 0xFFFF}) {
            const Bytes w = wire(m, seq);
            ASSERT_FALSE(w.empty());
            EXPECT_LE(w.size(), max_wire_frame);
            EXPECT_EQ(w.front(), 0);
            EXPECT_EQ(w.back(), 0);
            for (std::size_t i = 1; i + 1 < w.size(); ++i) {
                ASSERT_NE(w[i], 0);
            }
            Decoder d;
            const auto frames = feed(d, w);
            ASSERT_EQ(frames.size(), 1u) << static_cast<int>(m.type);
            EXPECT_EQ(frames[0].seq, seq);
            EXPECT_EQ(frames[0].version, version);
            EXPECT_TRUE(frames[0].message == m) << static_cast<int>(m.type);
            EXPECT_EQ(d.counters().frames_ok, 1u);
            EXPECT_EQ(errors(d.counters()), 0u);
            // Raw frame length = header + payload + CRC.
            bool ok = false;
            const Bytes raw = uncobs(Bytes(w.begin() + 1, w.end() - 1), ok);
            EXPECT_EQ(raw.size(), header_size + payload_size(m) + crc_size);
        }
    }
    EXPECT_EQ(types.size(), 12u); // every Type
}

// Byte-exact layout of one message, as the spec's worked example shows it.
TEST(Protocol, TriggerLayoutIsLittleEndian) {
    const Bytes w = wire(Trigger{0x0102030405060708, 0x0A09, 0x000E0D0C}, 0x1234);
    bool ok = false;
    const Bytes raw = uncobs(Bytes(w.begin() + 1, w.end() - 1), ok);
    ASSERT_TRUE(ok);
    const Bytes expect_body = {0x01, 0x05, 0x34, 0x12, 0x08, 0x07, 0x06, 0x05, 0x04,
                               0x03, 0x02, 0x01, 0x09, 0x0A, 0x0C, 0x0D, 0x0E, 0x00};
    ASSERT_EQ(raw.size(), expect_body.size() + 2);
    EXPECT_EQ(Bytes(raw.begin(), raw.end() - 2), expect_body);
    const std::uint16_t crc = crc16(expect_body.data(), expect_body.size());
    EXPECT_EQ(raw[raw.size() - 2], crc & 0xFF);
    EXPECT_EQ(raw[raw.size() - 1], crc >> 8);
}

// The payload sizes and worked examples of docs/bridge-protocol.md, byte for byte.
TEST(Protocol, MatchesTheSpec) {
    EXPECT_EQ(payload_size(Hello{}), 5u);
    EXPECT_EQ(payload_size(HelloReply{}), 15u);
    EXPECT_EQ(payload_size(Ping{}), 8u);
    EXPECT_EQ(payload_size(Pong{}), 30u);
    EXPECT_EQ(payload_size(Trigger{}), 14u);
    EXPECT_EQ(payload_size(Step{}), 4u);
    PatternSnapshot p{};
    p.tracks = 3;
    EXPECT_EQ(payload_size(p), 3u + 8 * 3);
    EXPECT_EQ(payload_size(Transport{}), 15u);
    EXPECT_EQ(payload_size(StatsRequest{}), 0u);
    EXPECT_EQ(payload_size(Ack{}), 7u);
    EXPECT_EQ(payload_size(Error{}), 7u);
    EXPECT_EQ(payload_size(Stats{}), 60u);
    EXPECT_EQ(max_wire_frame, 140u);
    EXPECT_EQ(wire(Hello{1, 0x12345678}, 0), (Bytes{0x00, 0x03, 0x01, 0x01, 0x01, 0x08, 0x01, 0x78,
                                                    0x56, 0x34, 0x12, 0x29, 0xCE, 0x00}));
    EXPECT_EQ(wire(Trigger{5'000'000'000, 0x0005, 15'000}, 0x0102),
              (Bytes{0x00, 0x05, 0x01, 0x05, 0x02, 0x01, 0x05, 0xF2, 0x05, 0x2A, 0x01, 0x01,
                     0x01, 0x02, 0x05, 0x03, 0x98, 0x3A, 0x01, 0x03, 0x95, 0x9D, 0x00}));
}

TEST(Protocol, EncoderRefusesOutOfRangeFields) {
    std::uint8_t buf[max_wire_frame];
    PatternSnapshot p{};
    p.pattern = 0;
    p.steps = 16;
    p.tracks = 2;
    const std::vector<Message> bad = {
        Hello{0, 1},
        HelloReply{1, version, 0, 0, 0, 0, 0, 1},  // no outputs
        HelloReply{1, version, 0, 17, 0, 0, 0, 1}, // too many outputs
        HelloReply{1, version, 0, 4, 0, 0, 0, 0},  // no queue
        Pong{1, 1, 1, 10, 9},                      // sent before received
        Trigger{1, 0, 0},                          // no output
        Trigger{1, 1, max_pulse_width_us + 1},
        Step{64, 0, 1},
        Step{0, 64, 1},
        Transport{TransportState::play, min_tempo_mbpm - 1, 0, 0, 0},
        Transport{TransportState::play, max_tempo_mbpm + 1, 0, 0, 0},
        Transport{static_cast<TransportState>(3), 120'000, 0, 0, 0},
        Transport{TransportState::play, 120'000, 64, 0, 0},
        Transport{TransportState::play, 120'000, 0, 64, 0},
        Ack{1, 1, static_cast<AckStatus>(3)},
        Error{1, static_cast<ErrorCode>(0), 1},
        Error{1, static_cast<ErrorCode>(5), 1},
        Stats{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 4}, // depth above high water
    };
    for (const Message& m : bad) {
        EXPECT_EQ(encode(m, 1, buf, sizeof buf), 0u) << static_cast<int>(m.type);
    }
    auto pattern_bad = [&](auto change) {
        PatternSnapshot q = p;
        change(q);
        return encode(q, 1, buf, sizeof buf);
    };
    EXPECT_NE(pattern_bad([](PatternSnapshot&) {}), 0u);
    EXPECT_EQ(pattern_bad([](PatternSnapshot& q) { q.pattern = 64; }), 0u);
    EXPECT_EQ(pattern_bad([](PatternSnapshot& q) { q.steps = 0; }), 0u);
    EXPECT_EQ(pattern_bad([](PatternSnapshot& q) { q.steps = 65; }), 0u);
    EXPECT_EQ(pattern_bad([](PatternSnapshot& q) { q.tracks = 0; }), 0u);
    EXPECT_EQ(pattern_bad([](PatternSnapshot& q) { q.tracks = 17; }), 0u);
    EXPECT_EQ(pattern_bad([](PatternSnapshot& q) { q.masks[1] = 1u << 16; }), 0u); // step 17
    EXPECT_EQ(pattern_bad([](PatternSnapshot& q) { q.masks[2] = 1; }), 0u);        // unsent track
    // Too small a buffer: 0, never a partial frame.
    const Bytes w = wire(Ping{5}, 1);
    for (std::size_t cap = 0; cap < w.size(); ++cap) {
        EXPECT_EQ(encode(Ping{5}, 1, buf, cap), 0u) << cap;
    }
    EXPECT_EQ(encode(Ping{5}, 1, buf, w.size()), w.size());
}

TEST(Protocol, DecoderResyncsAfterGarbage) {
    std::mt19937 rng(2);
    const auto msgs = samples();
    for (int round = 0; round < 300; ++round) {
        Bytes stream;
        std::vector<std::size_t> sent;
        for (int k = 0; k < 5; ++k) {
            // Garbage of any kind, with or without zeros, before and between frames.
            const std::size_t junk = rng() % 400;
            const bool zeros = rng() % 2 == 0;
            for (std::size_t i = 0; i < junk; ++i) {
                stream.push_back(static_cast<std::uint8_t>(zeros ? rng() : 1 + rng() % 255));
            }
            const std::size_t i = rng() % msgs.size();
            sent.push_back(i);
            const Bytes w = wire(msgs[i], static_cast<std::uint16_t>(k));
            stream.insert(stream.end(), w.begin(), w.end());
        }
        Decoder d;
        // Fed in random spans through the span interface.
        std::vector<Frame> got;
        std::size_t pos = 0;
        while (pos < stream.size()) {
            const std::size_t chunk = std::min<std::size_t>(1 + rng() % 64, stream.size() - pos);
            std::size_t done = 0;
            while (done < chunk) {
                std::optional<Frame> f;
                done += d.push(stream.data() + pos + done, chunk - done, f);
                if (f) {
                    got.push_back(*f);
                }
            }
            pos += chunk;
        }
        // Garbage can only ever add rejected frames; every real frame arrives, in order.
        // (Random garbage passing CRC-16, COBS and all range checks is not expected with
        // this seed; the test would show it.)
        ASSERT_EQ(got.size(), sent.size()) << round;
        for (std::size_t k = 0; k < sent.size(); ++k) {
            EXPECT_EQ(got[k].seq, k);
            EXPECT_TRUE(got[k].message == msgs[sent[k]]);
        }
    }
}

// Every prefix of a frame, closed by a delimiter, is rejected and counted once.
TEST(Protocol, EveryTruncationIsRejected) {
    for (const Message& m : samples()) {
        const Bytes w = wire(m, 0xBEEF);
        for (std::size_t k = 1; k + 1 < w.size() - 1; ++k) {
            Bytes cut(w.begin(), w.begin() + 1 + static_cast<std::ptrdiff_t>(k));
            cut.push_back(0);
            Decoder d;
            EXPECT_TRUE(feed(d, cut).empty()) << static_cast<int>(m.type) << " " << k;
            EXPECT_EQ(errors(d.counters()), 1u);
            EXPECT_EQ(d.counters().frames_ok, 0u);
            // And the next frame decodes.
            EXPECT_EQ(feed(d, w).size(), 1u);
        }
    }
}

// Every single-bit flip anywhere in a wire frame (delimiters included) is rejected and
// counted; it never yields a frame, let alone a different valid message.
TEST(Protocol, EverySingleBitFlipIsRejected) {
    std::size_t flips = 0;
    for (const Message& m : samples()) {
        const Bytes w = wire(m, 0x0102);
        for (std::size_t i = 0; i < w.size(); ++i) {
            for (int bit = 0; bit < 8; ++bit) {
                Bytes bad = w;
                bad[i] = static_cast<std::uint8_t>(bad[i] ^ (1u << bit));
                bad.push_back(0); // closes the frame if the flip ate the trailing delimiter
                Decoder d;
                const auto frames = feed(d, bad);
                ++flips;
                EXPECT_TRUE(frames.empty()) << static_cast<int>(m.type) << " byte " << i;
                EXPECT_GE(errors(d.counters()), 1u);
                EXPECT_EQ(d.counters().frames_ok, 0u);
                const auto next = feed(d, w);
                ASSERT_EQ(next.size(), 1u);
                EXPECT_TRUE(next[0].message == m);
            }
        }
    }
    EXPECT_GT(flips, 7'000u);
}

TEST(Protocol, OversizeFramesAreRejected) {
    Decoder d;
    Bytes junk{0};
    junk.insert(junk.end(), 1000, 0x55);
    junk.push_back(0);
    EXPECT_TRUE(feed(d, junk).empty());
    EXPECT_EQ(d.counters().oversize, 1u);
    EXPECT_EQ(errors(d.counters()), 1u);
    // A frame of exactly the largest size still fits.
    PatternSnapshot full{};
    full.pattern = 1;
    full.steps = 64;
    full.tracks = 16;
    for (auto& mask : full.masks) {
        mask = 0x0101010101010101;
    }
    const Bytes w = wire(full, 0xFFFF);
    EXPECT_EQ(w.size(), max_wire_frame);
    EXPECT_EQ(feed(d, w).size(), 1u);
    // One byte more than the largest raw frame, with a valid CRC: oversize.
    Bytes raw = header(version, Type::pattern);
    raw.push_back(1);
    raw.push_back(64);
    raw.push_back(16);
    for (int i = 0; i < 16 * 8 + 1; ++i) {
        raw.push_back(0x11);
    }
    EXPECT_TRUE(feed(d, wire_raw(raw)).empty());
    EXPECT_EQ(d.counters().oversize, 2u);
}

TEST(Protocol, UnknownTypesVersionsLengthsAndFieldsAreCounted) {
    Decoder d;
    for (const std::uint8_t type : {0x00, 0x0D, 0x7F, 0xFF}) {
        EXPECT_TRUE(feed(d, wire_raw({version, type, 1, 0})).empty());
    }
    EXPECT_EQ(d.counters().unknown_type, 4u);

    // A Ping of another version: dropped and counted.
    Bytes ping = header(2, Type::ping);
    put_le(ping, 5, 8);
    EXPECT_TRUE(feed(d, wire_raw(ping)).empty());
    EXPECT_EQ(d.counters().bad_version, 1u);

    // A Hello of another version is decoded (frozen layout) so that the device can refuse it.
    auto hello = feed(d, wire(Hello{2, 99}, 3));
    ASSERT_EQ(hello.size(), 1u);
    EXPECT_EQ(hello[0].version, 2);
    EXPECT_EQ(hello[0].message.hello.version, 2);
    // ... as is an Error from a device of another version.
    Bytes err = header(3, Type::error);
    put_le(err, 0xAABBCCDD, 4);
    put_le(err, 1, 1);
    put_le(err, 3, 2);
    auto error = feed(d, wire_raw(err));
    ASSERT_EQ(error.size(), 1u);
    EXPECT_EQ(error[0].version, 3);
    EXPECT_TRUE(error[0].message == Message(Error{0xAABBCCDD, ErrorCode::unsupported_version, 3}));
    // A Hello whose two version bytes disagree: bad field.
    Bytes h = header(1, Type::hello);
    put_le(h, 2, 1);
    put_le(h, 0, 4);
    EXPECT_TRUE(feed(d, wire_raw(h)).empty());
    EXPECT_EQ(d.counters().bad_field, 1u);

    // Wrong lengths.
    for (const int bytes : {0, 7, 9}) {
        Bytes p = header(version, Type::ping);
        put_le(p, 0, bytes);
        EXPECT_TRUE(feed(d, wire_raw(p)).empty());
    }
    Bytes sr = header(version, Type::stats_request);
    sr.push_back(1);
    EXPECT_TRUE(feed(d, wire_raw(sr)).empty());
    Bytes pat = header(version, Type::pattern);
    pat.insert(pat.end(), {0, 16, 2});
    put_le(pat, 1, 8);
    put_le(pat, 1, 8);
    put_le(pat, 1, 8); // three masks for two tracks
    EXPECT_TRUE(feed(d, wire_raw(pat)).empty());
    EXPECT_EQ(d.counters().bad_length, 5u);

    // Out-of-range fields.
    Bytes step = header(version, Type::step);
    step.insert(step.end(), {64, 0, 1, 0});
    EXPECT_TRUE(feed(d, wire_raw(step)).empty());
    Bytes trig = header(version, Type::trigger);
    put_le(trig, 1000, 8);
    put_le(trig, 0, 2); // no outputs
    put_le(trig, 0, 4);
    EXPECT_TRUE(feed(d, wire_raw(trig)).empty());
    EXPECT_EQ(d.counters().bad_field, 3u);

    // Shorter than a header and a CRC: framing.
    EXPECT_TRUE(feed(d, wire_raw({version, 1, 0})).empty());
    EXPECT_EQ(d.counters().framing_errors, 1u);
    EXPECT_EQ(d.counters().frames_ok, 2u);
    EXPECT_EQ(d.counters().crc_errors, 0u);

    // Extra delimiters between frames are not errors.
    const std::size_t before = errors(d.counters());
    EXPECT_TRUE(feed(d, Bytes(10, 0)).empty());
    EXPECT_EQ(errors(d.counters()), before);
}

TEST(Protocol, ResetDropsAPartialFrame) {
    Decoder d;
    const Bytes w = wire(Step{1, 2, 3}, 4);
    feed(d, Bytes(w.begin(), w.begin() + 5));
    d.reset();
    const auto frames = feed(d, Bytes(w.begin() + 1, w.end())); // no leading 0x00
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_TRUE(frames[0].message == Message(Step{1, 2, 3}));
}

TEST(Protocol, DirectionOfEachType) {
    EXPECT_FALSE(from_device(Type::hello));
    EXPECT_TRUE(from_device(Type::hello_reply));
    EXPECT_FALSE(from_device(Type::ping));
    EXPECT_TRUE(from_device(Type::pong));
    EXPECT_FALSE(from_device(Type::trigger));
    EXPECT_FALSE(from_device(Type::step));
    EXPECT_FALSE(from_device(Type::pattern));
    EXPECT_FALSE(from_device(Type::transport));
    EXPECT_FALSE(from_device(Type::stats_request));
    EXPECT_TRUE(from_device(Type::ack));
    EXPECT_TRUE(from_device(Type::error));
    EXPECT_TRUE(from_device(Type::stats));
}

// Writes the fuzz seeds (tests/fuzz/fw_decoder/) when FW_DECODER_CORPUS_OUT names a folder.
TEST(Protocol, WriteFuzzSeeds) {
    const char* dir = std::getenv("FW_DECODER_CORPUS_OUT");
    if (dir == nullptr) {
        GTEST_SKIP() << "set FW_DECODER_CORPUS_OUT to write the seeds";
    }
    const auto msgs = samples();
    const std::vector<std::pair<std::string, std::size_t>> picks = {
        {"hello", 0},          {"hello_reply", 3}, {"ping", 5},     {"pong", 7},
        {"trigger", 10},       {"step", 12},       {"pattern", 15}, {"transport", 17},
        {"stats_request", 19}, {"ack", 21},        {"error", 25},   {"stats", 29},
    };
    for (const auto& [name, i] : picks) {
        const Bytes w = wire(msgs[i], static_cast<std::uint16_t>(i));
        std::ofstream out(std::string(dir) + "/" + name, std::ios::binary);
        out.write(reinterpret_cast<const char*>(w.data()), static_cast<std::streamsize>(w.size()));
    }
    // Two frames with garbage between them.
    Bytes mixed = wire(msgs[8], 1);
    mixed.insert(mixed.end(), {0x13, 0x37, 0x00, 0xFF, 0x02});
    const Bytes second = wire(msgs[22], 2);
    mixed.insert(mixed.end(), second.begin(), second.end());
    std::ofstream out(std::string(dir) + "/garbage_between", std::ios::binary);
    out.write(reinterpret_cast<const char*>(mixed.data()),
              static_cast<std::streamsize>(mixed.size()));
}

} // namespace
