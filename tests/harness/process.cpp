#include "harness/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace lockstep::test {

namespace {

using namespace std::chrono_literals;

std::string errno_text(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

std::string key_of(const std::string& entry) {
    return entry.substr(0, entry.find('='));
}

// The parent's environment with extra_env applied ("K=V" sets, "K" removes).
std::vector<std::string> merged_env(const std::vector<std::string>& extra_env) {
    std::vector<std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        env.emplace_back(*e);
    }
    for (const auto& entry : extra_env) {
        const std::string key = key_of(entry);
        std::erase_if(env, [&](const std::string& e) { return key_of(e) == key; });
        if (entry.find('=') != std::string::npos) {
            env.push_back(entry);
        }
    }
    return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (auto& s : strings) {
        out.push_back(s.data());
    }
    out.push_back(nullptr);
    return out;
}

// Runs in the forked child: only async-signal-safe calls until exec.
[[noreturn]] void exec_child(pid_t parent, int death_signal, const char* log_path,
                             char* const* argv, char* const* envp, int error_fd) {
    // Die with the parent (thread) so a crashed test leaves no server behind.
    prctl(PR_SET_PDEATHSIG, death_signal);
    if (getppid() != parent) {
        _exit(127); // the parent died before prctl took effect
    }
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD, SIGQUIT, SIGUSR1, SIGUSR2}) {
        ::signal(sig, SIG_DFL);
    }
    const int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    const int out = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) {
        const int err = errno;
        [[maybe_unused]] auto n = write(error_fd, &err, sizeof err);
        _exit(127);
    }
    execvpe(argv[0], argv, envp);
    const int err = errno;
    [[maybe_unused]] auto n = write(error_fd, &err, sizeof err);
    _exit(127);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace

bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (cond()) {
            return true;
        }
        std::this_thread::sleep_for(5ms);
    }
    return cond();
}

TempDir::TempDir(std::string_view prefix) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/" +
                        std::string(prefix) + "-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) {
        throw std::runtime_error(errno_text(("mkdtemp " + templ).c_str()));
    }
    path_ = templ;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

ChildProcess::ChildProcess(std::vector<std::string> argv, std::vector<std::string> extra_env,
                           std::string log_path, int death_signal)
    : log_path_(std::move(log_path)) {
    if (argv.empty()) {
        throw std::invalid_argument("ChildProcess: empty argv");
    }
    if (log_path_.empty()) {
        own_log_dir_.emplace("lockstep-child");
        log_path_ = own_log_dir_->path() + "/output.log";
    }
    // Everything the child needs is prepared before fork: the child may not allocate.
    std::vector<std::string> env = merged_env(extra_env);
    std::vector<char*> c_argv = c_strings(argv);
    std::vector<char*> c_env = c_strings(env);

    int error_pipe[2];
    if (pipe2(error_pipe, O_CLOEXEC) != 0) {
        throw std::runtime_error(errno_text("pipe2"));
    }
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
        const std::string err = errno_text("fork");
        close(error_pipe[0]);
        close(error_pipe[1]);
        throw std::runtime_error(err);
    }
    if (pid == 0) {
        close(error_pipe[0]);
        exec_child(parent, death_signal, log_path_.c_str(), c_argv.data(), c_env.data(),
                   error_pipe[1]);
    }
    pid_ = pid;
    // Also set the group from this side, so it is in place before we ever signal it.
    setpgid(pid_, pid_);
    close(error_pipe[1]);
    int child_errno = 0;
    ssize_t n;
    do {
        n = read(error_pipe[0], &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    close(error_pipe[0]);
    if (n > 0) { // exec failed: the pipe closes without data only on a successful exec
        reap(true);
        throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(child_errno));
    }
}

ChildProcess::~ChildProcess() {
    terminate(10s);
}

bool ChildProcess::reap(bool block) {
    if (status_) {
        return true;
    }
    // Peek first without reaping: while the zombie exists its PID (= process group id)
    // cannot be reused, so killing what is left of its group is safe.
    siginfo_t info{};
    int rc;
    do {
        rc = waitid(P_PID, static_cast<id_t>(pid_), &info,
                    WEXITED | WNOWAIT | (block ? 0 : WNOHANG));
    } while (rc < 0 && errno == EINTR);
    if (rc < 0 || info.si_pid == 0) {
        return false;
    }
    ::kill(-pid_, SIGKILL); // leftovers of its process group, if any
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
}

bool ChildProcess::running() {
    return !reap(false);
}

int ChildProcess::wait(std::chrono::milliseconds timeout) {
    if (!wait_until([this] { return reap(false); }, timeout)) {
        return -1;
    }
    return *status_;
}

void ChildProcess::signal(int sig) {
    if (!status_) {
        ::kill(pid_, sig); // not yet reaped, so the PID is still ours
    }
}

int ChildProcess::terminate(std::chrono::milliseconds grace) {
    if (status_) {
        return *status_;
    }
    signal(SIGTERM);
    if (wait(grace) < 0) {
        signal(SIGKILL);
        reap(true);
    }
    return *status_;
}

std::string ChildProcess::output() const {
    return read_file(log_path_);
}

bool ChildProcess::wait_for_output(std::string_view needle, std::chrono::milliseconds timeout) {
    return wait_until([&] { return output().find(needle) != std::string::npos; }, timeout);
}

} // namespace lockstep::test
