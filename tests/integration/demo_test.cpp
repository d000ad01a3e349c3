// `./lockstep demo` (tests/harness/demo): on a machine with no JACK server it starts a
// private dummy server and shows the clients that exist, with events on their exact
// frames; with --server NAME it uses a server that is already running; and it leaves no
// process behind.
#include "harness/process.hpp"
#include "harness/server.hpp"

#include <gtest/gtest.h>

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

bool process_alive(pid_t pid) {
    return ::kill(pid, 0) == 0;
}

TEST(Demo, StartsAPrivateDummyServerAndShowsExactFrames) {
    // As on a fresh machine: no server given, and JACK's own library (not pipewire-jack).
    ChildProcess demo(demo_argv({"--events", "4", "--every", "12000"}),
                      {"LD_LIBRARY_PATH", "JACK_DEFAULT_SERVER"});
    const int code = demo.wait(120s);
    const std::string out = demo.output();
    ASSERT_EQ(code, 0) << out;
    EXPECT_NE(out.find("starting a private JACK server 'lockstep-demo-"), std::string::npos) << out;
    EXPECT_NE(out.find("dummy backend"), std::string::npos) << out;
    EXPECT_EQ(exact_notes(out), 4) << out;
    // The private server is gone: its name is free for a new server at once.
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out, m, std::regex("server '(lockstep-demo-[0-9]+)'")));
    ChildProcess lsp({"jack_lsp", "-s", m[1].str()}, {"LD_LIBRARY_PATH"});
    EXPECT_NE(lsp.wait(30s), 0) << "the demo's server still answers: " << lsp.output();
}

TEST(Demo, UsesAnExistingServer) {
    TestServer server;
    std::vector<std::string> child_env = server.child_env();
    ChildProcess demo(demo_argv({"--server", server.name(), "--events", "3", "--every", "6000"}),
                      child_env);
    const int code = demo.wait(120s);
    const std::string out = demo.output();
    ASSERT_EQ(code, 0) << out;
    EXPECT_NE(out.find("using the running JACK server '" + server.name() + "'"), std::string::npos)
        << out;
    EXPECT_EQ(out.find("starting a private JACK server"), std::string::npos) << out;
    EXPECT_EQ(exact_notes(out), 3) << out;
    // The demo leaves the server it was given running.
    EXPECT_TRUE(server.running());
    EXPECT_TRUE(process_alive(server.pid()));
}

TEST(Demo, RefusesUnknownOptions) {
    ChildProcess demo(demo_argv({"--bogus"}));
    EXPECT_EQ(demo.wait(30s), 2);
    EXPECT_NE(demo.output().find("unknown option --bogus"), std::string::npos) << demo.output();
}

} // namespace
} // namespace lockstep::test
