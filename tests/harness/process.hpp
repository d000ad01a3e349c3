// Child processes owned by PID, and polling helpers, for integration tests.
// Everything here runs on the test's control thread (never a JACK thread).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lockstep::test {

// `relative` in the build tree (LOCKSTEP_BUILD_ROOT, which meson test sets; else ".").
inline std::string built(const std::string& relative) {
    const char* root = std::getenv("LOCKSTEP_BUILD_ROOT");
    return std::string(root != nullptr ? root : ".") + "/" + relative;
}

// Polls `cond` every few milliseconds until it is true or `timeout` has passed and
// returns cond's final value. Tests use this instead of sleeps.
bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout);

// A private temporary directory (0700) removed with everything in it on destruction.
class TempDir {
public:
    explicit TempDir(std::string_view prefix = "lockstep-test");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// A child process we started and own by PID. It runs in its own process group, with
// stdin from /dev/null and stdout+stderr appended to a log file. It gets `death_signal`
// if the thread that started it dies (PR_SET_PDEATHSIG), so a crashing test leaves no
// process behind: create it from a thread that outlives it (gtest's main thread does).
class ChildProcess {
public:
    // argv[0] is looked up in PATH. extra_env entries are "K=V" (set or replace K) or
    // "K" without '=' (remove K from the child's environment). An empty log_path logs
    // to a private temporary file that is removed with this object. Throws
    // std::runtime_error if the program cannot be started.
    ChildProcess(std::vector<std::string> argv, std::vector<std::string> extra_env = {},
                 std::string log_path = "", int death_signal = SIGKILL);
    // SIGTERM, wait, SIGKILL after a timeout, reap.
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }
    // False once the process has exited (it is then reaped and its status kept).
    bool running();
    // Waits until the process exits; returns its exit code, 128 + signal number if a
    // signal ended it, or -1 on timeout (the process keeps running).
    int wait(std::chrono::milliseconds timeout);
    // Sends `sig` to the process (nothing once it has been reaped).
    void signal(int sig);
    // SIGTERM, then SIGKILL after `grace`; waits until it is gone. Returns wait()'s code.
    int terminate(std::chrono::milliseconds grace = std::chrono::seconds(10));
    // Captured stdout+stderr so far.
    std::string output() const;
    const std::string& log_path() const { return log_path_; }
    // Polls the log until it contains `needle`.
    bool wait_for_output(std::string_view needle, std::chrono::milliseconds timeout);

private:
    bool reap(bool block);

    pid_t pid_ = -1;
    std::optional<int> status_; // set once reaped
    std::string log_path_;
    std::optional<TempDir> own_log_dir_;
};

} // namespace lockstep::test
