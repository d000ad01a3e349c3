#include "autosample_launch.hpp"

#include "osc/address.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>
#include <mutex>
#include <spawn.h>
#include <sstream>
#include <string_view>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace lockstep::capture {

std::vector<std::string> split_args(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> out;
    std::string w;
    while (in >> w) {
        out.push_back(w);
    }
    return out;
}

std::vector<std::string> autosample_command(const std::string& exe, const std::string& server,
                                            int osc_port, const std::vector<std::string>& args) {
    auto has = [&](std::initializer_list<const char*> flags) {
        return std::any_of(args.begin(), args.end(), [&](const std::string& a) {
            return std::any_of(flags.begin(), flags.end(), [&](const char* f) {
                return a == f || a.rfind(std::string(f) + "=", 0) == 0;
            });
        });
    };
    std::vector<std::string> cmd{exe, "autosample"};
    if (!server.empty() && !has({"-s", "--server"})) {
        cmd.insert(cmd.end(), {"-s", server});
    }
    if (!has({"--osc"})) {
        cmd.insert(cmd.end(), {"--osc", std::to_string(osc_port)});
    }
    cmd.insert(cmd.end(), args.begin(), args.end());
    return cmd;
}

int autosample_osc_port(const std::string& recorder_url) {
    const auto a = osc::parse_url(recorder_url);
    const int port = a ? a->port() : 0;
    if (port == 0) {
        return osc::port::capture + 100;
    }
    return port + 100 <= 65535 ? port + 100 : port - 100;
}

std::vector<std::string> child_environment(const char* const* env) {
    std::vector<std::string> out;
    for (; env != nullptr && *env != nullptr; ++env) {
        const std::string_view e(*env);
        // The recorder's systemd notification socket and watchdog, and its NSM session,
        // are the recorder's: a child that used them would speak for it.
        if (e.starts_with("NOTIFY_SOCKET=") || e.starts_with("NSM_URL=") ||
            e.starts_with("WATCHDOG_")) {
            continue;
        }
        out.emplace_back(e);
    }
    return out;
}

namespace {

// One child at a time. A waiter thread per child reaps it as soon as it ends (no zombie
// until the next message); it waits without reaping first, so that a signal sent under
// the lock never reaches a reused pid.
struct ChildState {
    std::mutex mutex;
    pid_t pid = -1;       // guarded by mutex
    int last_status = -1; // exit code of the last session, -1 before one ended
};

void wait_for(const std::shared_ptr<ChildState>& st, pid_t pid) {
    siginfo_t info{};
    while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) != 0 &&
           errno == EINTR) {
    }
    std::lock_guard lock(st->mutex);
    int status = 0;
    if (::waitpid(pid, &status, 0) == pid) {
        st->last_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    st->pid = -1;
}

struct Child {
    std::shared_ptr<ChildState> state = std::make_shared<ChildState>();
    std::thread waiter;
    ~Child() {
        {
            std::lock_guard lock(state->mutex);
            if (state->pid > 0) {
                ::kill(state->pid, SIGINT); // cancel: the session can be resumed later
            }
        }
        if (waiter.joinable()) {
            waiter.detach(); // reaps the child when it has finished cancelling
        }
    }
};

} // namespace

void register_autosample_launcher(osc::Endpoint& endpoint, std::string server, int osc_port) {
    auto child = std::make_shared<Child>();
    endpoint.add(
        "/capture/autosample", "s",
        [child, server, osc_port](const osc::Message& m, osc::Context& ctx) {
            ChildState& st = *child->state;
            std::unique_lock lock(st.mutex);
            if (st.pid > 0) {
                ctx.error("an autosample session runs (pid " + std::to_string(st.pid) + ")");
                return;
            }
            char exe[4096];
            const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
            if (n <= 0) {
                ctx.error("cannot find the lockstep-capture binary");
                return;
            }
            exe[n] = '\0';
            const auto cmd = autosample_command(exe, server, osc_port, split_args(m.args[0].s()));
            std::vector<char*> argv;
            for (const auto& a : cmd) {
                argv.push_back(const_cast<char*>(a.c_str()));
            }
            argv.push_back(nullptr);
            const auto env_strings = child_environment(environ);
            std::vector<char*> envp;
            for (const auto& e : env_strings) {
                envp.push_back(const_cast<char*>(e.c_str()));
            }
            envp.push_back(nullptr);
            // The child must not inherit our blocked signal mask (SIGINT cancels it).
            posix_spawnattr_t attr;
            posix_spawnattr_init(&attr);
            sigset_t none;
            sigemptyset(&none);
            posix_spawnattr_setsigmask(&attr, &none);
            posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
            pid_t pid = -1;
            const int rc = posix_spawn(&pid, argv[0], nullptr, &attr, argv.data(), envp.data());
            posix_spawnattr_destroy(&attr);
            if (rc != 0) {
                ctx.error(std::string("cannot start the autosampler: ") + std::strerror(rc));
                return;
            }
            st.pid = pid;
            const int last = st.last_status;
            lock.unlock();
            if (child->waiter.joinable()) {
                child->waiter.join(); // the previous child's, done (its pid was cleared)
            }
            child->waiter = std::thread(wait_for, child->state, pid);
            ctx.reply(osc::Message(
                "/capture/autosample/process",
                {osc::Arg::string("running"), osc::Arg::int32(pid), osc::Arg::int32(last)}));
        });
    auto signal_path = [&endpoint, child](const std::string& path, int sig) {
        endpoint.add(path, "", [child, sig](const osc::Message&, osc::Context& ctx) {
            std::lock_guard lock(child->state->mutex);
            if (child->state->pid <= 0) {
                ctx.error("no autosample session runs");
                return;
            }
            ::kill(child->state->pid, sig);
        });
    };
    signal_path("/capture/autosample/pause", SIGUSR1);
    signal_path("/capture/autosample/resume", SIGUSR2);
    signal_path("/capture/autosample/cancel", SIGINT);
    endpoint.add("/capture/autosample/process", "",
                 [child](const osc::Message&, osc::Context& ctx) {
                     std::unique_lock lock(child->state->mutex);
                     const pid_t pid = child->state->pid;
                     const int last = child->state->last_status;
                     lock.unlock();
                     ctx.reply(osc::Message("/capture/autosample/process",
                                            {osc::Arg::string(pid > 0 ? "running" : "idle"),
                                             osc::Arg::int32(pid), osc::Arg::int32(last)}));
                 });
}

} // namespace lockstep::capture
