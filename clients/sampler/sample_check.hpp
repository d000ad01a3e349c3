// Checks a sample file's bytes BEFORE any decoder sees them. libsndfile has unreleased
// overflow fixes in its compressed-in-WAV paths (ADPCM & co.), so only containers and
// encodings we can name are let through: WAV/RF64 (PCM or IEEE float, also inside
// WAVE_FORMAT_EXTENSIBLE), AIFF and AIFF-C (NONE, sowt, fl32/FL32) and FLAC (STREAMINFO
// checked). The loader then decodes exactly the bytes that were checked (from memory).
//
// Threads: any non-RT thread. Pure: no I/O, no allocation beyond the reason string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace lockstep::sampler {

struct SampleLimits {
    std::uint64_t max_file_bytes = 512ULL << 20; // 512 MiB
    double max_seconds = 600.0;                  // 10 minutes per sample
    // 1 or 2: the sampler has a stereo output; more channels would have to be mixed down
    // in a way the user did not choose, so they are refused rather than guessed at.
    std::uint32_t max_channels = 2;
    std::uint32_t min_rate = 8000;
    std::uint32_t max_rate = 384000;
};

enum class SampleFormat : std::uint8_t { wav, rf64, aiff, aifc, flac };

struct SampleInfo {
    SampleFormat format = SampleFormat::wav;
    std::uint32_t channels = 0;
    std::uint32_t rate = 0;
    std::uint32_t bits = 0; // bits per sample as stored
    bool is_float = false;
    std::uint64_t frames = 0;
};

struct SampleCheck {
    bool ok = false;
    std::string reason; // why it was refused, in one line ("WAV: IMA ADPCM is not supported ...")
    SampleInfo info;
};

// Checks the whole file's bytes.
SampleCheck check_sample(std::span<const std::uint8_t> bytes, const SampleLimits& limits = {});

const char* format_name(SampleFormat f);

} // namespace lockstep::sampler
