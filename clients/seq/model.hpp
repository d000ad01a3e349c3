// lockstep-seq's data model: tracks, patterns, the song chain and the settings that a
// state file saves. Plain fixed-size data (trivially copyable, no heap inside), so that a
// whole Model is copied, edited and published as one immutable snapshot: the audio thread
// sees the old model or the new one, never half of an edit (docs/seq.md, "Edits").
//
// Threads: a Model is built and edited on the control thread, then published; the audio
// thread only reads published snapshots. Every function here is pure (any thread).
#pragma once

#include "time/rational.hpp"

#include <array>
#include <cstdint>
#include <type_traits>

namespace lockstep::seq {

inline constexpr int max_tracks = 32;
inline constexpr int default_tracks = 8;
inline constexpr int max_steps = 64;
inline constexpr int default_steps = 16;
inline constexpr int max_patterns = 64;
inline constexpr int max_chain = 128;
inline constexpr int max_layers = 4;              // notes per track; a step's layer mask picks them
inline constexpr int max_ratchet = 8;             // hits per step
inline constexpr int micro_units = 96;            // microtiming and gate are in 1/96 of a step
inline constexpr int max_micro = 48;              // microtiming in [-48, +48] / 96 of a step
inline constexpr int max_repeats = 64;            // repeats of one song-chain slot
inline constexpr std::int64_t swing_units = 1000; // swing in 1/1000, 0 .. 1000
inline constexpr std::int64_t tempo_units = 1000; // float tempos are read to 1/1000 BPM

// One step of one track in one pattern.
struct Step {
    bool on = false;
    std::uint8_t velocity = 100;    // 1 .. 127
    std::uint8_t probability = 100; // percent, 0 .. 100 (reproducible for a --seed)
    std::uint8_t ratchet = 1;       // 1 .. max_ratchet evenly spaced hits within the step
    std::int8_t micro = 0;          // -max_micro .. +max_micro, in 1/96 of a step
    std::uint8_t layers = 1;        // bit l fires the track's note l (if that note is set)
    friend bool operator==(const Step&, const Step&) = default;
};

// A pattern: every track's steps over `steps` steps that last `beats` beats in all (16 over
// 4 beats = sixteenths; 12 over 4 = eighth-note triplets).
struct Pattern {
    std::uint8_t steps = default_steps; // 1 .. max_steps
    std::int32_t beats_num = 4;         // length in beats = beats_num / beats_den, > 0
    std::int32_t beats_den = 1;         //   (kept reduced; den <= 64*96)
    std::int16_t swing = 0;             // 0 .. swing_units (1000 = odd steps half a step late)
    std::array<std::array<Step, max_steps>, max_tracks> grid{}; // [track][step]
    friend bool operator==(const Pattern&, const Pattern&) = default;

    Rational length() const noexcept { return Rational(beats_num, beats_den); }
    // Length of one step in beats.
    Rational step_length() const noexcept {
        return Rational(beats_num, std::int64_t{beats_den} * steps);
    }
};

struct Track {
    std::uint8_t channel = 9;                    // 0 .. 15 (9 = MIDI channel 10)
    std::array<std::int8_t, max_layers> notes{}; // -1: no note on that layer
    std::uint8_t gate = 48;                      // 1 .. 96, in 1/96 of a (ratchet) hit's length
    bool mute = false;
    bool solo = false;
    friend bool operator==(const Track&, const Track&) = default;
};

struct ChainSlot {
    std::uint8_t pattern = 0; // 0 .. max_patterns - 1
    std::uint8_t repeats = 1; // 1 .. max_repeats
    friend bool operator==(const ChainSlot&, const ChainSlot&) = default;
};

struct Song {
    bool enabled = false;    // song mode: play the chain; otherwise loop the selected pattern
    bool loop = true;        // at the chain's end: start again, or stop
    std::uint8_t length = 0; // used slots, 0 .. max_chain
    std::array<ChainSlot, max_chain> chain{};
    friend bool operator==(const Song&, const Song&) = default;
};

struct Model {
    std::uint8_t tracks = default_tracks; // 1 .. max_tracks tracks in use
    std::uint8_t selected = 0;            // the pattern played (pattern mode) and edited
    std::array<Track, max_tracks> track{};
    std::array<Pattern, max_patterns> pattern{};
    Song song;
    friend bool operator==(const Model&, const Model&) = default;
};

static_assert(std::is_trivially_copyable_v<Model>);

// The defaults a fresh client starts with: 8 tracks, track t on MIDI channel 10 with note
// 36 + t on layer 0, every pattern 16 steps over 4 beats, everything off.
Model default_model() noexcept;

// Why a model (e.g. read from a state file) is not valid, or nullptr when it is.
const char* check(const Model& m) noexcept;

} // namespace lockstep::seq
