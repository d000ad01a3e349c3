// Hand-built OSC bytes for tests: each helper appends one field exactly as written, so a
// test can build packets that no encoder would produce.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <utility>
#include <vector>

namespace lockstep::osc::test {

using Bytes = std::vector<std::uint8_t>;

// Appends the characters of `s` (no terminator, no padding).
inline Bytes& raw(Bytes& b, std::string_view s) {
    b.insert(b.end(), s.begin(), s.end());
    return b;
}

// Appends an OSC string: characters, NUL, NULs up to a multiple of 4.
inline Bytes& str(Bytes& b, std::string_view s) {
    raw(b, s);
    b.push_back(0);
    while (b.size() % 4 != 0) {
        b.push_back(0);
    }
    return b;
}

inline Bytes& be32(Bytes& b, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) {
        b.push_back(static_cast<std::uint8_t>(v >> shift));
    }
    return b;
}

inline Bytes& be64(Bytes& b, std::uint64_t v) {
    be32(b, static_cast<std::uint32_t>(v >> 32));
    return be32(b, static_cast<std::uint32_t>(v));
}

// The same for temporaries: be32(Bytes{}, 1).
inline Bytes raw(Bytes&& b, std::string_view s) {
    return std::move(raw(b, s));
}
inline Bytes str(Bytes&& b, std::string_view s) {
    return std::move(str(b, s));
}
inline Bytes be32(Bytes&& b, std::uint32_t v) {
    return std::move(be32(b, v));
}
inline Bytes be64(Bytes&& b, std::uint64_t v) {
    return std::move(be64(b, v));
}

// A message with an address, type tags (with the comma) and raw argument bytes.
inline Bytes msg(std::string_view address, std::string_view tags, const Bytes& args = {}) {
    Bytes b;
    str(b, address);
    str(b, tags);
    b.insert(b.end(), args.begin(), args.end());
    return b;
}

// A bundle with `timetag` and the given elements, each prefixed with its size.
inline Bytes bundle(std::uint64_t timetag, std::initializer_list<Bytes> elements) {
    Bytes b;
    str(b, "#bundle");
    be64(b, timetag);
    for (const Bytes& e : elements) {
        be32(b, static_cast<std::uint32_t>(e.size()));
        b.insert(b.end(), e.begin(), e.end());
    }
    return b;
}

} // namespace lockstep::osc::test
