#include "trigger_map.hpp"

#include <cstddef>

namespace lockstep::bridge {

namespace {

constexpr unsigned any_channel = 16; // scope index meaning "every channel"

// Parses a whole decimal number (digits only, no sign, no spaces) within [lo, hi].
bool parse_number(std::string_view s, unsigned lo, unsigned hi, unsigned& out) {
    if (s.empty() || s.size() > 3) {
        return false;
    }
    unsigned v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') {
            return false;
        }
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v < lo || v > hi) {
        return false;
    }
    out = v;
    return true;
}

std::string quoted(std::string_view s) {
    std::string r = "\"";
    r += s;
    r += '"';
    return r;
}

// Expected length of a channel or system message by status byte; 0 for SysEx and
// undefined status bytes.
std::size_t message_length(std::uint8_t status) noexcept RT_NONBLOCKING {
    switch (status & 0xF0U) {
    case 0x80:
    case 0x90:
    case 0xA0:
    case 0xB0:
    case 0xE0:
        return 3;
    case 0xC0:
    case 0xD0:
        return 2;
    default:
        break;
    }
    switch (status) {
    case 0xF1:
    case 0xF3:
        return 2;
    case 0xF2:
        return 3;
    case 0xF6:
    case 0xF8:
    case 0xFA:
    case 0xFB:
    case 0xFC:
    case 0xFE:
    case 0xFF:
        return 1;
    default:
        return 0; // F0 (SysEx, variable), F4, F5, F7, F9, FD: undefined alone
    }
}

} // namespace

TriggerMap TriggerMap::defaults(unsigned outputs) noexcept {
    TriggerMap m;
    for (unsigned i = 0; i < 4 && i < outputs && i < max_outputs; ++i) {
        for (auto& channel : m.masks_) {
            channel[36 + i] = static_cast<std::uint16_t>(1U << i);
        }
    }
    return m;
}

bool TriggerMap::parse(std::string_view text, unsigned outputs, std::string& error) {
    if (outputs < 1 || outputs > max_outputs) {
        error = "--map: the box must have 1..16 outputs";
        return false;
    }
    TriggerMap result;
    if (text == "none" || text.empty()) {
        *this = result;
        return true;
    }
    // Which (scope, note) pairs were given, to reject duplicates; scope 16 = any channel.
    std::array<std::array<bool, 128>, 17> seen{};
    std::array<std::array<std::uint16_t, 128>, 17> given{};
    unsigned scope = any_channel;
    std::size_t index = 0;
    std::size_t pos = 0;
    while (true) {
        ++index;
        const std::size_t comma = text.find(',', pos);
        const std::string_view whole = text.substr(
            pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
        const auto fail = [&](std::string_view why) {
            error = "--map item " + std::to_string(index) + " " + quoted(whole) + ": ";
            error += why;
            return false;
        };
        std::string_view item = whole;
        if (item.empty()) {
            return fail("empty item (expected NOTE=OUTPUT, e.g. 36=1)");
        }
        if (const std::size_t colon = item.find(':'); colon != std::string_view::npos) {
            const std::string_view sc = item.substr(0, colon);
            if (sc == "any") {
                scope = any_channel;
            } else if (sc.size() > 2 && sc.substr(0, 2) == "ch") {
                unsigned ch = 0;
                if (!parse_number(sc.substr(2), 1, 16, ch)) {
                    return fail("channel must be ch1..ch16");
                }
                scope = ch - 1;
            } else {
                return fail("unknown scope (expected chN: with N 1..16, or any:)");
            }
            item = item.substr(colon + 1);
        }
        const std::size_t eq = item.find('=');
        if (eq == std::string_view::npos) {
            return fail("expected NOTE=OUTPUT, e.g. 36=1");
        }
        unsigned note = 0;
        if (!parse_number(item.substr(0, eq), 0, 127, note)) {
            return fail("note must be a number 0..127");
        }
        std::string_view outs = item.substr(eq + 1);
        std::uint16_t mask = 0;
        while (true) {
            const std::size_t plus = outs.find('+');
            const std::string_view one = outs.substr(0, plus);
            unsigned out = 0;
            if (!parse_number(one, 1, outputs, out)) {
                return fail("output must be a number 1.." + std::to_string(outputs));
            }
            mask = static_cast<std::uint16_t>(mask | (1U << (out - 1)));
            if (plus == std::string_view::npos) {
                break;
            }
            outs = outs.substr(plus + 1);
        }
        if (seen[scope][note]) {
            return fail("note " + std::to_string(note) + " is mapped twice" +
                        (scope == any_channel ? std::string{}
                                              : " on channel " + std::to_string(scope + 1)));
        }
        seen[scope][note] = true;
        given[scope][note] = mask;
        if (comma == std::string_view::npos) {
            break;
        }
        pos = comma + 1;
    }
    // A note given for "any" and for one channel: that channel gets the union.
    for (unsigned ch = 0; ch < 16; ++ch) {
        for (unsigned n = 0; n < 128; ++n) {
            result.masks_[ch][n] = static_cast<std::uint16_t>(given[any_channel][n] | given[ch][n]);
        }
    }
    *this = result;
    return true;
}

std::string TriggerMap::to_string() const {
    std::string r;
    const auto outputs_of = [](std::uint16_t mask) {
        std::string s;
        for (unsigned o = 0; o < max_outputs; ++o) {
            if ((mask >> o) & 1U) {
                if (!s.empty()) {
                    s += '+';
                }
                s += std::to_string(o + 1);
            }
        }
        return s;
    };
    // Notes with the same mask on every channel are written in the "any" scope.
    std::array<std::uint16_t, 128> common{};
    for (unsigned n = 0; n < 128; ++n) {
        common[n] = masks_[0][n];
        for (unsigned ch = 1; ch < 16; ++ch) {
            common[n] = static_cast<std::uint16_t>(common[n] & masks_[ch][n]);
        }
        if (common[n] != 0) {
            r += (r.empty() ? "" : ",") + std::to_string(n) + "=" + outputs_of(common[n]);
        }
    }
    for (unsigned ch = 0; ch < 16; ++ch) {
        bool scoped = false;
        for (unsigned n = 0; n < 128; ++n) {
            const auto extra = static_cast<std::uint16_t>(masks_[ch][n] & ~common[n]);
            if (extra == 0) {
                continue;
            }
            if (!r.empty()) {
                r += ',';
            }
            if (!scoped) {
                r += "ch" + std::to_string(ch + 1) + ":";
                scoped = true;
            }
            r += std::to_string(n) + "=" + outputs_of(extra);
        }
    }
    return r.empty() ? std::string{"none"} : r;
}

MidiAction MidiDecoder::decode(std::span<const std::uint8_t> bytes) noexcept RT_NONBLOCKING {
    MidiAction a;
    if (bytes.empty() || bytes[0] < 0x80) {
        ++counts_.malformed; // empty, or data without a status byte (running status)
        return a;
    }
    const std::uint8_t status = bytes[0];
    if (status == 0xF0) {
        // Complete SysEx only: F0, data bytes (< 0x80), F7 last.
        const std::size_t n = bytes.size();
        if (n < 3 || bytes[n - 1] != 0xF7) {
            ++counts_.malformed;
            return a;
        }
        for (std::size_t i = 1; i + 1 < n; ++i) {
            if (bytes[i] >= 0x80) {
                ++counts_.malformed;
                return a;
            }
        }
        if (bytes[1] != sync_manufacturer) {
            ++counts_.foreign_sysex;
            return a;
        }
        if (n < 4) {
            ++counts_.malformed; // F0 7D F7: our ID without a message type
            return a;
        }
        if (bytes[2] == 0x01) {
            if (n != 11) {
                ++counts_.malformed;
                return a;
            }
            a.kind = MidiKind::step;
            a.pattern = bytes[3];
            a.step = bytes[4];
            for (std::size_t g = 0; g < 5; ++g) {
                a.track_mask |= std::uint64_t{bytes[5 + g]} << (7 * g);
            }
            ++counts_.steps;
            return a;
        }
        if (bytes[2] == 0x02) {
            if (n != 4) {
                ++counts_.malformed;
                return a;
            }
            a.kind = MidiKind::stop;
            ++counts_.stops;
            return a;
        }
        ++counts_.foreign_sysex; // another use of the non-commercial ID
        return a;
    }
    const std::size_t want = message_length(status);
    if (want == 0 || bytes.size() != want) {
        ++counts_.malformed;
        return a;
    }
    for (std::size_t i = 1; i < want; ++i) {
        if (bytes[i] >= 0x80) {
            ++counts_.malformed;
            return a;
        }
    }
    if ((status & 0xF0U) == 0x90 && bytes[2] != 0) {
        const std::uint16_t outs = map_->outputs(status & 0x0FU, bytes[1]);
        if (outs != 0) {
            a.kind = MidiKind::trigger;
            a.outputs = outs;
            a.velocity = bytes[2];
            ++counts_.triggers;
            return a;
        }
    }
    ++counts_.ignored; // note-off, velocity-0 note-on, unmapped note, anything else
    return a;
}

} // namespace lockstep::bridge
