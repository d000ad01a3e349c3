// Strict OSC 1.0 packet validator: the first thing that looks at bytes from the network.
// It checks a whole packet (message or bundle, nested bundles too) and says ok or exactly
// what is wrong and where. Nothing else — liblo or our decoder — sees a packet it refused.
//
// Why our own: liblo 0.31 reads past the end of some malformed packets (a blob whose size
// field is cut off; a bundle element of size zero). This function is memory-safe on any
// input (fuzzed by tests/fuzz/osc_validator.cpp) and never allocates.
// Thread: any. Pure function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace lockstep::osc {

// Size limits; every one bounds work and stack use for hostile input.
struct Limits {
    std::size_t max_packet_size = 65536; // bytes; a UDP datagram is at most 65507
    int max_bundle_depth = 8;            // bundles inside bundles (the outermost is 1); at most 64
    std::size_t max_args = 256;          // type tags per message, array brackets included
    int max_array_depth = 4;             // '[' inside '['
};

enum class Reason : std::uint8_t {
    ok,
    empty,                          // zero bytes
    too_large,                      // more than Limits::max_packet_size
    size_not_multiple_of_4,         // packet size
    bad_bundle_header,              // starts with '#' but is not "#bundle\0" + 8-byte timetag
    bundle_too_deep,                // more nested bundles than Limits::max_bundle_depth
    element_empty,                  // bundle element of size 0
    element_size_not_multiple_of_4, // bundle element size
    element_exceeds_bundle,         // element size runs past the end of its bundle
    address_missing_slash,          // message address does not start with '/'
    address_unterminated,           // no NUL (or its padding) inside the message
    address_bad_char,               // control, space, non-ASCII, '#' or ',' in the address
    type_tags_missing,              // nothing after the address
    type_tags_no_comma,             // type tag string does not start with ','
    type_tags_unterminated,         // no NUL (or its padding) inside the message
    padding_not_zero,               // string or blob padding bytes must be NUL
    unknown_type_tag,               // not one of i f s b h t d S c r m T F N I [ ]
    array_unbalanced,               // ']' without '[' or '[' never closed
    array_too_deep,                 // more nested '[' than Limits::max_array_depth
    too_many_args,                  // more type tags than Limits::max_args
    arg_truncated,                  // a fixed-size argument's bytes are cut off
    string_unterminated,            // s/S argument without NUL (or padding) inside the message
    blob_size_truncated,            // fewer than 4 bytes left for a blob's size field
    blob_size_negative,             // blob size field < 0
    blob_exceeds_message,           // blob data (+ padding) runs past the end of the message
    trailing_bytes,                 // bytes left after the last argument
};

struct Verdict {
    Reason reason = Reason::ok;
    std::size_t offset = 0; // byte offset of the problem in the packet

    bool ok() const noexcept { return reason == Reason::ok; }
};

// Thread: any. Never allocates; reads only inside `packet`.
Verdict validate(std::span<const std::uint8_t> packet, const Limits& limits = {}) noexcept;

// A short English phrase for `reason` (static storage), e.g. "blob size exceeds message".
const char* describe(Reason reason) noexcept;

} // namespace lockstep::osc
