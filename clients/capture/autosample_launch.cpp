#include "autosample_launch.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>
#include <spawn.h>
#include <sstream>
#include <sys/wait.h>
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

namespace {

// One child at a time; reaped whenever a handler runs (and on destruction).
struct Child {
    pid_t pid = -1;
    int last_status = -1; // exit code of the last session, -1 before one ended
    ~Child() {
        if (pid > 0) {
            ::kill(pid, SIGINT); // cancel: the session can be resumed later
        }
    }
    void reap() {
        int st = 0;
        if (pid > 0 && ::waitpid(pid, &st, WNOHANG) == pid) {
            last_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            pid = -1;
        }
    }
};

} // namespace

void register_autosample_launcher(osc::Endpoint& endpoint, std::string server, int osc_port) {
    auto child = std::make_shared<Child>();
    endpoint.add(
        "/capture/autosample", "s",
        [child, server, osc_port](const osc::Message& m, osc::Context& ctx) {
            child->reap();
            if (child->pid > 0) {
                ctx.error("an autosample session runs (pid " + std::to_string(child->pid) + ")");
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
            // The child must not inherit our blocked signal mask (SIGINT cancels it).
            posix_spawnattr_t attr;
            posix_spawnattr_init(&attr);
            sigset_t none;
            sigemptyset(&none);
            posix_spawnattr_setsigmask(&attr, &none);
            posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
            pid_t pid = -1;
            const int rc = posix_spawn(&pid, argv[0], nullptr, &attr, argv.data(), environ);
            posix_spawnattr_destroy(&attr);
            if (rc != 0) {
                ctx.error(std::string("cannot start the autosampler: ") + std::strerror(rc));
                return;
            }
            child->pid = pid;
            ctx.reply(osc::Message("/capture/autosample/process",
                                   {osc::Arg::string("running"), osc::Arg::int32(pid),
                                    osc::Arg::int32(child->last_status)}));
        });
    auto signal_path = [&endpoint, child](const std::string& path, int sig) {
        endpoint.add(path, "", [child, sig](const osc::Message&, osc::Context& ctx) {
            child->reap();
            if (child->pid <= 0) {
                ctx.error("no autosample session runs");
                return;
            }
            ::kill(child->pid, sig);
        });
    };
    signal_path("/capture/autosample/pause", SIGUSR1);
    signal_path("/capture/autosample/resume", SIGUSR2);
    signal_path("/capture/autosample/cancel", SIGINT);
    endpoint.add("/capture/autosample/process", "",
                 [child](const osc::Message&, osc::Context& ctx) {
                     child->reap();
                     ctx.reply(osc::Message("/capture/autosample/process",
                                            {osc::Arg::string(child->pid > 0 ? "running" : "idle"),
                                             osc::Arg::int32(child->pid),
                                             osc::Arg::int32(child->last_status)}));
                 });
}

} // namespace lockstep::capture
