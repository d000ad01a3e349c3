// The autosampler's analysis of one recorded note (docs/capture.md "Autosampler"): noise
// floor from the pre-roll, onset detection against it, the end of the release, trimming,
// fades, and the normalisation gain. Audio is interleaved float, `channels` wide; a frame
// is loud when any of its channels is. Plain functions, no I/O.
// Thread: any non-RT thread (they allocate); never the audio thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace lockstep::capture::autosample {

// Largest |sample| over the channels of frame i.
float frame_peak(std::span<const float> x, std::uint32_t channels, std::size_t i) noexcept;
// Peak and RMS (over all samples) of frames [from, to).
struct Level {
    float peak = 0.0F;
    float rms = 0.0F;
};
Level level(std::span<const float> x, std::uint32_t channels, std::size_t from,
            std::size_t to) noexcept;

// The onset: the first frame at or after `from` whose peak exceeds `threshold`, moved back
// over the frames just before it that are still above the noise peak `noise` (a soft
// attack rising out of the noise starts where it leaves the noise, not where it crosses
// the threshold), but never before `from`. nullopt when no frame exceeds the threshold.
std::optional<std::size_t> find_onset(std::span<const float> x, std::uint32_t channels,
                                      std::size_t from, float noise, float threshold) noexcept;

// The end of the sound: scanning from `from`, the first frame that begins `window` frames
// in a row at or below `threshold`, moved back to just after the last loud frame before
// it (so the file keeps the whole decay down to the threshold). nullopt when the audio
// ends before such a window is complete.
std::optional<std::size_t> find_end(std::span<const float> x, std::uint32_t channels,
                                    std::size_t from, float threshold, std::size_t window) noexcept;

// Linear fades: the first `in` frames rise from 1/(in+1) (never 0: the onset sample stays
// audible), the last `out` frames fall to 0 at the last frame. Shorter files get shorter
// fades (at most half the file each).
void apply_fades(std::span<float> x, std::uint32_t channels, std::size_t in,
                 std::size_t out) noexcept;

// The gain that brings `peak` to `target` (both linear); 1 for silence.
double normalise_gain(float peak, float target) noexcept;

struct Thresholds {
    float onset_floor = 1e-4F;     // onset threshold never below -80 dBFS
    float onset_over_noise = 4.0F; // nor below the noise peak +12 dB
    float end_floor = 1e-3F;       // the release ends below -60 dBFS ...
    float end_over_noise = 2.0F;   // ... or the noise peak +6 dB, whichever is higher
};

// The noise floor is measured on the first noise_frames(preroll) frames of a pre-roll
// (its first half); the rest is checked against it: sound there came before the
// compensated note-on (latency too high, or a stray sound).
std::size_t noise_frames(std::size_t preroll) noexcept;

// The onset threshold over a noise peak.
float onset_threshold(float noise_peak, const Thresholds& t) noexcept;

// One note analysed: `x` holds the recording from the start of its pre-roll; the first
// `preroll` frames should be noise only (they end where the latency-compensated note-on
// lands).
// `release_from` is where the note-off lands: the end is searched from there. The end
// threshold is relative to `noise_floor` when it is >= 0 (the set's floor, so that every
// note ends at the same level), else to this pre-roll's noise.
struct Analysis {
    bool ok = false;                // an onset was found
    std::size_t onset = 0;          // frame index in x
    std::optional<std::size_t> end; // frame index in x (exclusive); nullopt: still sounding
    Level noise;                    // of the pre-roll's first noise_frames(preroll)
    float peak = 0.0F;              // of [onset, end)
    bool clipped = false;           // a sample at or above full scale (0.999)
    bool onset_in_preroll = false;  // sound before the note-on's frame: latency too high?
    float onset_threshold = 0.0F;
    float end_threshold = 0.0F;
};
Analysis analyse(std::span<const float> x, std::uint32_t channels, std::size_t preroll,
                 std::size_t release_from, std::size_t end_window, const Thresholds& t = {},
                 float noise_floor = -1.0F);

} // namespace lockstep::capture::autosample
