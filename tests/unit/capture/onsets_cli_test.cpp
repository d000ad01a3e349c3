// lockstep-onsets as a program: a WAV take with a bext time reference, a notes file, the
// printed per-note lines and summary, the picture, and the exit codes (0 exact, 1 not,
// 2 usage, 3 unreadable files).
#include "harness/process.hpp"

#include <gtest/gtest.h>
#include <sndfile.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace lockstep::test {
namespace {

using namespace std::chrono_literals;

std::string onsets_bin() {
    const char* root = std::getenv("LOCKSTEP_BUILD_ROOT");
    if (root == nullptr) {
        ADD_FAILURE() << "LOCKSTEP_BUILD_ROOT is not set (run through meson test)";
        return "lockstep-onsets";
    }
    return root + std::string("/clients/capture/lockstep-onsets");
}

// A stereo float WAV of `frames` frames whose first sample is JACK frame `first`, with a
// short burst (alternating +-0.5, fading) starting at each of `hits` (take-relative).
void write_take(const std::string& path, std::int64_t first, std::size_t frames,
                const std::vector<std::size_t>& hits) {
    std::vector<float> x(frames * 2, 0.0F);
    for (const std::size_t h : hits) {
        for (std::size_t i = 0; i < 2000 && h + i < frames; ++i) {
            const float v = (i % 2 == 0 ? 0.5F : -0.5F) * static_cast<float>(2000 - i) / 2000.0F;
            x[2 * (h + i)] = v;
            x[2 * (h + i) + 1] = v;
        }
    }
    SF_INFO info{};
    info.samplerate = 48000;
    info.channels = 2;
    info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
    ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
    SF_BROADCAST_INFO b{};
    b.time_reference_low = static_cast<std::uint32_t>(first & 0xffffffff);
    b.time_reference_high = static_cast<std::uint32_t>(first >> 32);
    ASSERT_EQ(sf_command(f, SFC_SET_BROADCAST_INFO, &b, sizeof b), SF_TRUE);
    ASSERT_EQ(sf_writef_float(f, x.data(), static_cast<sf_count_t>(frames)),
              static_cast<sf_count_t>(frames));
    sf_close(f);
}

void write_text(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}

struct Result {
    int code = -1;
    std::string out;
};
Result run(const std::vector<std::string>& args) {
    std::vector<std::string> argv{onsets_bin()};
    argv.insert(argv.end(), args.begin(), args.end());
    ChildProcess p(argv);
    const int code = p.wait(60s);
    return {code, p.output()};
}

constexpr std::int64_t first = (std::int64_t{1} << 32) + 1000; // past 32 bits on purpose

TEST(OnsetsCli, EveryNoteOnItsFrame) {
    TempDir dir("lockstep-onsets-cli");
    const std::string take = dir.path() + "/take.wav";
    write_take(take, first, 30000, {4800, 16800});
    write_text(dir.path() + "/notes", "# frame note\n" + std::to_string(first + 4800) + " 36\n" +
                                          std::to_string(first + 4800) + " 38\n" +
                                          std::to_string(first + 16800) + " 37\n");
    const std::string png = dir.path() + "/take.png";
    const Result r = run({take, "--notes", dir.path() + "/notes", "--png", png, "--origin",
                          std::to_string(first + 4800), "--step", "48000/8"});
    EXPECT_EQ(r.code, 0) << r.out;
    const std::string f = std::to_string(first + 4800); // 10 digits: "%12lld" pads 2
    EXPECT_NE(r.out.find("note  36 scheduled at frame   " + f + "  onset at frame   " + f +
                         "  difference 0"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("3 notes (0 outside), 2 onsets; max |difference| 0 frames; missing 0, "
                         "extra 0"),
              std::string::npos)
        << r.out;
    EXPECT_TRUE(std::filesystem::exists(png));
}

TEST(OnsetsCli, MissingExtraAndLateNotesFail) {
    TempDir dir("lockstep-onsets-cli");
    const std::string take = dir.path() + "/take.wav";
    write_take(take, first, 30000, {4800, 16802, 25000});
    write_text(dir.path() + "/notes", std::to_string(first + 4800) + " 36\n" +
                                          std::to_string(first + 16800) + " 37\n" +
                                          std::to_string(first + 10000) + " 38\n" +
                                          std::to_string(first + 40000) + " 38\n");
    const Result r = run({take, "--notes", dir.path() + "/notes", "--tolerance", "100"});
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find("difference 2"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("scheduled at frame   " + std::to_string(first + 10000) + "  no onset"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("extra onset at frame   " + std::to_string(first + 25000)),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("3 notes (1 outside), 3 onsets; max |difference| 2 frames; missing 1, "
                         "extra 1"),
              std::string::npos)
        << r.out;
    // --until leaves the hit at 25000 (and nothing else) out of the check.
    const Result u = run({take, "--notes", dir.path() + "/notes", "--tolerance", "100", "--until",
                          std::to_string(first + 20000)});
    EXPECT_EQ(u.out.find("extra onset"), std::string::npos) << u.out;
    EXPECT_NE(u.out.find("missing 1, extra 0"), std::string::npos) << u.out;
}

TEST(OnsetsCli, UsageAndFileErrors) {
    TempDir dir("lockstep-onsets-cli");
    const std::string take = dir.path() + "/take.wav";
    write_take(take, first, 1000, {});
    write_text(dir.path() + "/notes", "1 36\n");
    write_text(dir.path() + "/bad", "1 x\n");
    EXPECT_EQ(run({take}).code, 2); // --notes is required
    EXPECT_EQ(run({take, "--notes", dir.path() + "/notes", "--step", "8/0"}).code, 2);
    EXPECT_EQ(run({take, "--notes", dir.path() + "/none"}).code, 3);
    EXPECT_EQ(run({take, "--notes", dir.path() + "/bad"}).code, 3);
    EXPECT_EQ(run({dir.path() + "/none.wav", "--notes", dir.path() + "/notes"}).code, 3);
    EXPECT_EQ(run({take, "--notes", dir.path() + "/notes", "--png", "/nonexistent/x.png"}).code, 3);
}

} // namespace
} // namespace lockstep::test
