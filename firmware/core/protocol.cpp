#include "core/protocol.hpp"

#include "core/crc16.hpp"

#include <initializer_list>

namespace lockstep::fw::proto {

namespace {

// Little-endian writer into a buffer the caller sized with payload_size(): no checks.
class Writer {
public:
    explicit Writer(std::uint8_t* out) : out_(out) {}
    void u8(std::uint8_t v) { out_[n_++] = v; }
    void u16(std::uint16_t v) {
        u8(static_cast<std::uint8_t>(v));
        u8(static_cast<std::uint8_t>(v >> 8));
    }
    void u32(std::uint32_t v) {
        u16(static_cast<std::uint16_t>(v));
        u16(static_cast<std::uint16_t>(v >> 16));
    }
    void u64(std::uint64_t v) {
        u32(static_cast<std::uint32_t>(v));
        u32(static_cast<std::uint32_t>(v >> 32));
    }
    std::size_t size() const { return n_; }

private:
    std::uint8_t* out_;
    std::size_t n_ = 0;
};

// Little-endian reader over a payload whose length the caller checked: no checks.
class Reader {
public:
    explicit Reader(const std::uint8_t* in) : in_(in) {}
    std::uint8_t u8() { return in_[n_++]; }
    std::uint16_t u16() {
        const unsigned lo = u8();
        const unsigned hi = u8();
        return static_cast<std::uint16_t>(lo | (hi << 8));
    }
    std::uint32_t u32() {
        const std::uint32_t lo = u16();
        const std::uint32_t hi = u16();
        return lo | (hi << 16);
    }
    std::uint64_t u64() {
        const std::uint64_t lo = u32();
        const std::uint64_t hi = u32();
        return lo | (hi << 32);
    }

private:
    const std::uint8_t* in_;
    std::size_t n_ = 0;
};

constexpr std::size_t fixed_payload_size(Type type) {
    switch (type) {
    case Type::hello:
        return 1 + 4;
    case Type::hello_reply:
        return 4 + 1 + 4 + 1 + 3 + 2;
    case Type::ping:
        return 8;
    case Type::pong:
        return 4 + 2 + 8 + 8 + 8;
    case Type::trigger:
        return 8 + 2 + 4;
    case Type::step:
        return 1 + 1 + 2;
    case Type::pattern:
        return 0; // variable: 3 + 8 * tracks
    case Type::transport:
        return 1 + 4 + 1 + 1 + 8;
    case Type::stats_request:
        return 0;
    case Type::ack:
        return 4 + 2 + 1;
    case Type::error:
        return 4 + 1 + 2;
    case Type::stats:
        return 4 + 8 + 11 * 4 + 2 + 2;
    }
    return 0;
}

bool known_type(std::uint8_t type) {
    return type >= static_cast<std::uint8_t>(Type::hello) &&
           type <= static_cast<std::uint8_t>(Type::stats);
}

// Types whose header and payload layout never change, so that two ends of different
// versions can still tell each other so (docs/bridge-protocol.md, "Versioning").
bool frozen(Type type) {
    return type == Type::hello || type == Type::hello_reply || type == Type::error;
}

// The header version a message is sent with: its own for the handshake, ours otherwise.
std::uint8_t header_version(const Message& m) {
    if (m.type == Type::hello) {
        return m.hello.version;
    }
    if (m.type == Type::hello_reply) {
        return m.hello_reply.version;
    }
    return version;
}

// Range checks shared by the encoder (refuses to send) and the decoder (refuses to accept).
bool fields_valid(const Message& m) {
    switch (m.type) {
    case Type::hello:
        return m.hello.version >= 1;
    case Type::hello_reply:
        return m.hello_reply.version >= 1 && m.hello_reply.outputs >= 1 &&
               m.hello_reply.outputs <= max_tracks && m.hello_reply.max_queue >= 1;
    case Type::ping:
    case Type::stats_request:
        return true;
    case Type::pong:
        return m.pong.sent >= m.pong.received;
    case Type::trigger:
        return m.trigger.mask != 0 && m.trigger.width_us <= max_pulse_width_us;
    case Type::step:
        return m.step.pattern < max_patterns && m.step.step < max_steps;
    case Type::pattern: {
        const PatternSnapshot& p = m.pattern;
        if (p.pattern >= max_patterns || p.steps < 1 || p.steps > max_steps || p.tracks < 1 ||
            p.tracks > max_tracks) {
            return false;
        }
        const std::uint64_t beyond = p.steps == 64 ? 0 : ~((std::uint64_t{1} << p.steps) - 1);
        for (unsigned t = 0; t < max_tracks; ++t) {
            if ((p.masks[t] & beyond) != 0 || (t >= p.tracks && p.masks[t] != 0)) {
                return false;
            }
        }
        return true;
    }
    case Type::transport: {
        const Transport& t = m.transport;
        return static_cast<unsigned>(t.state) <= static_cast<unsigned>(TransportState::resume) &&
               t.tempo_mbpm >= min_tempo_mbpm && t.tempo_mbpm <= max_tempo_mbpm &&
               t.pattern < max_patterns && t.step < max_steps;
    }
    case Type::ack:
        return static_cast<unsigned>(m.ack.status) <= static_cast<unsigned>(AckStatus::queue_full);
    case Type::error: {
        const unsigned code = static_cast<unsigned>(m.error.code);
        return code >= static_cast<unsigned>(ErrorCode::unsupported_version) &&
               code <= static_cast<unsigned>(ErrorCode::not_ready);
    }
    case Type::stats:
        return m.stats.queue_depth <= m.stats.queue_high_water;
    }
    return false;
}

void write_payload(const Message& m, Writer& w) {
    switch (m.type) {
    case Type::hello:
        w.u8(m.hello.version);
        w.u32(m.hello.nonce);
        break;
    case Type::hello_reply: {
        const HelloReply& r = m.hello_reply;
        w.u32(r.boot_id);
        w.u8(r.version);
        w.u32(r.nonce);
        w.u8(r.outputs);
        w.u8(r.fw_major);
        w.u8(r.fw_minor);
        w.u8(r.fw_patch);
        w.u16(r.max_queue);
        break;
    }
    case Type::ping:
        w.u64(m.ping.host_time);
        break;
    case Type::pong:
        w.u32(m.pong.boot_id);
        w.u16(m.pong.ping_seq);
        w.u64(m.pong.host_time);
        w.u64(m.pong.received);
        w.u64(m.pong.sent);
        break;
    case Type::trigger:
        w.u64(m.trigger.at);
        w.u16(m.trigger.mask);
        w.u32(m.trigger.width_us);
        break;
    case Type::step:
        w.u8(m.step.pattern);
        w.u8(m.step.step);
        w.u16(m.step.tracks);
        break;
    case Type::pattern:
        w.u8(m.pattern.pattern);
        w.u8(m.pattern.steps);
        w.u8(m.pattern.tracks);
        for (unsigned t = 0; t < m.pattern.tracks; ++t) {
            w.u64(m.pattern.masks[t]);
        }
        break;
    case Type::transport:
        w.u8(static_cast<std::uint8_t>(m.transport.state));
        w.u32(m.transport.tempo_mbpm);
        w.u8(m.transport.pattern);
        w.u8(m.transport.step);
        w.u64(m.transport.at);
        break;
    case Type::stats_request:
        break;
    case Type::ack:
        w.u32(m.ack.boot_id);
        w.u16(m.ack.seq);
        w.u8(static_cast<std::uint8_t>(m.ack.status));
        break;
    case Type::error:
        w.u32(m.error.boot_id);
        w.u8(static_cast<std::uint8_t>(m.error.code));
        w.u16(m.error.seq);
        break;
    case Type::stats: {
        const Stats& s = m.stats;
        w.u32(s.boot_id);
        w.u64(s.uptime);
        for (const std::uint32_t c :
             {s.rx_frames, s.crc_errors, s.framing_errors, s.oversize, s.unknown_type, s.bad_length,
              s.bad_field, s.bad_version, s.triggers_fired, s.late_triggers, s.dropped_triggers}) {
            w.u32(c);
        }
        w.u16(s.queue_depth);
        w.u16(s.queue_high_water);
        break;
    }
    }
}

// Reads a payload whose length payload_length_ok() accepted.
Message read_payload(Type type, Reader& r) {
    switch (type) {
    case Type::hello: {
        Hello h{};
        h.version = r.u8();
        h.nonce = r.u32();
        return h;
    }
    case Type::hello_reply: {
        HelloReply h{};
        h.boot_id = r.u32();
        h.version = r.u8();
        h.nonce = r.u32();
        h.outputs = r.u8();
        h.fw_major = r.u8();
        h.fw_minor = r.u8();
        h.fw_patch = r.u8();
        h.max_queue = r.u16();
        return h;
    }
    case Type::ping: {
        Ping p{};
        p.host_time = r.u64();
        return p;
    }
    case Type::pong: {
        Pong p{};
        p.boot_id = r.u32();
        p.ping_seq = r.u16();
        p.host_time = r.u64();
        p.received = r.u64();
        p.sent = r.u64();
        return p;
    }
    case Type::trigger: {
        Trigger t{};
        t.at = r.u64();
        t.mask = r.u16();
        t.width_us = r.u32();
        return t;
    }
    case Type::step: {
        Step s{};
        s.pattern = r.u8();
        s.step = r.u8();
        s.tracks = r.u16();
        return s;
    }
    case Type::pattern: {
        PatternSnapshot p{};
        p.pattern = r.u8();
        p.steps = r.u8();
        p.tracks = r.u8();
        for (unsigned t = 0; t < p.tracks && t < max_tracks; ++t) {
            p.masks[t] = r.u64();
        }
        return p;
    }
    case Type::transport: {
        Transport t{};
        t.state = static_cast<TransportState>(r.u8());
        t.tempo_mbpm = r.u32();
        t.pattern = r.u8();
        t.step = r.u8();
        t.at = r.u64();
        return t;
    }
    case Type::stats_request:
        return StatsRequest{};
    case Type::ack: {
        Ack a{};
        a.boot_id = r.u32();
        a.seq = r.u16();
        a.status = static_cast<AckStatus>(r.u8());
        return a;
    }
    case Type::error: {
        Error e{};
        e.boot_id = r.u32();
        e.code = static_cast<ErrorCode>(r.u8());
        e.seq = r.u16();
        return e;
    }
    case Type::stats: {
        Stats s{};
        s.boot_id = r.u32();
        s.uptime = r.u64();
        for (std::uint32_t* c : {&s.rx_frames, &s.crc_errors, &s.framing_errors, &s.oversize,
                                 &s.unknown_type, &s.bad_length, &s.bad_field, &s.bad_version,
                                 &s.triggers_fired, &s.late_triggers, &s.dropped_triggers}) {
            *c = r.u32();
        }
        s.queue_depth = r.u16();
        s.queue_high_water = r.u16();
        return s;
    }
    }
    return StatsRequest{};
}

bool payload_length_ok(Type type, const std::uint8_t* payload, std::size_t size) {
    if (type == Type::pattern) {
        // The track count (byte 2) fixes the length; its range is checked with the fields.
        return size >= 3 && payload[2] >= 1 && payload[2] <= max_tracks &&
               size == 3 + 8 * std::size_t{payload[2]};
    }
    return size == fixed_payload_size(type);
}

} // namespace

bool from_device(Type type) {
    switch (type) {
    case Type::hello_reply:
    case Type::pong:
    case Type::ack:
    case Type::error:
    case Type::stats:
        return true;
    default:
        return false;
    }
}

std::size_t payload_size(const Message& message) {
    if (message.type == Type::pattern) {
        return 3 + 8 * std::size_t{message.pattern.tracks};
    }
    return fixed_payload_size(message.type);
}

bool operator==(const Message& a, const Message& b) {
    if (a.type != b.type) {
        return false;
    }
    switch (a.type) {
    case Type::hello:
        return a.hello.version == b.hello.version && a.hello.nonce == b.hello.nonce;
    case Type::hello_reply: {
        const HelloReply& x = a.hello_reply;
        const HelloReply& y = b.hello_reply;
        return x.boot_id == y.boot_id && x.version == y.version && x.nonce == y.nonce &&
               x.outputs == y.outputs && x.fw_major == y.fw_major && x.fw_minor == y.fw_minor &&
               x.fw_patch == y.fw_patch && x.max_queue == y.max_queue;
    }
    case Type::ping:
        return a.ping.host_time == b.ping.host_time;
    case Type::pong: {
        const Pong& x = a.pong;
        const Pong& y = b.pong;
        return x.boot_id == y.boot_id && x.ping_seq == y.ping_seq && x.host_time == y.host_time &&
               x.received == y.received && x.sent == y.sent;
    }
    case Type::trigger:
        return a.trigger.at == b.trigger.at && a.trigger.mask == b.trigger.mask &&
               a.trigger.width_us == b.trigger.width_us;
    case Type::step:
        return a.step.pattern == b.step.pattern && a.step.step == b.step.step &&
               a.step.tracks == b.step.tracks;
    case Type::pattern: {
        const PatternSnapshot& x = a.pattern;
        const PatternSnapshot& y = b.pattern;
        if (x.pattern != y.pattern || x.steps != y.steps || x.tracks != y.tracks) {
            return false;
        }
        for (unsigned t = 0; t < x.tracks && t < max_tracks; ++t) {
            if (x.masks[t] != y.masks[t]) {
                return false;
            }
        }
        return true;
    }
    case Type::transport: {
        const Transport& x = a.transport;
        const Transport& y = b.transport;
        return x.state == y.state && x.tempo_mbpm == y.tempo_mbpm && x.pattern == y.pattern &&
               x.step == y.step && x.at == y.at;
    }
    case Type::stats_request:
        return true;
    case Type::ack:
        return a.ack.boot_id == b.ack.boot_id && a.ack.seq == b.ack.seq &&
               a.ack.status == b.ack.status;
    case Type::error:
        return a.error.boot_id == b.error.boot_id && a.error.code == b.error.code &&
               a.error.seq == b.error.seq;
    case Type::stats: {
        const Stats& x = a.stats;
        const Stats& y = b.stats;
        return x.boot_id == y.boot_id && x.uptime == y.uptime && x.rx_frames == y.rx_frames &&
               x.crc_errors == y.crc_errors && x.framing_errors == y.framing_errors &&
               x.oversize == y.oversize && x.unknown_type == y.unknown_type &&
               x.bad_length == y.bad_length && x.bad_field == y.bad_field &&
               x.bad_version == y.bad_version && x.triggers_fired == y.triggers_fired &&
               x.late_triggers == y.late_triggers && x.dropped_triggers == y.dropped_triggers &&
               x.queue_depth == y.queue_depth && x.queue_high_water == y.queue_high_water;
    }
    }
    return false;
}

std::size_t encode(const Message& message, std::uint16_t seq, std::uint8_t* out, std::size_t cap) {
    if (!known_type(static_cast<std::uint8_t>(message.type)) || !fields_valid(message) || cap < 2) {
        return 0;
    }
    std::uint8_t raw[max_raw_frame];
    Writer w(raw);
    w.u8(header_version(message));
    w.u8(static_cast<std::uint8_t>(message.type));
    w.u16(seq);
    write_payload(message, w);
    w.u16(crc16(raw, w.size()));
    out[0] = 0; // a leading delimiter ends any garbage before this frame
    const std::size_t n = cobs_encode(raw, w.size(), out + 1, cap - 2);
    if (n == 0) {
        return 0;
    }
    out[1 + n] = 0;
    return n + 2;
}

Status decode_frame(const std::uint8_t* cobs, std::size_t size, Frame& frame) {
    std::uint8_t raw[max_raw_frame];
    std::size_t n = 0;
    if (!cobs_decode(cobs, size, raw, sizeof raw, n) || n < header_size + crc_size) {
        return Status::framing;
    }
    const std::size_t body = n - crc_size;
    const std::uint16_t sent_crc = static_cast<std::uint16_t>(raw[body] | (raw[body + 1] << 8));
    if (crc16(raw, body) != sent_crc) {
        return Status::crc;
    }
    if (!known_type(raw[1])) {
        return Status::unknown_type;
    }
    const Type type = static_cast<Type>(raw[1]);
    const std::uint8_t frame_version = raw[0];
    if (frame_version != version && !frozen(type)) {
        return Status::bad_version;
    }
    const std::uint8_t* payload = raw + header_size;
    const std::size_t payload_bytes = body - header_size;
    if (!payload_length_ok(type, payload, payload_bytes)) {
        return Status::bad_length;
    }
    Reader r(payload);
    Message message = read_payload(type, r);
    // A Hello or HelloReply states its version twice; the two must agree.
    if (!fields_valid(message) ||
        (type != Type::error && header_version(message) != frame_version)) {
        return Status::bad_field;
    }
    frame.version = frame_version;
    frame.seq = static_cast<std::uint16_t>(raw[2] | (raw[3] << 8));
    frame.message = message;
    return Status::ok;
}

std::optional<Frame> Decoder::push(std::uint8_t byte) {
    if (byte != 0) {
        if (size_ < buffer_.size()) {
            buffer_[size_++] = byte;
        } else if (!overflow_) {
            overflow_ = true; // counted once; the rest is skipped up to the next 0x00
            ++counters_.oversize;
        }
        return std::nullopt;
    }
    const std::size_t size = size_;
    const bool overflow = overflow_;
    reset();
    if (overflow || size == 0) {
        return std::nullopt;
    }
    Frame frame{};
    switch (decode_frame(buffer_.data(), size, frame)) {
    case Status::ok:
        ++counters_.frames_ok;
        return frame;
    case Status::framing:
        ++counters_.framing_errors;
        break;
    case Status::crc:
        ++counters_.crc_errors;
        break;
    case Status::bad_version:
        ++counters_.bad_version;
        break;
    case Status::unknown_type:
        ++counters_.unknown_type;
        break;
    case Status::bad_length:
        ++counters_.bad_length;
        break;
    case Status::bad_field:
        ++counters_.bad_field;
        break;
    }
    return std::nullopt;
}

std::size_t Decoder::push(const std::uint8_t* data, std::size_t size, std::optional<Frame>& frame) {
    frame.reset();
    for (std::size_t i = 0; i < size; ++i) {
        frame = push(data[i]);
        if (frame) {
            return i + 1;
        }
    }
    return size;
}

} // namespace lockstep::fw::proto
