// A picture of a take for lockstep-onsets (docs/capture.md "Demo"): the waveform (smallest
// and largest sample of each pixel column, all channels), the step grid as vertical lines
// (every 4th step, a beat, darker), each onset as a red line over the whole height and each
// scheduled note as a blue tick along the bottom. Written as an 8-bit RGB PNG with libpng.
// Thread: any non-RT thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "onsets.hpp"

namespace lockstep::capture::onsets {

struct Rgb {
    std::uint8_t r = 0, g = 0, b = 0;
    bool operator==(const Rgb&) const = default;
};
inline constexpr Rgb background{255, 255, 255};
inline constexpr Rgb wave_colour{40, 40, 40};
inline constexpr Rgb step_colour{215, 215, 215};
inline constexpr Rgb beat_colour{150, 150, 150};
inline constexpr Rgb onset_colour{220, 0, 0};
inline constexpr Rgb note_colour{0, 70, 220};
inline constexpr int note_tick_height = 12; // pixels at the bottom

struct Image {
    int width = 0;
    int height = 0;
    std::vector<Rgb> pixels; // row by row, top first
    Rgb& at(int x, int y) { return pixels[static_cast<std::size_t>(y * width + x)]; }
    const Rgb& at(int x, int y) const { return pixels[static_cast<std::size_t>(y * width + x)]; }
};

// The pixel column of absolute frame f in a take of `frames` frames from `first`.
int column(std::int64_t f, std::int64_t first, std::int64_t frames, int width) noexcept;

// x: the take, interleaved `channels` wide, its first frame is `first` (absolute).
Image draw(std::span<const float> x, std::uint32_t channels, std::int64_t first,
           std::span<const GridLine> grid, std::span<const std::int64_t> onsets,
           std::span<const Note> notes, int width, int height);

// Writes `image` as a PNG; false with `error` set when it cannot.
bool write_png(const std::string& path, const Image& image, std::string& error);

} // namespace lockstep::capture::onsets
