// `./lockstep demo` (tests/harness/demo): on a machine with no JACK server it starts a
// private dummy server and shows the clients that exist, with events on their exact
// frames; with --server NAME it uses a server that is already running; and it leaves no
// process behind. It records the sampler while the sequencer plays its first bar, and every
// note's onset in that take lies on the frame the note was scheduled at (lockstep-onsets),
// with a picture of the take that libpng decodes.
#include "harness/process.hpp"
#include "harness/server.hpp"

#include <gtest/gtest.h>
#include <png.h>

#include <cstdio>
#include <cstdlib>
#include <regex>
#include <signal.h>
#include <string>

namespace lockstep::test {
namespace {

using namespace std::chrono_literals;

std::string env(const char* name) {
    const char* v = std::getenv(name);
    if (v == nullptr) {
        ADD_FAILURE() << name << " is not set (run through meson test)";
        return {};
    }
    return v;
}

std::vector<std::string> demo_argv(std::vector<std::string> extra) {
    std::vector<std::string> argv{env("LOCKSTEP_SOURCE_ROOT") + "/tests/harness/demo",
                                  env("LOCKSTEP_BUILD_ROOT")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}

// One bar of the demo beat (the take is checked up to the next bar): kick on the 4 beats,
// snare on 2 and 4, 8 eighth-note hats.
constexpr int notes_in_the_take = 14;

// Every "note ..." line of the demo's output; each must show difference 0.
int exact_notes(const std::string& out) {
    static const std::regex line(
        R"(note \S+ +\(status 0x9.\) at frame +(\d+) +meant for frame +(\d+) +difference (-?\d+))");
    int n = 0;
    for (auto it = std::sregex_iterator(out.begin(), out.end(), line); it != std::sregex_iterator();
         ++it) {
        EXPECT_EQ((*it)[1].str(), (*it)[2].str()) << (*it)[0].str();
        EXPECT_EQ((*it)[3].str(), "0") << (*it)[0].str();
        ++n;
    }
    return n;
}

// What is wrong with the take's check ("" when nothing): every "note N scheduled at frame F
// onset at frame O  difference D" line must show O == F and difference 0, there must be
// `notes` of them, and the summary must say none missing or extra.
std::string onsets_problem(const std::string& out, int notes) {
    static const std::regex line(
        R"(note +(\d+) scheduled at frame +(\d+) +onset at frame +(\d+) +difference (-?\d+))");
    int n = 0;
    std::string why;
    for (auto it = std::sregex_iterator(out.begin(), out.end(), line); it != std::sregex_iterator();
         ++it) {
        if ((*it)[2].str() != (*it)[3].str() || (*it)[4].str() != "0") {
            why += " not exact: " + (*it)[0].str() + ";";
        }
        ++n;
    }
    if (n != notes) {
        why += " " + std::to_string(n) + " notes checked, not " + std::to_string(notes) + ";";
    }
    for (const char* bad : {"no onset", "extra onset"}) {
        if (const auto at = out.find(bad); at != std::string::npos) {
            why += " " + out.substr(at, out.find('\n', at) - at) + ";";
        }
    }
    for (const char* good :
         {"missing 0, extra 0", "every note sounds at the frame it was scheduled at"}) {
        if (out.find(good) == std::string::npos) {
            why += std::string(" no \"") + good + "\";";
        }
    }
    return why;
}

int exact_onsets(const std::string& out) {
    EXPECT_EQ(onsets_problem(out, notes_in_the_take), "") << out;
    return notes_in_the_take;
}

// The picture decodes, as wide and high as lockstep-onsets draws by default.
void expect_picture(const std::string& path) {
    png_image png{};
    png.version = PNG_IMAGE_VERSION;
    ASSERT_NE(png_image_begin_read_from_file(&png, path.c_str()), 0) << path << ": " << png.message;
    png.format = PNG_FORMAT_RGB;
    std::vector<unsigned char> pixels(PNG_IMAGE_SIZE(png));
    EXPECT_EQ(png.width, 1600U);
    EXPECT_EQ(png.height, 320U);
    EXPECT_NE(png_image_finish_read(&png, nullptr, pixels.data(), 0, nullptr), 0) << png.message;
}

// The demo's count of cycles the server skipped in its clients ("demo: JACK frame jumps
// (cycles the server skipped): seq 0, sampler 0, ..."): their sum, or -1 without that line.
long frame_jumps(const std::string& out) {
    const std::string head = "demo: JACK frame jumps (cycles the server skipped):";
    const auto at = out.find(head);
    if (at == std::string::npos) {
        return -1;
    }
    const std::string line = out.substr(at + head.size(), out.find('\n', at) - at - head.size());
    static const std::regex count(R"([a-z]+ (\d+))");
    long sum = 0;
    for (auto it = std::sregex_iterator(line.begin(), line.end(), count);
         it != std::sregex_iterator(); ++it) {
        sum += std::stol((*it)[1].str());
    }
    return sum;
}

bool process_alive(pid_t pid) {
    return ::kill(pid, 0) == 0;
}

TEST(Demo, StartsAPrivateDummyServerAndShowsExactFrames) {
    // As on a fresh machine: no server given, and JACK's own library (not pipewire-jack).
    TempDir dir("lockstep-demo-test");
    const std::string png = dir.path() + "/take.png";
    ChildProcess demo(demo_argv({"--events", "4", "--every", "12000", "--png", png}),
                      {"LD_LIBRARY_PATH", "JACK_DEFAULT_SERVER"});
    const int code = demo.wait(120s);
    const std::string out = demo.output();
    ASSERT_EQ(code, 0) << out;
    EXPECT_NE(out.find("starting a private JACK server 'lockstep-demo-"), std::string::npos) << out;
    EXPECT_NE(out.find("dummy backend"), std::string::npos) << out;
    EXPECT_EQ(exact_notes(out), 4) << out;
    EXPECT_EQ(exact_onsets(out), notes_in_the_take) << out;
    EXPECT_GE(frame_jumps(out), 0) << "no frame-jump line:\n" << out;
    expect_picture(png);
    // The private server is gone: its name is free for a new server at once.
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out, m, std::regex("server '(lockstep-demo-[0-9]+)'")));
    ChildProcess lsp({"jack_lsp", "-s", m[1].str()}, {"LD_LIBRARY_PATH"});
    EXPECT_NE(lsp.wait(30s), 0) << "the demo's server still answers: " << lsp.output();
}

TEST(Demo, UsesAnExistingServer) {
    ServerOptions opts;
    opts.sync = true; // no cycle of a client's output lost on a busy machine
    // PipeWire 0.3.65 now and then skips a client's cycle (docs/testing.md); in the recorded
    // take that is a jump of the waveform, which lockstep-onsets rightly finds as an onset no
    // note made. Every client counts those cycles and the demo prints the sum. On PipeWire a
    // take that is not exact is taken again on a fresh server, up to 5 takes; one must be
    // exact unless every take had a frame jump (then it is printed, not asserted, as
    // on_undisturbed_server does). jackd2 gets one take, and it must be exact.
    const int takes = opts.backend == Backend::pipewire ? 5 : 1;
    int disturbed = 0;
    std::string last_undisturbed;
    for (int take = 1; take <= takes; ++take) {
        TestServer server(opts);
        std::vector<std::string> child_env = server.child_env();
        TempDir dir("lockstep-demo-test");
        const std::string png = dir.path() + "/take.png";
        ChildProcess demo(demo_argv({"--server", server.name(), "--events", "3", "--every", "6000",
                                     "--png", png}),
                          child_env);
        const int code = demo.wait(120s);
        const std::string out = demo.output();
        ASSERT_EQ(code, 0) << out;
        EXPECT_NE(out.find("using the running JACK server '" + server.name() + "'"),
                  std::string::npos)
            << out;
        EXPECT_EQ(out.find("starting a private JACK server"), std::string::npos) << out;
        EXPECT_EQ(exact_notes(out), 3) << out;
        expect_picture(png);
        // The demo leaves the server it was given running.
        EXPECT_TRUE(server.running());
        EXPECT_TRUE(process_alive(server.pid()));
        const long jumps = frame_jumps(out);
        EXPECT_GE(jumps, 0) << "no frame-jump line:\n" << out;
        const std::string why = onsets_problem(out, notes_in_the_take);
        if (why.empty() || ::testing::Test::HasFailure() || opts.backend != Backend::pipewire) {
            EXPECT_EQ(why, "") << out;
            return;
        }
        if (jumps > 0) {
            ++disturbed;
        } else {
            last_undisturbed = why + "\n" + out;
        }
        std::printf("take %d on %s not exact (%s; %ld frame jumps); again on a fresh server\n",
                    take, to_string(opts.backend), why.c_str(), jumps);
        std::fflush(stdout);
    }
    if (disturbed == takes) {
        std::printf("all %d attempts disturbed by the server: printed, not asserted\n", takes);
        return;
    }
    ADD_FAILURE() << takes << " takes not exact, " << takes - disturbed
                  << " of them with no frame jump; the last of those:" << last_undisturbed;
}

TEST(Demo, RefusesUnknownOptions) {
    ChildProcess demo(demo_argv({"--bogus"}));
    EXPECT_EQ(demo.wait(30s), 2);
    EXPECT_NE(demo.output().find("unknown option --bogus"), std::string::npos) << demo.output();
}

} // namespace
} // namespace lockstep::test
