// lockstep-onsets (docs/capture.md "Demo"): every onset in a take, matched against the
// frames a sequencer scheduled its notes at. Plain functions, no I/O.
// Thread: any non-RT thread (they allocate); never the audio thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace lockstep::capture::onsets {

// The detector works on the second difference of each channel (x[n] - 2x[n-1] + x[n-2],
// silence before the take): a smooth decay (a kick's low sine) nearly vanishes in it while
// a new hit's first sample stands out, so hits are found where they start even when the
// previous one still sounds (eighth notes of a drum kit never fall back to silence, which
// the autosampler's find_onset, made for one note after a silent pre-roll, needs).
// Frame n is an onset when the frame peak of that signal exceeds `threshold` and `ratio`
// times the largest frame peak of the `window` frames before it; after an onset the next
// one is looked for `hold` frames later at the earliest (a hit's own first samples rise).
struct Detector {
    float threshold = 1e-3F; // -60 dBFS: above 16-bit samples' rounding (4 LSB in a 2nd difference)
    float ratio = 2.0F;      // +6 dB over the recent past
    std::size_t window = 64;
    std::size_t hold = 240; // 5 ms at 48 kHz
};

// Frame indices (into x, interleaved `channels` wide) of every onset, ascending.
std::vector<std::size_t> detect(std::span<const float> x, std::uint32_t channels,
                                const Detector& d = {});

// One scheduled note and what was found for it. Frames are absolute (JACK frames).
struct Note {
    std::int64_t frame = 0;
    int note = -1; // MIDI note number, -1 when not given
};
struct Match {
    Note note;
    std::optional<std::int64_t> onset; // nullopt: no onset within the tolerance
};
struct Report {
    std::vector<Match> matches;      // the notes inside the take, by frame, then note
    std::vector<std::int64_t> extra; // onsets no note accounts for
    std::size_t outside = 0;         // notes before or after the take (not checked)
    std::int64_t max_abs_difference = 0;
    std::size_t missing = 0;
    // Every note found at its frame and no extra onset.
    bool exact() const { return missing == 0 && extra.empty() && max_abs_difference == 0; }
};

// Notes at the same frame share one onset (a kick and a hat on the same step are one
// hit). Each distinct scheduled frame inside [take_first, take_first + take_frames) takes
// the nearest onset within `tolerance` frames that no earlier frame took; onsets left over
// are extra. `onsets` are absolute frames, ascending.
Report match(std::vector<Note> notes, std::span<const std::int64_t> onsets, std::int64_t take_first,
             std::int64_t take_frames, std::int64_t tolerance);

// "FRAME [NOTE]" per line; blank lines and lines starting with '#' are skipped. nullopt
// (and `error` set) on the first line that is neither.
std::optional<std::vector<Note>> parse_notes(const std::string& text, std::string& error);

// Step-grid frames inside [first, first + frames): origin + ceil(k * num / den) for every
// integer k (negative too), with k itself, so every 4th (a beat) can be drawn darker.
struct GridLine {
    std::int64_t frame = 0;
    std::int64_t step = 0;
};
std::vector<GridLine> grid(std::int64_t origin, std::int64_t num, std::int64_t den,
                           std::int64_t first, std::int64_t frames);

} // namespace lockstep::capture::onsets
