#pragma once
// The bridge <-> box protocol (docs/bridge-protocol.md is the byte-exact specification):
// message structs, a frame encoder and a streaming, garbage-tolerant decoder. One codec for
// both ends: the firmware and the simulator decode host messages with it, lockstep-bridge
// decodes device messages with it. Freestanding: no heap, fixed buffers, every field
// range-checked on decode.
#include "core/cobs.hpp"
#include "core/config.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace lockstep::fw::proto {

// The protocol version this codec speaks (header byte 0, and Hello::version).
inline constexpr std::uint8_t version = 1;

inline constexpr std::size_t header_size = 4; // version u8, type u8, seq u16
inline constexpr std::size_t crc_size = 2;

// Limits the decoder enforces (documented in bridge-protocol.md).
inline constexpr unsigned max_patterns = 64;
inline constexpr unsigned max_steps = 64;
inline constexpr unsigned max_tracks = 16;
inline constexpr std::uint32_t max_pulse_width_us = 1'000'000;
inline constexpr std::uint32_t min_tempo_mbpm = 20'000;  // 20 BPM, as lockstep-seq
inline constexpr std::uint32_t max_tempo_mbpm = 999'000; // 999 BPM

enum class Type : std::uint8_t {
    hello = 0x01,         // host -> device
    hello_reply = 0x02,   // device -> host
    ping = 0x03,          // host -> device
    pong = 0x04,          // device -> host
    trigger = 0x05,       // host -> device
    step = 0x06,          // host -> device
    pattern = 0x07,       // host -> device
    transport = 0x08,     // host -> device
    stats_request = 0x09, // host -> device
    ack = 0x0A,           // device -> host
    error = 0x0B,         // device -> host
    stats = 0x0C,         // device -> host
};

struct Hello {
    std::uint8_t version; // must equal the header's version
    std::uint32_t nonce;  // echoed in HelloReply: pairs a reply with its hello
};

struct HelloReply {
    std::uint32_t boot_id; // random per boot
    std::uint8_t version;  // the device's protocol version
    std::uint32_t nonce;   // the Hello's nonce
    std::uint8_t outputs;  // trigger outputs, 1..16
    std::uint8_t fw_major;
    std::uint8_t fw_minor;
    std::uint8_t fw_patch;
    std::uint16_t max_queue; // triggers the device can hold, >= 1
};

struct Ping {
    std::uint64_t host_time; // ns on the host's clock at send, echoed in the Pong
};

struct Pong {
    std::uint32_t boot_id;
    std::uint16_t ping_seq;  // header seq of the Ping
    std::uint64_t host_time; // the Ping's host_time
    DeviceTime received;     // device clock when the Ping's frame was complete
    DeviceTime sent;         // device clock just before this frame was written, >= received
};

struct Trigger {
    DeviceTime at;          // rising edge time on the device clock
    std::uint16_t mask;     // outputs (bit 0 = output 1), != 0
    std::uint32_t width_us; // pulse width; 0 = the device's default (15 ms)
};

struct Step {
    std::uint8_t pattern; // 0..63
    std::uint8_t step;    // 0..63
    std::uint16_t tracks; // tracks that fire on this step (bit 0 = track 1)
};

struct PatternSnapshot {
    std::uint8_t pattern;            // 0..63
    std::uint8_t steps;              // 1..64
    std::uint8_t tracks;             // 1..16: masks[0..tracks) are sent, the rest are zero
    std::uint64_t masks[max_tracks]; // bit s = step s on; bits >= steps are zero
};

enum class TransportState : std::uint8_t { stop = 0, play = 1, resume = 2 };

struct Transport {
    TransportState state;
    std::uint32_t tempo_mbpm; // BPM * 1000, 20'000..999'000
    std::uint8_t pattern;     // 0..63
    std::uint8_t step;        // 0..63
    DeviceTime at;            // device time at which `step` starts; 0 = unknown
};

struct StatsRequest {};

enum class AckStatus : std::uint8_t {
    ok = 0,         // accepted (a trigger: queued)
    late = 1,       // a trigger whose time had passed: not fired, counted
    queue_full = 2, // a trigger that found the queue full: not fired, counted
};

struct Ack {
    std::uint32_t boot_id;
    std::uint16_t seq; // header seq of the acknowledged frame
    AckStatus status;
};

enum class ErrorCode : std::uint8_t {
    unsupported_version = 1, // a Hello of another protocol version
    bad_frame = 2,           // a frame that failed to decode (seq may be unknown: 0)
    wrong_direction = 3,     // a device -> host message sent to the device
    not_ready = 4,           // no Hello yet in this boot
};

struct Error {
    std::uint32_t boot_id;
    ErrorCode code;
    std::uint16_t seq; // header seq of the frame it refers to (0 when unknown)
};

struct Stats {
    std::uint32_t boot_id;
    DeviceTime uptime; // device clock at send
    // The device's decoder counters (DecoderCounters), wrapping at 2^32.
    std::uint32_t rx_frames;
    std::uint32_t crc_errors;
    std::uint32_t framing_errors;
    std::uint32_t oversize;
    std::uint32_t unknown_type;
    std::uint32_t bad_length;
    std::uint32_t bad_field;
    std::uint32_t bad_version;
    // The trigger scheduler's counters.
    std::uint32_t triggers_fired;
    std::uint32_t late_triggers;
    std::uint32_t dropped_triggers;
    std::uint16_t queue_depth;
    std::uint16_t queue_high_water;
};

// One message of any type. Trivially copyable; the member named after `type` is active.
// Constructs implicitly from each message struct, so encode(Ping{t}, ...) reads well.
struct Message {
    Type type;
    union {
        Hello hello;
        HelloReply hello_reply;
        Ping ping;
        Pong pong;
        Trigger trigger;
        Step step;
        PatternSnapshot pattern;
        Transport transport;
        StatsRequest stats_request;
        Ack ack;
        Error error;
        Stats stats;
    };

    Message() : type(Type::stats_request), stats_request{} {}
    Message(const Hello& m) : type(Type::hello), hello(m) {}
    Message(const HelloReply& m) : type(Type::hello_reply), hello_reply(m) {}
    Message(const Ping& m) : type(Type::ping), ping(m) {}
    Message(const Pong& m) : type(Type::pong), pong(m) {}
    Message(const Trigger& m) : type(Type::trigger), trigger(m) {}
    Message(const Step& m) : type(Type::step), step(m) {}
    Message(const PatternSnapshot& m) : type(Type::pattern), pattern(m) {}
    Message(const Transport& m) : type(Type::transport), transport(m) {}
    Message(const StatsRequest& m) : type(Type::stats_request), stats_request(m) {}
    Message(const Ack& m) : type(Type::ack), ack(m) {}
    Message(const Error& m) : type(Type::error), error(m) {}
    Message(const Stats& m) : type(Type::stats), stats(m) {}
};

// Field-by-field equality (same type and same field values; for PatternSnapshot only the
// sent masks count).
bool operator==(const Message& a, const Message& b);
inline bool operator!=(const Message& a, const Message& b) {
    return !(a == b);
}

// True for messages the device sends (they carry the boot id).
bool from_device(Type type);

// Payload size of a message as encoded (PatternSnapshot depends on its track count).
std::size_t payload_size(const Message& message);

// Largest payload (a PatternSnapshot of 16 tracks), raw frame and wire frame.
inline constexpr std::size_t max_payload = 3 + 8 * max_tracks;
inline constexpr std::size_t max_raw_frame = header_size + max_payload + crc_size;
inline constexpr std::size_t max_cobs_frame = cobs_max_encoded(max_raw_frame);
// Wire frame: 0x00, COBS(raw frame), 0x00.
inline constexpr std::size_t max_wire_frame = 1 + max_cobs_frame + 1;

// Writes the wire frame of `message` with header seq `seq` into `out` (leading and trailing
// 0x00 included). The header version is proto::version, except for Hello and HelloReply,
// which are sent with the version they state (so a test can speak another version). Returns its
// length, or 0 when `cap` is too small (max_wire_frame always suffices) or a field is out of range
// (the decoder would refuse it). Any thread; no state.
std::size_t encode(const Message& message, std::uint16_t seq, std::uint8_t* out, std::size_t cap);

// A decoded frame.
struct Frame {
    std::uint8_t version; // header version: == proto::version except for frozen types
    std::uint16_t seq;
    Message message;
};

// Outcome of decoding one delimited frame.
enum class Status : std::uint8_t {
    ok,
    framing,      // invalid COBS, or shorter than header + CRC
    crc,          // CRC mismatch
    bad_version,  // header version != ours, for a type whose layout is not frozen
    unknown_type, // type byte not in Type
    bad_length,   // payload length wrong for the type
    bad_field,    // a field out of range
};

// Decodes one frame given its COBS bytes (between two delimiters, none included). Any
// thread; no state. Hello, HelloReply and Error are decoded whatever the header version
// says: their layout is frozen across versions so that a handshake can refuse politely.
Status decode_frame(const std::uint8_t* cobs, std::size_t size, Frame& frame);

struct DecoderCounters {
    std::uint32_t frames_ok;
    std::uint32_t crc_errors;
    std::uint32_t framing_errors;
    std::uint32_t oversize; // more than max_cobs_frame bytes without a delimiter
    std::uint32_t unknown_type;
    std::uint32_t bad_length;
    std::uint32_t bad_field;
    std::uint32_t bad_version;
};

// Streaming decoder: fed the received bytes in order, returns each complete valid frame.
// Garbage, truncated or corrupt frames are counted and skipped; decoding resumes at the next
// 0x00. Empty frames (0x00 0x00) are the normal gap between frames and are not counted.
// Fixed buffer (~150 bytes), no heap. One thread at a time (the serial reader); on the box
// the USB receive path, never an interrupt that may preempt another push().
class Decoder {
public:
    // Feeds one byte; returns the frame that this byte (a 0x00) completed, if valid.
    std::optional<Frame> push(std::uint8_t byte);

    // Feeds bytes until one frame completes or the span is used up: returns the number of
    // bytes consumed and sets `frame` when one completed (call again with the rest).
    std::size_t push(const std::uint8_t* data, std::size_t size, std::optional<Frame>& frame);

    // Drops a partial frame (e.g. after the line was reopened). Keeps the counters.
    void reset() {
        size_ = 0;
        overflow_ = false;
    }

    const DecoderCounters& counters() const { return counters_; }

private:
    std::array<std::uint8_t, max_cobs_frame> buffer_{}; // COBS bytes since the last 0x00
    std::size_t size_ = 0;
    bool overflow_ = false;
    DecoderCounters counters_{};
};

} // namespace lockstep::fw::proto
