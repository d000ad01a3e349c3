#pragma once
// Consistent Overhead Byte Stuffing: turns any byte string into one without 0x00, so that
// 0x00 can delimit frames on the serial line (docs/bridge-protocol.md, "Framing").
// Caller buffers only; every write is bounds-checked. Any thread (pure functions).
#include <cstddef>
#include <cstdint>

namespace lockstep::fw {

// Largest encoding of `size` bytes (exact for non-zero runs): one code byte per started
// run of 254 bytes, and a lone code byte for the empty string.
constexpr std::size_t cobs_max_encoded(std::size_t size) {
    return size == 0 ? 1 : size + (size + 253) / 254;
}

// Encodes `size` bytes of `in` into `out` (no delimiter is written). Returns the encoded
// length (always >= 1), or 0 when `cap` is too small. `in` and `out` must not overlap.
std::size_t cobs_encode(const std::uint8_t* in, std::size_t size, std::uint8_t* out,
                        std::size_t cap);

// Decodes `size` bytes of COBS (without the delimiter) into `out`. Returns false, and
// leaves `out_size` unspecified, on invalid input (empty, a 0x00 byte, a run longer than
// the input) or when `cap` is too small.
bool cobs_decode(const std::uint8_t* in, std::size_t size, std::uint8_t* out, std::size_t cap,
                 std::size_t& out_size);

} // namespace lockstep::fw
