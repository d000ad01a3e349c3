#include "onsets.hpp"

#include "autosample_dsp.hpp"

#include <algorithm>
#include <sstream>

namespace lockstep::capture::onsets {

std::vector<std::size_t> detect(std::span<const float> x, std::uint32_t channels,
                                const Detector& d) {
    std::vector<std::size_t> out;
    if (channels == 0) {
        return out;
    }
    const std::size_t frames = x.size() / channels;
    // Second difference, interleaved like x, so the autosampler's frame_peak reads it.
    std::vector<float> diff(frames * channels);
    for (std::size_t i = 0; i < frames; ++i) {
        for (std::uint32_t c = 0; c < channels; ++c) {
            const float x0 = x[i * channels + c];
            const float x1 = i >= 1 ? x[(i - 1) * channels + c] : 0.0F;
            const float x2 = i >= 2 ? x[(i - 2) * channels + c] : 0.0F;
            diff[i * channels + c] = x0 - 2.0F * x1 + x2;
        }
    }
    std::vector<float> peak(frames);
    for (std::size_t i = 0; i < frames; ++i) {
        peak[i] = autosample::frame_peak(diff, channels, i);
    }
    std::size_t next = 0; // the earliest frame the next onset may be at
    for (std::size_t i = 0; i < frames; ++i) {
        if (i < next || peak[i] <= d.threshold) {
            continue;
        }
        const std::size_t from = i >= d.window ? i - d.window : 0;
        const float recent =
            from < i ? *std::max_element(peak.begin() + static_cast<std::ptrdiff_t>(from),
                                         peak.begin() + static_cast<std::ptrdiff_t>(i))
                     : 0.0F;
        if (peak[i] > d.ratio * recent) {
            out.push_back(i);
            next = i + std::max<std::size_t>(d.hold, 1);
        }
    }
    return out;
}

namespace {
std::int64_t distance(std::int64_t a, std::int64_t b) {
    return a > b ? a - b : b - a;
}
} // namespace

Report match(std::vector<Note> notes, std::span<const std::int64_t> onsets, std::int64_t take_first,
             std::int64_t take_frames, std::int64_t tolerance) {
    Report r;
    // (std::stable_sort would do, but libstdc++ 12's trips clang 22's deprecation warning.)
    std::sort(notes.begin(), notes.end(), [](const Note& a, const Note& b) {
        return a.frame != b.frame ? a.frame < b.frame : a.note < b.note;
    });
    std::vector<bool> taken(onsets.size(), false);
    std::optional<std::int64_t> last_frame;
    std::optional<std::int64_t> last_onset;
    for (const Note& n : notes) {
        if (n.frame < take_first || n.frame >= take_first + take_frames) {
            ++r.outside;
            continue;
        }
        if (!last_frame || *last_frame != n.frame) { // a new scheduled frame: find its onset
            last_frame = n.frame;
            last_onset.reset();
            std::optional<std::size_t> best;
            for (std::size_t i = 0; i < onsets.size(); ++i) {
                const std::int64_t dist = distance(onsets[i], n.frame);
                if (!taken[i] && dist <= tolerance &&
                    (!best || dist < distance(onsets[*best], n.frame))) {
                    best = i;
                }
            }
            if (best) {
                taken[*best] = true;
                last_onset = onsets[*best];
            }
        }
        r.matches.push_back({n, last_onset});
        if (last_onset) {
            r.max_abs_difference = std::max(r.max_abs_difference, distance(*last_onset, n.frame));
        } else {
            ++r.missing;
        }
    }
    for (std::size_t i = 0; i < onsets.size(); ++i) {
        if (!taken[i]) {
            r.extra.push_back(onsets[i]);
        }
    }
    return r;
}

std::optional<std::vector<Note>> parse_notes(const std::string& text, std::string& error) {
    std::vector<Note> notes;
    std::istringstream in(text);
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        const auto start = line.find_first_not_of(" \t\r");
        if (start == std::string::npos || line[start] == '#') {
            continue;
        }
        std::istringstream fields(line);
        Note n;
        long long frame = 0;
        if (!(fields >> frame)) {
            error = "line " + std::to_string(number) + ": expected FRAME [NOTE]: " + line;
            return std::nullopt;
        }
        n.frame = frame;
        int note = 0;
        if (fields >> note) {
            if (note < 0 || note > 127) {
                error = "line " + std::to_string(number) + ": note out of range: " + line;
                return std::nullopt;
            }
            n.note = note;
        } else if (!fields.eof()) {
            error = "line " + std::to_string(number) + ": expected FRAME [NOTE]: " + line;
            return std::nullopt;
        }
        std::string rest;
        if (fields >> rest) {
            error = "line " + std::to_string(number) + ": expected FRAME [NOTE]: " + line;
            return std::nullopt;
        }
        notes.push_back(n);
    }
    return notes;
}

namespace {
std::int64_t floor_div(std::int64_t a, std::int64_t b) { // b > 0
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}
std::int64_t ceil_div(std::int64_t a, std::int64_t b) { // b > 0
    return -floor_div(-a, b);
}
} // namespace

std::vector<GridLine> grid(std::int64_t origin, std::int64_t num, std::int64_t den,
                           std::int64_t first, std::int64_t frames) {
    std::vector<GridLine> out;
    if (num <= 0 || den <= 0 || frames <= 0) {
        return out;
    }
    // The first k whose line can be at or after `first`, less one for the rounding.
    for (std::int64_t k = floor_div((first - origin) * den, num) - 1;; ++k) {
        const std::int64_t f = origin + ceil_div(k * num, den);
        if (f >= first + frames) {
            break;
        }
        if (f >= first) {
            out.push_back({f, k});
        }
    }
    return out;
}

} // namespace lockstep::capture::onsets
