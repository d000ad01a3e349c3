// lockstep-onsets TAKE --notes FILE [--png OUT] [--origin F --step N[/D]]: finds every onset
// in a take of lockstep-capture (its bext time reference is the JACK frame of its first
// sample), matches them against the frames notes were scheduled at, prints one line per
// note with the difference in frames and a summary, and draws the take (docs/capture.md
// "Demo"). Exit 0 when every note in the take has an onset at its very frame and no onset
// is left over; 1 otherwise; 2 usage; 3 a file cannot be read or written.
#include "onsets.hpp"
#include "take_png.hpp"

#include "service/cli.hpp"

#include <CLI/CLI.hpp>
#include <sndfile.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace lockstep::capture::onsets;
namespace exit_code = lockstep::service::exit_code;

struct Take {
    std::vector<float> x;
    std::uint32_t channels = 0;
    std::optional<std::int64_t> first;
};

std::optional<Take> read_take(const std::string& path, std::string& error) {
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    if (f == nullptr) {
        error = path + ": " + sf_strerror(nullptr);
        return std::nullopt;
    }
    Take t;
    t.channels = static_cast<std::uint32_t>(info.channels);
    SF_BROADCAST_INFO b{};
    if (sf_command(f, SFC_GET_BROADCAST_INFO, &b, sizeof b) == SF_TRUE) {
        t.first = static_cast<std::int64_t>((std::uint64_t{b.time_reference_high} << 32) |
                                            b.time_reference_low);
    }
    t.x.resize(static_cast<std::size_t>(info.frames) * t.channels);
    const sf_count_t got = sf_readf_float(f, t.x.data(), info.frames);
    sf_close(f);
    t.x.resize(static_cast<std::size_t>(got) * t.channels);
    return t;
}

// "N" or "N/D" frames per step, both positive.
bool parse_step(const std::string& s, std::int64_t& num, std::int64_t& den) {
    std::istringstream in(s);
    long long n = 0;
    long long d = 1;
    char slash = 0;
    if (!(in >> n) || n <= 0) {
        return false;
    }
    if (in >> slash && (slash != '/' || !(in >> d) || d <= 0)) {
        return false;
    }
    std::string rest;
    if (in >> rest) {
        return false;
    }
    num = n;
    den = d;
    return true;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"lockstep-onsets: onsets of a take against the frames notes were scheduled at"};
    std::string take_path;
    std::string notes_path;
    std::string png_path;
    long long origin = 0;
    std::string step;
    long long tolerance = 2400;
    long long first_override = -1;
    long long until = -1;
    int width = 1600;
    int height = 320;
    app.add_option("take", take_path, "the take (WAV with a bext time reference)")->required();
    app.add_option("--notes", notes_path, "scheduled notes: one 'FRAME [NOTE]' per line")
        ->required();
    app.add_option("--png", png_path, "write a picture of the take here");
    app.add_option("--origin", origin, "a frame of the step grid (the sequencer's first step)");
    app.add_option("--step", step, "frames per step of the grid: N or N/D (e.g. 48000/8)");
    app.add_option("--tolerance", tolerance, "an onset this far from a note, or nearer, is its")
        ->check(CLI::Range(0LL, 1LL << 40));
    app.add_option("--first", first_override,
                   "the JACK frame of the take's first sample (default: its bext time reference)");
    app.add_option("--until", until,
                   "check only notes and onsets before this JACK frame (default: the take's end)");
    app.add_option("--width", width, "picture width in pixels")->check(CLI::Range(16, 20000));
    app.add_option("--height", height, "picture height in pixels")->check(CLI::Range(32, 4000));
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? exit_code::ok : exit_code::usage;
    }
    std::int64_t num = 0;
    std::int64_t den = 1;
    if (!step.empty() && !parse_step(step, num, den)) {
        std::fprintf(stderr, "lockstep-onsets: --step: expected N or N/D frames: %s\n",
                     step.c_str());
        return exit_code::usage;
    }

    std::string error;
    std::ifstream nf(notes_path);
    if (!nf) {
        std::fprintf(stderr, "lockstep-onsets: cannot read %s\n", notes_path.c_str());
        return exit_code::startup;
    }
    std::ostringstream text;
    text << nf.rdbuf();
    const auto notes = parse_notes(text.str(), error);
    if (!notes) {
        std::fprintf(stderr, "lockstep-onsets: %s: %s\n", notes_path.c_str(), error.c_str());
        return exit_code::startup;
    }
    const auto take = read_take(take_path, error);
    if (!take) {
        std::fprintf(stderr, "lockstep-onsets: %s\n", error.c_str());
        return exit_code::startup;
    }
    if (first_override < 0 && !take->first) {
        std::fprintf(stderr, "lockstep-onsets: %s has no bext time reference: give --first\n",
                     take_path.c_str());
        return exit_code::startup;
    }
    const std::int64_t first = first_override >= 0 ? first_override : *take->first;
    const auto frames = static_cast<std::int64_t>(take->x.size() / take->channels);
    // The part checked: the take, up to --until.
    const std::int64_t checked =
        until >= 0 ? std::clamp<std::int64_t>(until - first, 0, frames) : frames;

    std::vector<std::int64_t> onsets;
    for (const std::size_t i : detect(take->x, take->channels)) {
        if (static_cast<std::int64_t>(i) < checked) {
            onsets.push_back(first + static_cast<std::int64_t>(i));
        }
    }
    const Report r = match(*notes, onsets, first, checked, tolerance);
    for (const Match& m : r.matches) {
        if (m.onset) {
            std::printf("  note %3d scheduled at frame %12lld  onset at frame %12lld  "
                        "difference %lld\n",
                        m.note.note, static_cast<long long>(m.note.frame),
                        static_cast<long long>(*m.onset),
                        static_cast<long long>(*m.onset - m.note.frame));
        } else {
            std::printf("  note %3d scheduled at frame %12lld  no onset\n", m.note.note,
                        static_cast<long long>(m.note.frame));
        }
    }
    for (const std::int64_t e : r.extra) {
        std::printf("  extra onset at frame %12lld\n", static_cast<long long>(e));
    }
    std::printf("onsets: take of %lld frames from frame %lld, %lld checked: %zu notes (%zu "
                "outside), %zu onsets; max |difference| %lld frames; missing %zu, extra %zu\n",
                static_cast<long long>(frames), static_cast<long long>(first),
                static_cast<long long>(checked), r.matches.size(), r.outside, onsets.size(),
                static_cast<long long>(r.max_abs_difference), r.missing, r.extra.size());

    if (!png_path.empty()) {
        const std::vector<GridLine> lines =
            num > 0 ? grid(origin, num, den, first, frames) : std::vector<GridLine>{};
        const Image img =
            draw(take->x, take->channels, first, lines, onsets, *notes, width, height);
        if (!write_png(png_path, img, error)) {
            std::fprintf(stderr, "lockstep-onsets: %s\n", error.c_str());
            return exit_code::startup;
        }
        std::printf("onsets: picture %s (%dx%d)\n", png_path.c_str(), img.width, img.height);
    }
    return r.exact() ? exit_code::ok : exit_code::failure;
}
