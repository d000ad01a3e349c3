#include "harness/server.hpp"

#include <link.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace lockstep::test {

namespace {

using namespace std::chrono_literals;

// Generous: the CI machine may be busy, and a slow start is not what we test.
constexpr auto ready_timeout = 30s;
constexpr auto probe_timeout = 10s;
constexpr auto stop_grace = 10s;

std::string unique_name() {
    static std::atomic<unsigned> counter{0};
    std::random_device rd;
    char buf[64];
    std::snprintf(buf, sizeof buf, "lockstep-%d-%u-%04x", static_cast<int>(getpid()),
                  counter.fetch_add(1), static_cast<unsigned>(rd() & 0xffffu));
    return buf;
}

std::string read_file_or_empty(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// jackd2's server registry (/dev/shm/jack-shm-registry, jack2 common/shm.h): a header, then
// 8 entries {pid_t pid; char name[]} of header.entry_len bytes each, names written
// "jack-<uid>:<server>:". The names of servers whose process is gone (SIGKILLed, so they
// never unregistered): jackd2 frees such a slot only when a server of that name registers.
std::vector<std::string> stale_jackd_servers() {
    std::vector<std::string> names;
    const std::string reg = read_file_or_empty("/dev/shm/jack-shm-registry");
    constexpr std::size_t header = 24;
    constexpr std::size_t slots = 8;
    if (reg.size() < header) {
        return names;
    }
    std::int32_t hdr_len = 0;
    std::memcpy(&hdr_len, reg.data() + 16, sizeof hdr_len);
    if (hdr_len <= static_cast<std::int32_t>(header)) {
        return names;
    }
    const std::size_t entry = (static_cast<std::size_t>(hdr_len) - header) / slots;
    if (entry <= sizeof(pid_t) || reg.size() < header + slots * entry) {
        return names;
    }
    for (std::size_t i = 0; i < slots; ++i) {
        const char* e = reg.data() + header + i * entry;
        pid_t pid = 0;
        std::memcpy(&pid, e, sizeof pid);
        if (pid <= 0 || ::kill(pid, 0) == 0 || errno != ESRCH) {
            continue;
        }
        const std::string full(e + sizeof pid, strnlen(e + sizeof pid, entry - sizeof pid));
        const auto colon = full.find(':');
        if (colon == std::string::npos || full.size() < colon + 2 || full.back() != ':') {
            continue;
        }
        names.push_back(full.substr(colon + 1, full.size() - colon - 2));
    }
    return names;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool is_pipewire_jack_dir(const std::string& dir) {
    return dir.find("pipewire-0.3/jack") != std::string::npos;
}

// LD_LIBRARY_PATH for a child: with pipewire's libjack first, or without it.
std::string ld_library_path_entry(bool want_pipewire) {
    const char* current = std::getenv("LD_LIBRARY_PATH");
    std::vector<std::string> dirs;
    if (want_pipewire) {
        dirs.emplace_back(pipewire_jack_libdir);
    }
    std::istringstream in(current != nullptr ? current : "");
    for (std::string dir; std::getline(in, dir, ':');) {
        if (!dir.empty() && !is_pipewire_jack_dir(dir)) {
            dirs.push_back(dir);
        }
    }
    if (dirs.empty()) {
        return "LD_LIBRARY_PATH"; // remove it
    }
    std::string value;
    for (const auto& dir : dirs) {
        value += (value.empty() ? "" : ":") + dir;
    }
    return "LD_LIBRARY_PATH=" + value;
}

// Which libjack this process has loaded: nullopt if none.
std::optional<Backend> loaded_libjack() {
    std::optional<Backend> found;
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* data) {
            const std::string path = info->dlpi_name != nullptr ? info->dlpi_name : "";
            if (path.find("/libjack.so") != std::string::npos) {
                *static_cast<std::optional<Backend>*>(data) =
                    is_pipewire_jack_dir(path) ? Backend::pipewire : Backend::jackd;
                return 1;
            }
            return 0;
        },
        &found);
    return found;
}

// Derived from PipeWire 0.3.65's /usr/share/pipewire/pipewire.conf: no rt, portal,
// dbus or x11 modules (we run non-realtime like jackd --no-realtime, and headless),
// no vm.overrides (which would force a 1024 quantum inside VMs), and the clock pinned
// to the rate and period the test asked for.
std::string pipewire_config(const std::string& name, std::uint32_t rate, std::uint32_t period) {
    std::ostringstream c;
    c << "# Written by lockstep's test harness for server " << name << "\n"
      << "context.properties = {\n"
      << "    core.daemon = true\n"
      << "    core.name = \"" << name << "\"\n" // also the socket name
      << "    support.dbus = false\n"
      << "    mem.allow-mlock = false\n"
      << "    link.max-buffers = 16\n"
      << "    log.level = 2\n"
      << "    default.clock.rate = " << rate << "\n"
      << "    default.clock.allowed-rates = [ " << rate << " ]\n"
      << "    default.clock.quantum = " << period << "\n"
      << "    default.clock.min-quantum = " << period << "\n"
      << "    default.clock.max-quantum = " << period << "\n"
      << "    default.clock.quantum-limit = " << std::max<std::uint32_t>(period, 8192) << "\n"
      << "}\n"
      << R"(context.spa-libs = {
    audio.convert.* = audioconvert/libspa-audioconvert
    support.*       = support/libspa-support
}
context.modules = [
    { name = libpipewire-module-protocol-native }
    { name = libpipewire-module-profiler }
    { name = libpipewire-module-metadata }
    { name = libpipewire-module-spa-device-factory }
    { name = libpipewire-module-spa-node-factory }
    { name = libpipewire-module-client-node }
    { name = libpipewire-module-client-device }
    { name = libpipewire-module-access args = { } }
    { name = libpipewire-module-adapter }
    { name = libpipewire-module-link-factory }
    { name = libpipewire-module-session-manager }
]
context.objects = [
    { factory = spa-node-factory
        args = {
            factory.name    = support.node.driver
            node.name       = Dummy-Driver
            node.group      = pipewire.dummy
            priority.driver = 20000
        }
    }
    { factory = spa-node-factory
        args = {
            factory.name    = support.node.driver
            node.name       = Freewheel-Driver
            priority.driver = 19000
            node.group      = pipewire.freewheel
            node.freewheel  = true
        }
    }
]
context.exec = [ ]
)";
    return c.str();
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    if (!out.flush()) {
        throw std::runtime_error("cannot write " + path);
    }
}

} // namespace

Backend backend_from_env() {
    const char* value = std::getenv("LOCKSTEP_TEST_BACKEND");
    if (value == nullptr || *value == '\0' || std::strcmp(value, "jackd") == 0) {
        return Backend::jackd;
    }
    if (std::strcmp(value, "pipewire") == 0) {
        return Backend::pipewire;
    }
    throw std::runtime_error(std::string("LOCKSTEP_TEST_BACKEND must be jackd or pipewire, not '") +
                             value + "'");
}

const char* to_string(Backend backend) {
    return backend == Backend::jackd ? "jackd" : "pipewire";
}

TestServer::TestServer(ServerOptions opts)
    : opts_(opts), name_(unique_name()), dir_("lockstep-server") {
    if (opts_.backend == Backend::pipewire &&
        !(opts_.jackd_options.empty() && opts_.jackd_env.empty() && opts_.jackd_driver.empty())) {
        throw std::logic_error("TestServer: jackd_options, jackd_env and jackd_driver are for "
                               "jackd servers only");
    }
    if (opts_.backend == Backend::pipewire) {
        // The socket path (runtime dir + name) must fit in sockaddr_un.
        if (runtime_dir().size() + name_.size() + 2 > 100) {
            throw std::runtime_error("TMPDIR too long for a PipeWire socket: " + runtime_dir());
        }
        if (mkdir(runtime_dir().c_str(), 0700) != 0) {
            throw std::runtime_error("cannot create " + runtime_dir());
        }
        write_file(dir() + "/pipewire.conf", pipewire_config(name_, opts_.rate, opts_.period));
    }
    start();
}

TestServer::~TestServer() {
    try {
        stop();
        if (opts_.backend == Backend::jackd && unclean_exit_) {
            // jackd2 keeps a server slot (8 per user) for a server that did not shut
            // down cleanly, and frees it only when a server of the same name registers:
            // start and stop once more so the slot does not leak.
            start();
            stop();
        }
    } catch (...) {
        // Nothing more we can do; ChildProcess's destructor still kills and reaps it.
    }
    proc_.reset();
    remove_stale_files();
}

std::string TestServer::runtime_dir() const {
    return dir() + "/run";
}

std::vector<std::string> TestServer::server_argv() const {
    if (opts_.backend == Backend::pipewire) {
        return {"pipewire", "-c", dir() + "/pipewire.conf"};
    }
    std::vector<std::string> argv{"jackd", "-n", name_, "--no-realtime"};
    if (opts_.sync) {
        argv.emplace_back("-S");
    }
    argv.insert(argv.end(), opts_.jackd_options.begin(), opts_.jackd_options.end());
    argv.emplace_back("-d");
    if (!opts_.jackd_driver.empty()) {
        argv.insert(argv.end(), opts_.jackd_driver.begin(), opts_.jackd_driver.end());
        return argv;
    }
    argv.insert(argv.end(),
                {"dummy", "-r", std::to_string(opts_.rate), "-p", std::to_string(opts_.period)});
    return argv;
}

void TestServer::start() {
    if (running()) {
        throw std::logic_error("TestServer::start: " + name_ + " is already running");
    }
    std::vector<std::string> env = child_env();
    if (opts_.backend == Backend::pipewire) {
        env.push_back("XDG_CONFIG_HOME=" + dir() + "/config"); // no user drop-ins
        env.emplace_back("DISPLAY");
    }
    env.insert(env.end(), opts_.jackd_env.begin(), opts_.jackd_env.end());
    const std::vector<std::string> argv = server_argv();
    const auto deadline = std::chrono::steady_clock::now() + ready_timeout;
    for (;;) {
        const std::size_t log_start = log().size();
        {
            std::ofstream log(dir() + "/server.log", std::ios::app);
            log << "--- lockstep harness: starting " << to_string(opts_.backend) << " server "
                << name_ << ":";
            for (const auto& arg : argv) {
                log << ' ' << arg;
            }
            log << " ---\n";
        }
        // SIGTERM if this test process dies: jackd then unregisters cleanly.
        proc_ = std::make_unique<ChildProcess>(argv, env, dir() + "/server.log", SIGTERM);
        if (wait_ready(deadline)) {
            unclean_exit_ = false; // registering under our name freed any stale slot
            return;
        }
        // jackd2 allows 8 servers per user at once, counting other test processes'
        // servers: wait for a free slot rather than fail a parallel test run.
        const bool no_slot =
            log().find("Too many servers already active", log_start) != std::string::npos;
        if (!no_slot || std::chrono::steady_clock::now() > deadline) {
            break;
        }
        reclaim_stale_slots(env);
        std::this_thread::sleep_for(200ms);
    }
    throw std::runtime_error("lockstep test server " + name_ + " (" + to_string(opts_.backend) +
                             ") did not become ready: " + failure_ + "\n--- server log:\n" + log());
}

void TestServer::reclaim_stale_slots(const std::vector<std::string>& env) const {
    // Servers that were SIGKILLed (by anyone) keep their slot: register and unregister
    // under each such name, as jackd2 itself would on a restart of that server.
    for (const std::string& stale : stale_jackd_servers()) {
        ChildProcess server({"jackd", "-n", stale, "--no-realtime", "-d", "dummy"}, env,
                            dir() + "/reclaim.log", SIGTERM);
        for (int i = 0; i < 500 && server.running(); ++i) {
            ChildProcess lsp({"jack_lsp", "-s", stale}, env, dir() + "/reclaim-probe.log");
            if (lsp.wait(probe_timeout) == 0) {
                break;
            }
            std::this_thread::sleep_for(20ms);
        }
        server.terminate();
    }
}

bool TestServer::probe(std::string& probe_output) const {
    const std::string probe_log = dir() + "/probe.log";
    std::filesystem::remove(probe_log);
    ChildProcess lsp({"jack_lsp", "-s", name_}, child_env(), probe_log);
    const int status = lsp.wait(probe_timeout);
    probe_output = lsp.output();
    if (status != 0) {
        return false;
    }
    // jackd accepts clients before the dummy backend has registered its ports.
    return opts_.backend == Backend::pipewire ||
           probe_output.find("system:playback_1") != std::string::npos;
}

bool TestServer::wait_ready(std::chrono::steady_clock::time_point deadline) {
    std::string probe_output;
    for (;;) {
        if (!proc_->running()) {
            failure_ = "exited with status " + std::to_string(proc_->wait(0ms));
            break;
        }
        if (probe(probe_output)) {
            return true;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            failure_ = "timed out";
            break;
        }
        std::this_thread::sleep_for(20ms);
    }
    failure_ += "\n--- last probe (jack_lsp -s " + name_ + "):\n" + probe_output;
    stop();
    return false;
}

void TestServer::stop() {
    if (proc_) {
        // Anything but a clean exit 0 (a crash, SIGKILL after the grace time) leaves
        // jackd's registration behind.
        if (proc_->terminate(stop_grace) != 0) {
            unclean_exit_ = true;
        }
    }
}

void TestServer::kill() {
    if (proc_ && proc_->running()) {
        proc_->signal(SIGKILL);
        proc_->wait(stop_grace);
        unclean_exit_ = true;
    }
}

bool TestServer::running() const {
    return proc_ && proc_->running();
}

pid_t TestServer::pid() const {
    return running() ? proc_->pid() : -1;
}

void TestServer::use_in_this_process() const {
    const auto loaded = loaded_libjack();
    if (loaded && *loaded != opts_.backend) {
        throw std::runtime_error(
            std::string("this process has loaded the libjack of ") + to_string(*loaded) +
            " but the test server is " + to_string(opts_.backend) +
            (opts_.backend == Backend::pipewire
                 ? "; start the test with LD_LIBRARY_PATH=" + std::string(pipewire_jack_libdir) +
                       " (meson test --setup pipewire)"
                 : "; start the test without pipewire's libjack in LD_LIBRARY_PATH"));
    }
    for (const auto& entry : child_env()) {
        const auto eq = entry.find('=');
        if (entry.starts_with("LD_LIBRARY_PATH")) {
            continue; // too late to matter for this process
        }
        if (eq == std::string::npos) {
            unsetenv(entry.c_str());
        } else {
            setenv(entry.substr(0, eq).c_str(), entry.substr(eq + 1).c_str(), 1);
        }
    }
}

std::vector<std::string> TestServer::child_env() const {
    // JACK_NO_START_SERVER: a client whose server died must not start a stray one.
    std::vector<std::string> env{"JACK_DEFAULT_SERVER=" + name_, "JACK_NO_START_SERVER=1"};
    if (opts_.backend == Backend::pipewire) {
        env.push_back("XDG_RUNTIME_DIR=" + runtime_dir());
        env.push_back("PIPEWIRE_RUNTIME_DIR=" + runtime_dir());
        env.push_back("PIPEWIRE_REMOTE=" + name_);
        env.push_back(ld_library_path_entry(true));
    } else {
        env.push_back(ld_library_path_entry(false));
    }
    return env;
}

std::string TestServer::log() const {
    return read_file(dir() + "/server.log");
}

void TestServer::remove_stale_files() const {
    // A killed jackd leaves its socket and semaphores in /dev/shm. They carry our
    // unique name; the shared memory segments are reclaimed by the next jackd start.
    if (opts_.backend != Backend::jackd || running()) {
        return;
    }
    const std::string socket_prefix = "jack_" + name_ + "_";
    const std::string sem_prefix = "jack_sem." + std::to_string(getuid()) + "_" + name_ + "_";
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", ec)) {
        const std::string file = entry.path().filename().string();
        if (file.starts_with(socket_prefix) || file.starts_with(sem_prefix)) {
            std::filesystem::remove(entry.path(), ec);
        }
    }
}

} // namespace lockstep::test
