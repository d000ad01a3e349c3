// Fuzz target: lockstep-bridge's outside inputs that are not the serial link: the `--map`
// option string and the JACK MIDI events it decodes (clients/bridge/trigger_map.*).
// First byte even: the rest is a --map string. It must be accepted or refused with a reason,
// a refusal must leave the map alone, and an accepted map must survive to_string() and back.
// First byte odd: the rest is a list of MIDI events, each a length byte and that many bytes.
// Every event must be counted exactly once, and what is decoded must be in range.
#include "../../clients/bridge/trigger_map.hpp"

#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    using namespace lockstep::bridge;
    if (size == 0) {
        return 0;
    }
    if ((bytes[0] & 1U) == 0) {
        const std::string_view text(reinterpret_cast<const char*>(bytes + 1), size - 1);
        const unsigned outputs = 1U + (bytes[0] >> 1U) % 16U;
        TriggerMap map = TriggerMap::defaults();
        std::string error;
        if (!map.parse(text, outputs, error)) {
            if (error.empty() || !(map == TriggerMap::defaults())) {
                std::abort();
            }
            return 0;
        }
        TriggerMap again;
        if (!again.parse(map.to_string(), outputs, error) || !(again == map)) {
            std::abort();
        }
        return 0;
    }
    const TriggerMap map = TriggerMap::defaults();
    MidiDecoder decoder(map);
    std::size_t events = 0;
    std::size_t pos = 1;
    while (pos < size) {
        const std::size_t n = bytes[pos++];
        const std::size_t take = n < size - pos ? n : size - pos;
        const MidiAction a = decoder.decode(std::span<const std::uint8_t>(bytes + pos, take));
        pos += take;
        ++events;
        if ((a.kind == MidiKind::trigger &&
             (a.outputs == 0 || a.outputs > 0xF || a.velocity == 0)) ||
            (a.kind == MidiKind::step && (a.track_mask >> 35U) != 0) || a.pattern > 127 ||
            a.step > 127) {
            std::abort();
        }
    }
    const MidiCounts& c = decoder.counts();
    if (c.triggers + c.steps + c.stops + c.ignored + c.foreign_sysex + c.malformed != events) {
        std::abort();
    }
    return 0;
}
