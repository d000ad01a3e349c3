// The autosampler's pure bookkeeping (docs/capture.md "Autosampler"): which notes a
// session plays and in which order, how their files are named (so that samplers map
// them automatically), which of them an interrupted session already recorded, and the SFZ
// that maps key and velocity ranges over the gaps between the sampled notes.
// Plain functions, no I/O except scan_recorded(). Thread: any non-RT thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace lockstep::capture::autosample {

// One recording: a note at a velocity, the n-th round robin (1-based).
struct NoteId {
    int note = 60;
    int velocity = 127;
    int rr = 1;
    friend auto operator<=>(const NoteId&, const NoteId&) = default;
};

struct PlanSpec {
    int low = 36;  // first note
    int high = 84; // last note (played when (high - low) is a multiple of step)
    int step = 1;  // semitones between sampled notes
    std::vector<int> velocities{127};
    int round_robins = 1;
};

// Notes low, low+step, ... <= high; for each note every velocity (in the given order)
// and every round robin. Returns an empty plan for an invalid spec (see check_plan).
std::vector<NoteId> make_plan(const PlanSpec& spec);
// "" or why the spec cannot be played (range, step, velocities 1-127, rr 1-100).
std::string check_plan(const PlanSpec& spec);

// "C4" for 60, "C#4" for 61, "C-1" for 0 (the SFZ convention: c4 = 60).
std::string note_name(int note);
// 60 from "60", "c4", "C#4", "Db4", "c-1"; nullopt otherwise.
std::optional<int> parse_note(std::string_view text);
// "LOW:HIGH[:STEP]" with notes as numbers or names, e.g. "36:84:3", "c2:c6:4".
std::optional<PlanSpec> parse_range(std::string_view text, std::string& error);
// "40,80,127" -> {40, 80, 127} (each 1-127, strictly increasing).
std::optional<std::vector<int>> parse_velocities(std::string_view text, std::string& error);

// "<name>_<note 3 digits>_<note name>_v<velocity 3 digits>_rr<n>.wav", e.g.
// "piano_060_C4_v127_rr1.wav". `name` must be a valid set name (check_set_name).
std::string file_name(std::string_view name, const NoteId& id);
// The NoteId a file name of set `name` stands for (the exact inverse of file_name).
std::optional<NoteId> parse_file_name(std::string_view name, std::string_view file);
// "" or why `name` cannot name a set (empty, '/', leading '.', control characters).
std::string check_set_name(std::string_view name);

// Resume: the notes whose files (named by file_name) exist in `dir`. Missing dir: none.
std::set<NoteId> scan_recorded(const std::filesystem::path& dir, std::string_view name);
// The plan without the recorded notes, in plan order.
std::vector<NoteId> pending(const std::vector<NoteId>& plan, const std::set<NoteId>& recorded);

// ---- SFZ mapping ---------------------------------------------------------------------------
struct Range {
    int lo = 0;
    int hi = 127;
    friend bool operator==(const Range&, const Range&) = default;
};
// Key ranges for sorted, distinct roots: the k keys between two roots are split, the lower
// root taking k/2 (rounded down) and the upper the rest (a middle key is pitched down, which
// sounds more natural than up); the outermost roots reach out as if another root stood
// beyond them at the same distance as their inner neighbour (a single root gets only
// itself). Clamped to 0-127.
std::vector<Range> key_ranges(const std::vector<int>& roots);
// Velocity ranges for sorted, distinct layers: a layer recorded at velocity v plays for
// velocities above the layer below it up to v; the first starts at 1, the last ends at 127.
std::vector<Range> velocity_ranges(const std::vector<int>& velocities);

// Where one sample plays, derived from the samples present only (a partial set maps
// what it has): key ranges over every root present; velocity ranges over the layers
// present at this root; round robins over the takes present of this note and layer
// (seq_position 1..seq_length in take order).
struct RegionMap {
    NoteId id;
    Range key;
    Range vel;
    int seq_length = 1;
    int seq_position = 1;
};
// In the order given; `ids` distinct.
std::vector<RegionMap> map_regions(const std::vector<NoteId>& ids);

struct SfzSample {
    NoteId id;
    std::string file; // relative to the SFZ's folder
};
// The SFZ text: one <region> per sample with sample, pitch_keycenter, lokey/hikey,
// lovel/hivel (map_regions), and seq_length/seq_position when its note and layer has
// several takes; sorted by take, note, velocity.
std::string make_sfz(std::string_view name, const std::vector<SfzSample>& samples);

} // namespace lockstep::capture::autosample
