// The MIDI side of lockstep-bridge: what one JACK MIDI event means for the box.
//
// JACK MIDI hands over complete messages (no running status), so each event is decoded on
// its own: a mapped note-on becomes a trigger on one or more outputs, the sequencer's
// `sync` SysEx (docs/seq.md, "Ports") becomes a step for the display, its stop SysEx a
// stop. Everything else is ignored; anything malformed is counted, never trusted.
//
// The note map (`--map`, docs/bridge.md "Note map"):
//   map     := "" | "none" | item ("," item)*
//   item    := [scope ":"] note "=" output ("+" output)*
//   scope   := "ch" 1..16 | "any"     (sticky: applies to the items after it)
//   note    := 0..127                 output := 1..outputs
// e.g. "36=1,37=2,38=3,39=4" (any channel), "ch10:36=1,37=2", "36=1+2,ch1:60=3,any:40=4".
// A note given twice for the same channel scope is an error, as are empty items, numbers out
// of range or with junk after them, and unknown scopes.
#pragma once

#include "rt/rt.hpp"

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace lockstep::bridge {

// Note number -> output mask (bit i = output i+1), per MIDI channel (0..15).
// Thread: built on the control thread; read-only afterwards, so any thread may decode with it.
class TriggerMap {
public:
    static constexpr unsigned max_outputs = 16;

    // The default: notes 36-39 -> outputs 1-4 on every channel (only outputs < `outputs`).
    static TriggerMap defaults(unsigned outputs = 4) noexcept;
    // An empty map (no note triggers anything).
    TriggerMap() noexcept = default;

    // Control thread. Parses a `--map` string for a box with `outputs` outputs (1..16).
    // On success returns true and replaces *this; on failure leaves *this alone and puts one
    // clear line in `error` (e.g. "--map item 2 \"37=x\": output must be 1..4").
    bool parse(std::string_view text, unsigned outputs, std::string& error);

    // Outputs driven by `note` (0..127) on `channel` (0..15); 0 when none.
    std::uint16_t outputs(unsigned channel, unsigned note) const noexcept RT_NONBLOCKING {
        return channel < 16 && note < 128 ? masks_[channel][note] : std::uint16_t{0};
    }
    // The map written back in the parse syntax (scopes "any" first, then ch1..ch16).
    std::string to_string() const;

    friend bool operator==(const TriggerMap&, const TriggerMap&) = default;

private:
    std::array<std::array<std::uint16_t, 128>, 16> masks_{};
};

// The `sync` port's SysEx, manufacturer ID 0x7D (non-commercial).
inline constexpr std::uint8_t sync_manufacturer = 0x7D;

enum class MidiKind : std::uint8_t {
    none,    // nothing for the bridge (unmapped note, note-off, other messages)
    trigger, // fire `outputs`
    step,    // `sync` step: pattern, step, track mask
    stop,    // `sync` stop
};

struct MidiAction {
    MidiKind kind = MidiKind::none;
    std::uint16_t outputs = 0;    // trigger: output mask
    std::uint8_t velocity = 0;    // trigger: the note's velocity (1..127)
    std::uint8_t pattern = 0;     // step: 0..127
    std::uint8_t step = 0;        // step: 0..127
    std::uint64_t track_mask = 0; // step: 35 bits, bit t = track t+1 fires
};

struct MidiCounts {
    std::uint64_t triggers = 0;
    std::uint64_t steps = 0;
    std::uint64_t stops = 0;
    std::uint64_t ignored = 0;       // well-formed but nothing for us (incl. unmapped notes)
    std::uint64_t foreign_sysex = 0; // well-formed SysEx of another manufacturer
    std::uint64_t malformed = 0;     // wrong length, stray data bytes, bad SysEx
};

// Thread: whichever thread owns it (the bridge's process thread, RT): no allocation.
class MidiDecoder {
public:
    explicit MidiDecoder(const TriggerMap& map) noexcept : map_(&map) {}

    // Decodes one complete MIDI message and counts it.
    MidiAction decode(std::span<const std::uint8_t> bytes) noexcept RT_NONBLOCKING;

    const MidiCounts& counts() const noexcept RT_NONBLOCKING { return counts_; }

private:
    const TriggerMap* map_;
    MidiCounts counts_{};
};

} // namespace lockstep::bridge
