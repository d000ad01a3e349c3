// A private JACK server per integration test: jackd2 with the dummy backend, or a
// headless PipeWire with pipewire-jack in a private runtime directory.
//
// Pick the backend with LOCKSTEP_TEST_BACKEND=jackd|pipewire (default jackd); the meson
// test setup 'pipewire' sets it, plus LD_LIBRARY_PATH so that the test process itself
// loads pipewire's libjack:  meson test -C build --suite integration --setup pipewire
//
// All members are called from the test's control thread, never from a JACK callback.
#pragma once

#include "harness/process.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lockstep::test {

enum class Backend { jackd, pipewire };

// Where pipewire's libjack lives (what pw-jack puts in LD_LIBRARY_PATH).
inline constexpr const char* pipewire_jack_libdir = "/usr/lib/x86_64-linux-gnu/pipewire-0.3/jack";

// LOCKSTEP_TEST_BACKEND=jackd|pipewire, default jackd; throws std::runtime_error on
// any other value (a typo must not silently test the wrong server).
Backend backend_from_env();
const char* to_string(Backend backend);

struct ServerOptions {
    Backend backend = backend_from_env();
    std::uint32_t rate = 48000;
    std::uint32_t period = 256;
    // jackd: -S (synchronous mode: the server waits for every client each cycle).
    // PipeWire has no such switch and no asynchronous mode: each cycle of its graph
    // runs every node after its inputs, within the driver's cycle, so it always
    // behaves like jackd -S and `sync` changes nothing there.
    bool sync = false;
    // jackd only: more server options before -d (e.g. {"-I", "netmanager"} to load an
    // internal client at start) and "K=V" entries for the server's own environment.
    std::vector<std::string> jackd_options{};
    std::vector<std::string> jackd_env{};
    // jackd only: the driver and its options after -d, instead of the dummy driver
    // ({"dummy", "-r", rate, "-p", period}), e.g. {"net", "-a", "127.0.0.1", ...} for a
    // netjack2 satellite (whose rate and period are then its master's: `rate` and
    // `period` only say what the test expects). The server counts as ready once
    // system:playback_1 exists, so the driver must register playback ports (the net
    // driver does once its master has answered).
    std::vector<std::string> jackd_driver{};
};

// jackd2 allows at most 8 servers per user at once (all test processes together): a
// start that finds no free slot waits for one until its timeout.
class TestServer {
public:
    // Starts the server and waits until a JACK client can connect (for jackd also
    // until the dummy backend's system ports exist). Throws std::runtime_error with
    // the server's log on failure or timeout.
    explicit TestServer(ServerOptions opts = {});
    // Always stops the server by PID (SIGTERM, then SIGKILL after a timeout), reaps
    // it and removes its private files.
    ~TestServer();
    TestServer(const TestServer&) = delete;
    TestServer& operator=(const TestServer&) = delete;

    // Graceful stop (SIGTERM; SIGKILL if it hangs); returns once the process is gone.
    void stop();
    // SIGKILL, as if the server crashed; returns once the process is gone. Clients see
    // the server vanish (jackd2: info-shutdown callback; PipeWire: shutdown callback).
    void kill();
    // Starts again with the same name and runtime dir and waits until it is ready.
    // Throws std::logic_error if it is running.
    void start();
    bool running() const;
    // PID of the server process while it runs, -1 otherwise.
    pid_t pid() const;

    // Unique per server: lockstep-<pid>-<counter>-<random>. Under PipeWire it is also
    // the socket name, so jack_client_open(..., JackServerName, name) works on both
    // (pipewire-jack ignores JACK_DEFAULT_SERVER but honours an explicit server name
    // unless PIPEWIRE_REMOTE is set, which wins).
    const std::string& name() const { return name_; }
    Backend backend() const { return opts_.backend; }
    std::uint32_t rate() const { return opts_.rate; }
    std::uint32_t period() const { return opts_.period; }
    bool sync() const { return opts_.sync; }
    // Whether jack_set_freewheel(1) runs cycles as fast as the CPU allows. True on both
    // backends, with a PipeWire 0.3.65 caveat: the Freewheel-Driver only drives a
    // client that has at least one connected port (to another client or to itself);
    // a client with no links gets NO cycles while freewheeling. Tests that freewheel
    // connect their ports first.
    bool supports_freewheel() const { return true; }

    // Makes JACK clients opened later by THIS process connect here (setenv).
    // jackd: JACK_DEFAULT_SERVER. PipeWire: XDG_RUNTIME_DIR, PIPEWIRE_RUNTIME_DIR,
    // PIPEWIRE_REMOTE (which overrides any server name a client passes). Throws
    // std::runtime_error if this process has loaded the other backend's libjack.
    // Not thread-safe (setenv): call it before starting JACK clients.
    void use_in_this_process() const;
    // "K=V" (or "K" = remove K) entries for a child process's environment, e.g. for
    // ChildProcess's extra_env: selects this server, forbids JACK auto-starting a
    // server, and sets LD_LIBRARY_PATH so the child loads the right libjack.
    std::vector<std::string> child_env() const;
    // Everything the server printed (stdout+stderr), over all its starts.
    std::string log() const;
    // Private directory of this server (log, PipeWire config and runtime dir).
    const std::string& dir() const { return dir_.path(); }

private:
    std::string runtime_dir() const;
    std::vector<std::string> server_argv() const;
    bool probe(std::string& probe_output) const;
    void reclaim_stale_slots(const std::vector<std::string>& env) const;
    bool wait_ready(std::chrono::steady_clock::time_point deadline);
    void remove_stale_files() const;

    ServerOptions opts_;
    std::string name_;
    TempDir dir_;
    std::unique_ptr<ChildProcess> proc_;
    bool unclean_exit_ = false; // the last run did not end with a clean exit
    std::string failure_;       // why the last start attempt failed
};

} // namespace lockstep::test
