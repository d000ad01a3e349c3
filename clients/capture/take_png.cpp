#include "take_png.hpp"

#include <png.h>

#include <algorithm>
#include <cstdio>

namespace lockstep::capture::onsets {

int column(std::int64_t f, std::int64_t first, std::int64_t frames, int width) noexcept {
    if (frames <= 0 || width <= 0) {
        return 0;
    }
    const std::int64_t c = (f - first) * width / frames;
    return static_cast<int>(std::clamp<std::int64_t>(c, 0, width - 1));
}

Image draw(std::span<const float> x, std::uint32_t channels, std::int64_t first,
           std::span<const GridLine> grid, std::span<const std::int64_t> onsets,
           std::span<const Note> notes, int width, int height) {
    Image img;
    img.width = std::max(width, 1);
    img.height = std::max(height, note_tick_height + 2);
    img.pixels.assign(static_cast<std::size_t>(img.width) * static_cast<std::size_t>(img.height),
                      background);
    const std::int64_t frames = channels == 0 ? 0 : static_cast<std::int64_t>(x.size() / channels);
    const auto vline = [&](int col, int from, int to, Rgb colour) {
        for (int y = from; y < to; ++y) {
            img.at(col, y) = colour;
        }
    };
    for (const GridLine& g : grid) {
        vline(column(g.frame, first, frames, img.width), 0, img.height,
              g.step % 4 == 0 ? beat_colour : step_colour);
    }
    // Waveform: samples in [-1, 1] map to rows [height-1, 0] of the area above the ticks.
    const int area = img.height - note_tick_height;
    const auto row = [&](float v) {
        const float c = std::clamp(v, -1.0F, 1.0F);
        return std::clamp(static_cast<int>((1.0F - c) * 0.5F * static_cast<float>(area - 1) + 0.5F),
                          0, area - 1);
    };
    for (int col = 0; col < img.width && frames > 0; ++col) {
        const std::int64_t a = frames * col / img.width;
        const std::int64_t b = std::max(frames * (col + 1) / img.width, a + 1);
        float lo = 1.0F;
        float hi = -1.0F;
        for (std::int64_t i = a; i < b && i < frames; ++i) {
            for (std::uint32_t c = 0; c < channels; ++c) {
                const float v = x[static_cast<std::size_t>(i) * channels + c];
                lo = std::min(lo, v);
                hi = std::max(hi, v);
            }
        }
        if (lo <= hi) {
            vline(col, row(hi), row(lo) + 1, wave_colour);
        }
    }
    for (const std::int64_t o : onsets) {
        vline(column(o, first, frames, img.width), 0, area, onset_colour);
    }
    for (const Note& n : notes) {
        if (n.frame >= first && n.frame < first + frames) {
            vline(column(n.frame, first, frames, img.width), area, img.height, note_colour);
        }
    }
    return img;
}

bool write_png(const std::string& path, const Image& image, std::string& error) {
    // libpng's simplified API: no setjmp, errors come back in the image's message.
    png_image png{};
    png.version = PNG_IMAGE_VERSION;
    png.width = static_cast<png_uint_32>(image.width);
    png.height = static_cast<png_uint_32>(image.height);
    png.format = PNG_FORMAT_RGB;
    static_assert(sizeof(Rgb) == 3);
    if (png_image_write_to_file(&png, path.c_str(), 0, image.pixels.data(), 0, nullptr) == 0) {
        error = path + ": " + png.message;
        png_image_free(&png);
        return false;
    }
    return true;
}

} // namespace lockstep::capture::onsets
