// Fuzz target: the box protocol's streaming decoder (firmware/core/protocol.hpp) on arbitrary
// bytes. Every frame it accepts must re-encode to a frame that decodes to the same message,
// and the byte-wise and span-wise interfaces must agree on frames and counters.
#include "core/protocol.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace {

using namespace lockstep::fw::proto;

void check_round_trip(const Frame& frame) {
    std::uint8_t wire[max_wire_frame];
    const std::size_t n = encode(frame.message, frame.seq, wire, sizeof wire);
    if (n < 2 || wire[0] != 0 || wire[n - 1] != 0) {
        std::abort(); // the decoder accepted a message the encoder refuses
    }
    Decoder again;
    std::optional<Frame> back;
    for (std::size_t i = 0; i < n; ++i) {
        std::optional<Frame> f = again.push(wire[i]);
        if (f) {
            if (back || i + 1 != n) {
                std::abort(); // more than one frame, or one before the end
            }
            back = f;
        }
    }
    if (!back || back->seq != frame.seq || back->message != frame.message) {
        std::abort();
    }
}

bool same_counters(const DecoderCounters& a, const DecoderCounters& b) {
    return a.frames_ok == b.frames_ok && a.crc_errors == b.crc_errors &&
           a.framing_errors == b.framing_errors && a.oversize == b.oversize &&
           a.unknown_type == b.unknown_type && a.bad_length == b.bad_length &&
           a.bad_field == b.bad_field && a.bad_version == b.bad_version;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Decoder bytewise;
    Decoder spans;
    std::size_t pos = 0; // spans has consumed data[0..pos)
    for (std::size_t i = 0; i < size; ++i) {
        const std::optional<Frame> frame = bytewise.push(data[i]);
        if (!frame) {
            continue;
        }
        check_round_trip(*frame);
        // The span decoder, fed the rest, stops right after the same frame.
        std::optional<Frame> other;
        pos += spans.push(data + pos, size - pos, other);
        if (!other || pos != i + 1 || other->seq != frame->seq ||
            other->version != frame->version || other->message != frame->message) {
            std::abort();
        }
    }
    std::optional<Frame> rest;
    pos += spans.push(data + pos, size - pos, rest);
    if (rest || pos != size || !same_counters(bytewise.counters(), spans.counters())) {
        std::abort();
    }
    return 0;
}
