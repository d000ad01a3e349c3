#include "autosample_dsp.hpp"

#include <algorithm>
#include <cmath>

namespace lockstep::capture::autosample {

float frame_peak(std::span<const float> x, std::uint32_t channels, std::size_t i) noexcept {
    float p = 0.0F;
    for (std::uint32_t c = 0; c < channels; ++c) {
        p = std::max(p, std::fabs(x[i * channels + c]));
    }
    return p;
}

Level level(std::span<const float> x, std::uint32_t channels, std::size_t from,
            std::size_t to) noexcept {
    Level l;
    const std::size_t frames = x.size() / channels;
    to = std::min(to, frames);
    if (from >= to) {
        return l;
    }
    double sumsq = 0.0;
    for (std::size_t i = from * channels; i < to * channels; ++i) {
        l.peak = std::max(l.peak, std::fabs(x[i]));
        sumsq += static_cast<double>(x[i]) * x[i];
    }
    l.rms = static_cast<float>(std::sqrt(sumsq / static_cast<double>((to - from) * channels)));
    return l;
}

std::optional<std::size_t> find_onset(std::span<const float> x, std::uint32_t channels,
                                      std::size_t from, float noise, float threshold) noexcept {
    const std::size_t frames = x.size() / channels;
    for (std::size_t i = from; i < frames; ++i) {
        if (frame_peak(x, channels, i) > threshold) {
            std::size_t o = i;
            while (o > from && frame_peak(x, channels, o - 1) > noise) {
                --o;
            }
            return o;
        }
    }
    return std::nullopt;
}

std::optional<std::size_t> find_end(std::span<const float> x, std::uint32_t channels,
                                    std::size_t from, float threshold,
                                    std::size_t window) noexcept {
    const std::size_t frames = x.size() / channels;
    window = std::max<std::size_t>(window, 1);
    std::size_t quiet = 0;
    for (std::size_t i = from; i < frames; ++i) {
        if (frame_peak(x, channels, i) > threshold) {
            quiet = 0;
        } else if (++quiet == window) {
            return i + 1 - window;
        }
    }
    return std::nullopt;
}

void apply_fades(std::span<float> x, std::uint32_t channels, std::size_t in,
                 std::size_t out) noexcept {
    const std::size_t frames = x.size() / channels;
    in = std::min(in, frames / 2);
    out = std::min(out, frames / 2);
    for (std::size_t i = 0; i < in; ++i) {
        const float g = static_cast<float>(i + 1) / static_cast<float>(in + 1);
        for (std::uint32_t c = 0; c < channels; ++c) {
            x[i * channels + c] *= g;
        }
    }
    for (std::size_t k = 0; k < out; ++k) {
        // k = 0 is the last frame (gain 0), k = out - 1 the first faded one.
        const float g = static_cast<float>(k) / static_cast<float>(out);
        const std::size_t i = frames - 1 - k;
        for (std::uint32_t c = 0; c < channels; ++c) {
            x[i * channels + c] *= g;
        }
    }
}

double normalise_gain(float peak, float target) noexcept {
    if (!(peak > 0.0F)) {
        return 1.0;
    }
    return static_cast<double>(target) / static_cast<double>(peak);
}

std::size_t noise_frames(std::size_t preroll) noexcept {
    return preroll > 1 ? preroll / 2 : preroll;
}

float onset_threshold(float noise_peak, const Thresholds& t) noexcept {
    return std::max(t.onset_floor, noise_peak * t.onset_over_noise);
}

Analysis analyse(std::span<const float> x, std::uint32_t channels, std::size_t preroll,
                 std::size_t release_from, std::size_t end_window, const Thresholds& t,
                 float noise_floor) {
    Analysis a;
    const std::size_t frames = x.size() / channels;
    preroll = std::min(preroll, frames);
    a.noise = level(x, channels, 0, noise_frames(preroll));
    a.onset_threshold = onset_threshold(a.noise.peak, t);
    a.end_threshold =
        std::max(t.end_floor, (noise_floor >= 0 ? noise_floor : a.noise.peak) * t.end_over_noise);
    const auto onset = find_onset(x, channels, 0, a.noise.peak, a.onset_threshold);
    if (!onset) {
        return a;
    }
    a.ok = true;
    a.onset = *onset;
    a.onset_in_preroll = a.onset < preroll;
    a.end = find_end(x, channels, std::max(release_from, a.onset + 1), a.end_threshold, end_window);
    const std::size_t stop = a.end.value_or(frames);
    const Level l = level(x, channels, a.onset, stop);
    a.peak = l.peak;
    a.clipped = l.peak >= 0.999F;
    return a;
}

} // namespace lockstep::capture::autosample
