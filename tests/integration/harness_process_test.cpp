// Tests of ChildProcess and wait_until (no JACK server needed, but they guard the
// process hygiene every integration test relies on).
#include "harness/process.hpp"

#include <signal.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace lockstep::test {
namespace {

using namespace std::chrono_literals;
constexpr auto timeout = 20s;

bool alive(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) {
        return false;
    }
    const auto close_paren = line.rfind(')');
    return close_paren == std::string::npos || line.size() <= close_paren + 2 ||
           line[close_paren + 2] != 'Z';
}

TEST(HarnessProcess, ReportsExitCodeAndOutput) {
    ChildProcess child({"sh", "-c", "echo hello; echo oops >&2; exit 3"});
    EXPECT_EQ(child.wait(timeout), 3);
    EXPECT_FALSE(child.running());
    EXPECT_EQ(child.output(), "hello\noops\n");
    EXPECT_EQ(child.wait(0ms), 3); // the status is kept after reaping
}

TEST(HarnessProcess, ReportsSignalAsStatus) {
    ChildProcess child({"sleep", "1000"});
    EXPECT_TRUE(child.running());
    EXPECT_EQ(child.wait(10ms), -1);
    child.signal(SIGTERM);
    EXPECT_EQ(child.wait(timeout), 128 + SIGTERM);
}

TEST(HarnessProcess, WaitsForOutput) {
    ChildProcess child({"sh", "-c", "echo ready; exec sleep 1000"});
    EXPECT_TRUE(child.wait_for_output("ready", timeout));
    EXPECT_FALSE(child.wait_for_output("never printed", 10ms));
    EXPECT_TRUE(child.running());
}

TEST(HarnessProcess, SetsAndRemovesEnvironment) {
    setenv("LOCKSTEP_HARNESS_REMOVE_ME", "1", 1);
    ChildProcess child({"sh", "-c", "echo \"[$LOCKSTEP_A][${LOCKSTEP_HARNESS_REMOVE_ME-unset}]\""},
                       {"LOCKSTEP_A=x=y", "LOCKSTEP_HARNESS_REMOVE_ME"});
    EXPECT_EQ(child.wait(timeout), 0);
    EXPECT_EQ(child.output(), "[x=y][unset]\n");
    unsetenv("LOCKSTEP_HARNESS_REMOVE_ME");
}

TEST(HarnessProcess, StdinIsClosedAndLogAppendsToGivenPath) {
    TempDir dir;
    const std::string log = dir.path() + "/log";
    for (int i = 0; i < 2; ++i) {
        ChildProcess child({"sh", "-c", "cat; echo run"}, {}, log);
        EXPECT_EQ(child.wait(timeout), 0);
    }
    std::ifstream in(log);
    std::ostringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str(), "run\nrun\n");
}

TEST(HarnessProcess, MissingProgramThrows) {
    EXPECT_THROW(ChildProcess({"lockstep-no-such-program-xyz"}), std::runtime_error);
}

TEST(HarnessProcess, TerminateEscalatesToSigkill) {
    ChildProcess child({"sh", "-c", "trap '' TERM; echo trapped; while :; do sleep 1; done"});
    ASSERT_TRUE(child.wait_for_output("trapped", timeout));
    EXPECT_EQ(child.terminate(100ms), 128 + SIGKILL);
    EXPECT_FALSE(child.running());
}

TEST(HarnessProcess, DestructorKillsTheWholeProcessGroup) {
    pid_t child_pid = -1;
    pid_t grandchild = -1;
    {
        ChildProcess child({"sh", "-c", "sleep 1000 & echo $!; wait"});
        child_pid = child.pid();
        ASSERT_TRUE(
            wait_until([&] { return child.output().find('\n') != std::string::npos; }, timeout));
        grandchild = std::stoi(child.output());
        ASSERT_TRUE(alive(grandchild));
    }
    EXPECT_FALSE(alive(child_pid));
    EXPECT_TRUE(wait_until([&] { return !alive(grandchild); }, timeout));
}

TEST(HarnessProcess, OwnLogIsRemoved) {
    std::string log;
    {
        ChildProcess child({"true"});
        log = child.log_path();
        EXPECT_EQ(child.wait(timeout), 0);
        EXPECT_TRUE(std::filesystem::exists(log));
    }
    EXPECT_FALSE(std::filesystem::exists(log));
}

TEST(HarnessProcess, WaitUntilReturnsFinalValue) {
    int calls = 0;
    EXPECT_TRUE(wait_until([&] { return ++calls >= 3; }, timeout));
    EXPECT_FALSE(wait_until([] { return false; }, 20ms));
}

} // namespace
} // namespace lockstep::test
