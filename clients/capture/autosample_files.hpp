// The autosampler's sample files: WAV with a BWF bext chunk (time reference = JACK frame
// of the first sample, description = the note's metadata) and, for the finished set, a
// `smpl` chunk holding the root key (MIDIUnityNote; libsndfile writes it from
// SF_INSTRUMENT, whose key/velocity ranges it does not store in WAV: the SFZ has them). Files are
// written under a temporary name and renamed into place, so a file that exists is complete (what
// resuming relies on). Thread: any non-RT thread.
#pragma once

#include "writer.hpp" // SampleFormat

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lockstep::capture::autosample {

struct SampleMeta {
    std::uint64_t time_reference = 0; // JACK frame of the first sample
    std::string description;          // e.g. "note_on=123 onset=456 latency=300"
    // smpl: root key (written when root_key >= 0); the ranges are not stored in WAV
    int root_key = -1;
    int key_lo = 0, key_hi = 127, vel_lo = 1, vel_hi = 127;
};

struct SampleAudio {
    std::uint32_t channels = 1;
    std::uint32_t rate = 48000;
    std::vector<float> samples; // interleaved
    std::size_t frames() const { return channels == 0 ? 0 : samples.size() / channels; }
};

// Writes `audio` to `path` (temp file + rename; replaces an existing file). `sample` is
// the file's sample format; float data beyond full scale is clipped by libsndfile for PCM.
bool write_sample(const std::string& path, const SampleAudio& audio, SampleFormat sample,
                  const SampleMeta& meta, std::string& error);

// Reads a file written by write_sample (or any WAV): audio and metadata (root_key -1
// without a smpl chunk).
bool read_sample(const std::string& path, SampleAudio& audio, SampleMeta& meta, std::string& error);

// A number after "key=" in a description, e.g. value_of("note_on=12 onset=40", "onset").
std::optional<std::int64_t> value_of(const std::string& description, const std::string& key);

} // namespace lockstep::capture::autosample
