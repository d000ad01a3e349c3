// SFZ parser for the subset a drum or multisample kit needs (docs/kits.md lists it).
// Pure text in, plain regions out: no file access here (the loader reads the file and
// resolves sample paths), so the fuzz target drives exactly what users' files reach.
//
// Threads: any non-RT thread (allocates). Never called from the audio thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lockstep::sampler {

struct SfzLimits {
    std::size_t max_bytes = 1U << 20; // whole file (a 4,096-region kit is ~400 KiB)
    std::size_t max_line = 4096;      // characters per line
    std::size_t max_regions = 4096;   // <region> headers
    std::size_t max_warnings = 64;    // distinct warnings kept (more are counted)
};

// `output=K` range: the sampler has at most 16 group pairs (--group-outs).
inline constexpr int max_sfz_output = 16;

enum class LoopMode : std::uint8_t {
    gated,    // no_loop (SFZ default): plays to the sample's end or until note-off + release
    one_shot, // plays to the end; note-off is ignored
};

// One <region> with <global>/<master>/<group> values inherited and defaults applied.
struct SfzRegion {
    std::string sample; // as written, '\\' turned into '/', default_path prepended
    int line = 0;       // line of the <region> header (for messages)
    std::uint8_t lokey = 0, hikey = 127;
    std::uint8_t lovel = 0, hivel = 127;
    std::uint8_t pitch_keycenter = 60;
    std::uint16_t seq_length = 1, seq_position = 1;
    double lorand = 0.0, hirand = 1.0;
    std::int64_t group = 0, off_by = 0; // 0 = no group / chokes nothing
    double volume = 0.0;                // dB
    double pan = 0.0;                   // -100 (left) .. 100 (right)
    int tune = 0;                       // cents
    int transpose = 0;                  // semitones
    LoopMode loop_mode = LoopMode::gated;
    double ampeg_attack = 0.0, ampeg_decay = 0.0, ampeg_release = 0.0; // seconds
    double ampeg_sustain = 100.0;                                      // percent
    std::uint8_t output = 0; // 0 = main pair, K = group pair K (0..max_sfz_output)
};

struct SfzDocument {
    std::vector<SfzRegion> regions;
    std::string default_path;          // from <control>, already normalised
    std::vector<std::string> warnings; // unknown opcodes/headers (once each), ignored values
    std::size_t warnings_dropped = 0;  // beyond SfzLimits::max_warnings
};

struct SfzResult {
    bool ok = false;
    int error_line = 0; // 1-based; 0 when the error is not about one line (e.g. size)
    std::string error;  // "line 12: lokey: 'c#x' is not a MIDI note (0-127 or a name like c#4)"
    SfzDocument document;
};

// Parses SFZ text. Malformed input gives ok=false and one clear error with its line;
// unknown opcodes and headers give one warning each and are ignored. #define and
// #include are not supported (an error says so rather than loading the wrong files).
SfzResult parse_sfz(std::string_view text, const SfzLimits& limits = {});

// A MIDI note number from "60", "c4", "C#4", "db-1" (c4 = 60, as in the SFZ spec);
// -1 when it is neither. Exposed for tests.
int parse_note(std::string_view text);

} // namespace lockstep::sampler
