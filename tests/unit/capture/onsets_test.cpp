// lockstep-onsets' pieces (clients/capture/onsets.hpp, take_png.hpp): onsets found at the
// first sample of each hit even while the previous one still sounds, scheduled notes
// matched against them (missing, extra, shared frames, outside the take), the notes file,
// the step grid, and the picture decoded back with libpng.
#include "onsets.hpp"
#include "take_png.hpp"

#include "harness/process.hpp"

#include <gtest/gtest.h>
#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace lockstep::capture::onsets {
namespace {

constexpr double two_pi = 6.283185307179586;

struct Noise { // xorshift32, as the demo kit's
    std::uint32_t s = 0x12345678U;
    double next() {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        return static_cast<double>(s) / 2147483648.0 - 1.0;
    }
};

// Adds a kick-like decaying sine (smooth) at frame `at` of a mono buffer.
void add_kick(std::vector<float>& x, std::size_t at, std::size_t len) {
    double phase = 0;
    for (std::size_t i = 0; i < len && at + i < x.size(); ++i) {
        const double t = static_cast<double>(i) / 48000.0;
        phase += two_pi * (45.0 + 110.0 * std::exp(-t * 30.0)) / 48000.0;
        x[at + i] += static_cast<float>(0.9 * std::sin(phase) * std::exp(-t * 7.0));
    }
}
// Adds a decaying noise burst at `at`, `len` frames long, its last 480 faded out (as the
// demo kit's samples).
void add_noise(std::vector<float>& x, std::size_t at, std::size_t len, double amp, double decay) {
    Noise n;
    double prev = 0;
    for (std::size_t i = 0; i < len && at + i < x.size(); ++i) {
        const double t = static_cast<double>(i) / 48000.0;
        const double w = n.next();
        const double fade = std::min(1.0, static_cast<double>(len - 1 - i) / 480.0);
        x[at + i] += static_cast<float>(amp * (w - prev) * std::exp(-t * decay) * fade);
        prev = w;
    }
}

TEST(OnsetsDetect, SilenceHasNone) {
    std::vector<float> x(48000, 0.0F);
    EXPECT_TRUE(detect(x, 1).empty());
    EXPECT_TRUE(detect({}, 2).empty());
}

TEST(OnsetsDetect, EachHitAtItsFirstSampleEvenOverARingingOne) {
    std::vector<float> x(60000, 0.0F);
    add_kick(x, 1000, 21600);            // 0.45 s: still loud when the next hits come
    add_noise(x, 1000, 3840, 0.35, 60);  // a closed hat with the kick
    add_noise(x, 7000, 12000, 0.45, 16); // a snare over the kick's tail, ends ...
    add_noise(x, 19000, 3840, 0.35, 60); // ... right where the next hat starts
    add_kick(x, 40000, 21600);           // a kick alone out of silence
    EXPECT_EQ(detect(x, 1), (std::vector<std::size_t>{1000, 7000, 19000, 40000}));
}

TEST(OnsetsDetect, AnyChannelCountsAndTheFirstFrameCan) {
    std::vector<float> mono(20000, 0.0F);
    add_noise(mono, 0, 3000, 0.35, 60);
    add_noise(mono, 12000, 3000, 0.35, 60);
    std::vector<float> stereo(mono.size() * 2, 0.0F);
    for (std::size_t i = 0; i < 12000; ++i) {
        stereo[2 * i] = mono[i]; // left: the first hit
    }
    for (std::size_t i = 12000; i < mono.size(); ++i) {
        stereo[2 * i + 1] = mono[i]; // right: the second
    }
    EXPECT_EQ(detect(stereo, 2), (std::vector<std::size_t>{0, 12000}));
}

TEST(OnsetsDetect, ASmoothSignalIsOneOnsetWhereItStarts) {
    // A 16-bit-rounded slow sine: its second difference stays below the threshold but for
    // its first sample out of silence.
    std::vector<float> x(48000);
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double v = 0.5 * std::sin(two_pi * 50.0 * static_cast<double>(i) / 48000.0);
        x[i] = static_cast<float>(std::round(v * 32767.0) / 32767.0);
    }
    EXPECT_EQ(detect(x, 1), (std::vector<std::size_t>{1})); // x[0] is 0
}

TEST(OnsetsMatch, EveryNoteAtItsFrame) {
    const std::vector<Note> notes{{1000, 36}, {1000, 38}, {7000, 38}, {13000, 37}};
    const std::vector<std::int64_t> onsets{1000, 7000, 13000};
    const Report r = match(notes, onsets, 0, 20000, 100);
    ASSERT_EQ(r.matches.size(), 4U);
    EXPECT_EQ(r.matches[0].onset, 1000); // both notes of frame 1000 share the onset
    EXPECT_EQ(r.matches[1].onset, 1000);
    EXPECT_EQ(r.matches[3].onset, 13000);
    EXPECT_TRUE(r.exact());
    EXPECT_EQ(r.missing, 0U);
    EXPECT_TRUE(r.extra.empty());
}

TEST(OnsetsMatch, DifferencesMissingExtraAndOutside) {
    const std::vector<Note> notes{
        {13000, 37}, {1000, 36}, {7000, 38}, {-5, 36}, {20000, 36}}; // any order
    const std::vector<std::int64_t> onsets{1003, 9000, 12990};
    const Report r = match(notes, onsets, 0, 20000, 100);
    ASSERT_EQ(r.matches.size(), 3U);
    EXPECT_EQ(r.outside, 2U); // before the take, and at its end (exclusive)
    EXPECT_EQ(r.matches[0].note.frame, 1000);
    EXPECT_EQ(r.matches[0].onset, 1003);
    EXPECT_FALSE(r.matches[1].onset.has_value()); // 7000: 9000 is beyond the tolerance
    EXPECT_EQ(r.matches[2].onset, 12990);
    EXPECT_EQ(r.max_abs_difference, 10);
    EXPECT_EQ(r.missing, 1U);
    EXPECT_EQ(r.extra, (std::vector<std::int64_t>{9000}));
    EXPECT_FALSE(r.exact());
}

TEST(OnsetsMatch, AnOnsetServesOneFrameOnly) {
    // Two scheduled frames 50 apart and one onset between: the earlier frame takes it.
    const Report r = match({{1000, 36}, {1050, 38}}, std::vector<std::int64_t>{1040}, 0, 5000, 100);
    ASSERT_EQ(r.matches.size(), 2U);
    EXPECT_EQ(r.matches[0].onset, 1040);
    EXPECT_FALSE(r.matches[1].onset.has_value());
    EXPECT_EQ(r.missing, 1U);
    EXPECT_FALSE(r.exact());
}

TEST(OnsetsMatch, NonZeroDifferenceIsNotExact) {
    const Report r = match({{1000, 36}}, std::vector<std::int64_t>{999}, 0, 5000, 100);
    EXPECT_EQ(r.missing, 0U);
    EXPECT_EQ(r.max_abs_difference, 1);
    EXPECT_FALSE(r.exact());
}

TEST(OnsetsNotes, Parses) {
    std::string error;
    const auto n = parse_notes("# frame note\n123 36\n\n  456\n789 38\r\n", error);
    ASSERT_TRUE(n.has_value()) << error;
    ASSERT_EQ(n->size(), 3U);
    EXPECT_EQ((*n)[0].frame, 123);
    EXPECT_EQ((*n)[0].note, 36);
    EXPECT_EQ((*n)[1].frame, 456);
    EXPECT_EQ((*n)[1].note, -1);
    EXPECT_EQ((*n)[2].note, 38);
}

TEST(OnsetsNotes, RefusesWhatIsNotFrameAndNote) {
    for (const char* bad : {"abc\n", "12 x\n", "12 36 7\n", "12 200\n"}) {
        std::string error;
        EXPECT_FALSE(parse_notes(std::string("1 36\n") + bad, error).has_value()) << bad;
        EXPECT_NE(error.find("line 2"), std::string::npos) << error;
    }
}

TEST(OnsetsGrid, ExactRationalStepsAroundTheOrigin) {
    // 6000 frames a step, origin 10000, take [1000, 23000): steps -1 .. 2.
    const auto g = grid(10000, 48000, 8, 1000, 22000);
    ASSERT_EQ(g.size(), 4U);
    EXPECT_EQ(g[0].frame, 4000);
    EXPECT_EQ(g[0].step, -1);
    EXPECT_EQ(g[3].frame, 22000);
    EXPECT_EQ(g[3].step, 2);
    // 44100/8 = 5512.5 frames: step k at origin + ceil(k * 5512.5).
    const auto h = grid(0, 44100, 8, -6000, 17100);
    ASSERT_EQ(h.size(), 4U);
    EXPECT_EQ(h[0].frame, -5512); // ceil(-5512.5)
    EXPECT_EQ(h[1].frame, 0);
    EXPECT_EQ(h[2].frame, 5513);
    EXPECT_EQ(h[3].frame, 11025);
    EXPECT_TRUE(grid(0, 0, 8, 0, 100).empty());
}

struct Decoded {
    int width = 0;
    int height = 0;
    std::vector<Rgb> pixels;
    Rgb at(int x, int y) const { return pixels[static_cast<std::size_t>(y * width + x)]; }
};

Decoded read_png(const std::string& path) {
    Decoded d;
    png_image png{};
    png.version = PNG_IMAGE_VERSION;
    if (png_image_begin_read_from_file(&png, path.c_str()) == 0) {
        ADD_FAILURE() << path << ": " << png.message;
        return d;
    }
    png.format = PNG_FORMAT_RGB;
    d.width = static_cast<int>(png.width);
    d.height = static_cast<int>(png.height);
    d.pixels.resize(static_cast<std::size_t>(d.width) * static_cast<std::size_t>(d.height));
    if (png_image_finish_read(&png, nullptr, d.pixels.data(), 0, nullptr) == 0) {
        ADD_FAILURE() << path << ": " << png.message;
    }
    return d;
}

TEST(OnsetsPicture, DecodesWithGridOnsetsAndNotes) {
    std::vector<float> x(2 * 24000, 0.0F); // stereo, 24000 frames from frame 100000
    for (std::size_t i = 6000; i < 9000; ++i) {
        x[2 * i] = 0.8F;
        x[2 * i + 1] = -0.8F;
    }
    const std::int64_t first = 100000;
    const auto lines = grid(100000, 6000, 1, first, 24000); // steps 0..3
    const std::vector<std::int64_t> onsets{106000, 118000};
    const std::vector<Note> notes{{106000, 36}, {118000, 38}, {200000, 36}};
    const Image img = draw(x, 2, first, lines, onsets, notes, 240, 100);
    ASSERT_EQ(img.width, 240);
    ASSERT_EQ(img.height, 100);
    test::TempDir dir("lockstep-onsets-test");
    const std::string path = dir.path() + "/take.png";
    std::string error;
    ASSERT_TRUE(write_png(path, img, error)) << error;

    const Decoded d = read_png(path);
    ASSERT_EQ(d.width, 240);
    ASSERT_EQ(d.height, 100);
    const int mid = (100 - note_tick_height) / 2;
    // 10 pixels per 1000 frames: onsets at columns 60 and 180, over the waveform's rows too.
    EXPECT_EQ(column(106000, first, 24000, 240), 60);
    EXPECT_EQ(d.at(60, 0), onset_colour);
    EXPECT_EQ(d.at(60, mid), onset_colour);
    EXPECT_EQ(d.at(180, 5), onset_colour);
    // Scheduled notes: ticks along the bottom (the one outside the take is not drawn).
    EXPECT_EQ(d.at(60, 99), note_colour);
    EXPECT_EQ(d.at(180, 99), note_colour);
    EXPECT_EQ(d.at(239, 99), background);
    // Grid: step 0 is a beat (darker), step 1 a plain step.
    EXPECT_EQ(d.at(0, 3), beat_colour);
    EXPECT_EQ(d.at(120, 3), step_colour);
    // Waveform: the block at +-0.8 fills its columns from row 9 to row 78 (of 88 above
    // the ticks); silence is a single row in the middle.
    EXPECT_EQ(d.at(75, 8), background);
    EXPECT_EQ(d.at(75, 9), wave_colour);
    EXPECT_EQ(d.at(75, 78), wave_colour);
    EXPECT_EQ(d.at(75, 79), background);
    EXPECT_EQ(d.at(150, mid - 5), background);
    EXPECT_EQ(d.at(150, mid), wave_colour);
}

TEST(OnsetsPicture, UnwritablePathIsAnError) {
    const Image img = draw({}, 1, 0, {}, {}, {}, 20, 40);
    std::string error;
    EXPECT_FALSE(write_png("/nonexistent-dir/x.png", img, error));
    EXPECT_NE(error.find("/nonexistent-dir/x.png"), std::string::npos) << error;
}

} // namespace
} // namespace lockstep::capture::onsets
