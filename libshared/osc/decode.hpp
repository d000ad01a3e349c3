// Decodes an OSC packet into messages, each with the timetag it is due at. The same walk
// as validate() checks every byte first (osc/walk.hpp), so a packet the validator refuses
// is never decoded. Thread: any; allocates (control thread).
#pragma once

#include "osc/message.hpp"
#include "osc/validate.hpp"

#include <vector>

namespace lockstep::osc {

struct Element {
    // When the message is due: kImmediate for a bare message, else its bundle's timetag
    // (never earlier than any enclosing bundle's).
    std::uint64_t timetag = kImmediate;
    Message message;
};

struct Decoded {
    Verdict verdict;
    std::vector<Element> elements; // empty unless verdict.ok(); in packet order

    bool ok() const noexcept { return verdict.ok(); }
};

Decoded decode(std::span<const std::uint8_t> packet, const Limits& limits = {});

} // namespace lockstep::osc
