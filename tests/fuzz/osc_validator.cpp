// Fuzz target for the OSC validator (libshared/osc/validate.hpp) and everything that runs
// on a packet it accepts: our decoder, our encoder, and liblo's deserialiser, which must
// be safe on every message the validator lets through (liblo 0.31 over-reads on some
// malformed ones). Any disagreement or round-trip difference aborts.
#include "osc/decode.hpp"
#include "osc/message.hpp"
#include "osc/validate.hpp"

#include <lo/lo.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

std::uint32_t be32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           p[3];
}

// Hands each message of an accepted packet to liblo, copied into an exact-size heap
// block so ASan sees any read past its end.
void feed_liblo(const std::uint8_t* data, std::size_t size) {
    if (data[0] == '#') {
        std::size_t pos = 16;
        while (pos < size) {
            const std::size_t element = be32(data + pos);
            feed_liblo(data + pos + 4, element);
            pos += 4 + element;
        }
        return;
    }
    void* copy = std::malloc(size);
    std::memcpy(copy, data, size);
    int result = 0;
    if (lo_message m = lo_message_deserialise(copy, size, &result)) {
        lo_message_free(m);
    }
    std::free(copy);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace lockstep::osc;
    const std::span<const std::uint8_t> packet(data, size);
    const Verdict verdict = validate(packet);
    const Decoded decoded = decode(packet);
    if (decoded.verdict.reason != verdict.reason || decoded.verdict.offset != verdict.offset) {
        std::abort(); // validator and decoder disagree
    }
    if (!verdict.ok()) {
        return 0;
    }
    for (const Element& e : decoded.elements) {
        const std::vector<std::uint8_t> bytes = encode(e.message);
        const Decoded again = decode(bytes);
        if (!again.ok() || again.elements.size() != 1 ||
            encode(again.elements[0].message) != bytes) {
            std::abort(); // our encoder wrote something our decoder reads differently
        }
    }
    feed_liblo(data, size);
    return 0;
}
