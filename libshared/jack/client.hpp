// The JACK client adapter: opens a client (never starting a server), registers ports,
// drives a Processor once per cycle with a Cycle built from the port buffers, counts what
// matters, and survives the server going away: a supervisor thread reconnects with
// backoff, re-registers the ports, re-makes the --connect connections and carries on with
// the same Processor, its 64-bit frames still monotonic.
//
// Threads: the JACK process thread (RT) runs only the callbacks in client.cpp; every
// public member function below says which threads may call it.
#pragma once

#include "jack/connection.hpp"
#include "jack/cycle.hpp"
#include "jack/cycle_frames.hpp"
#include "jack/heartbeat.hpp"
#include "jack/seqlock.hpp"
#include "time/clock_map.hpp"

#include <jack/jack.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace lockstep::jack {

enum class PortKind : std::uint8_t { midi_in, midi_out, audio_in, audio_out };

struct PortSpec {
    std::string name; // short name, e.g. "out"
    PortKind kind = PortKind::midi_in;
};

struct ClientOptions {
    std::string name;   // -n: JACK client name, used exactly (no "-01" suffix)
    std::string server; // -s: server name; empty: libjack's default ($JACK_DEFAULT_SERVER...)
    std::vector<PortSpec> ports;
    std::vector<Connection> connections; // --connect, short names are our own ports
    // Keep running when the server goes away and reconnect when it is back.
    bool reconnect = true;
    // start() succeeds even when no server is reachable yet; the supervisor keeps trying.
    bool wait_for_server = false;
    // When set, the client asks to be JACK's timebase master (unconditionally, after every
    // (re)activation) and fills jack_position_t's BBT from it. Not owned.
    TimebaseSource* timebase = nullptr;
    // Per-port, per-cycle capacities, allocated once at construction.
    std::size_t midi_in_events = 2048;
    std::size_t midi_out_events = 2048;
    std::size_t midi_out_bytes = 32768;
};

// Counters since construction; a consistent-enough snapshot (each counter is atomic).
struct ClientStats {
    std::uint64_t cycles = 0;              // process callbacks run
    std::uint64_t xruns = 0;               // reported by the server
    std::uint64_t midi_in_dropped = 0;     // input events beyond midi_in_events in a cycle
    std::uint64_t midi_out_late = 0;       // writes at an offset outside their cycle
    std::uint64_t midi_out_overflow = 0;   // writes that found no room (writer or JACK buffer)
    std::uint64_t midi_out_invalid = 0;    // empty writes
    std::uint64_t oversized_cycles = 0;    // cycles above max_buffer_size (skipped, silent)
    std::uint64_t buffer_size_changes = 0; // buffer-size callbacks after activation
    std::uint64_t reconnects = 0;          // successful reconnections after a server loss
    std::uint64_t server_losses = 0;       // times the server went away
    std::uint64_t frame_jumps = 0;         // cycles not starting where the last one ended
    std::uint64_t frame_steps_back = 0;    // JACK's counter went back on a running server
    std::uint64_t dsp_ns_max = 0;          // longest process callback
    std::uint64_t dsp_ns_mean = 0;         // mean process callback duration
    bool active = false;                   // connected to a server and active now
};

class Client {
public:
    // Control thread. Allocates every buffer the process callback will need.
    Client(ClientOptions options, Processor& processor);
    // Control thread. Same as stop().
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Control thread. Opens the client (JackNoStartServer, JackUseExactName), registers
    // the ports, activates, makes the connections and starts the supervisor. Returns false
    // (logged) when that fails, unless options.wait_for_server: then the supervisor keeps
    // retrying and the client becomes active when a server appears.
    bool start();
    // Control thread. Stops the supervisor, deactivates and closes. Idempotent.
    void stop();

    // Any thread.
    bool active() const noexcept { return active_.load(std::memory_order_acquire); }
    ClientStats stats() const noexcept;
    std::uint64_t cycles() const noexcept { return cycles_.load(std::memory_order_relaxed); }
    // Any thread: the systemd watchdog's progress counter (heartbeat.hpp). It moves with
    // the process callbacks while connected, and with the supervisor (every 20 ms) while
    // waiting for a server, so a JACK outage of any length does not get the client killed
    // but a stuck process callback still does.
    std::uint64_t heartbeat() const noexcept { return heartbeat_.value(); }
    // Any thread: timing of the latest cycle; false before the first cycle.
    bool timing(CycleTiming& out) const noexcept { return timing_.load(out); }
    const std::string& name() const noexcept { return options_.name; }
    const ClientOptions& options() const noexcept { return options_; }
    // "<client>:<port>" of port spec `index`.
    std::string port_name(std::size_t index) const;

    // Control thread: blocks until active() or the timeout; returns active().
    bool wait_active(std::chrono::milliseconds timeout) const;

    // Control thread: JACK requests on the current connection; false when there is none or
    // JACK refused.
    bool set_freewheel(bool on);
    bool set_buffer_size(std::uint32_t nframes);
    bool connect(const std::string& source, const std::string& destination);
    bool port_exists(const std::string& full_name);
    bool connected(const std::string& source, const std::string& destination);
    // Control thread: JACK transport requests (jack_transport_start/stop/locate).
    bool transport_start();
    bool transport_stop();
    bool transport_locate(std::uint32_t transport_frame);
    // Control thread: JACK transport now (jack_transport_query), and its BBT when a timebase
    // master published one; false without a connection.
    bool transport_query(Transport& out, Bbt* bbt = nullptr, bool* has_bbt = nullptr);
    // Any thread: JACK accepted our timebase callback on the current connection
    // (options.timebase set; re-requested after every reconnection).
    bool timebase_master() const noexcept {
        return timebase_master_.load(std::memory_order_relaxed);
    }

private:
    // Sessions: one jack_client_t from open to close. Control/supervisor threads only,
    // under mutex_.
    bool open_session(bool log_failure);
    void close_session();
    void make_connections(bool log_failures);
    void supervise();
    void begin_waiting();
    void try_reconnect();
    void check_realtime();
    void set_quiet(bool quiet);

    // JACK callbacks (trampolines in client.cpp).
    void process(std::uint32_t nframes) noexcept RT_NONBLOCKING;
    friend struct Callbacks;

    ClientOptions options_;
    Processor& processor_;

    // Supervisor and JACK handles.
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::thread supervisor_;
    bool stopping_ = false;
    bool started_ = false;
    jack_client_t* client_ = nullptr;
    std::vector<bool> connection_made_;
    std::vector<std::string> socket_paths_; // where the server would listen (server_probe.hpp)
    struct Waiting {                        // while no server is connected
        std::chrono::steady_clock::time_point since, next_check, next_open, last_open, last_log;
        std::uint64_t checks = 0;
        std::uint32_t open_failures = 0;
    } waiting_;
    bool quiet_ = false; // counted in the process-wide "expect JACK errors" flag

    // Written by the supervisor before activation, read by the process thread after it (the
    // generation's release/acquire orders them).
    std::vector<jack_port_t*> ports_;
    std::atomic<jack_client_t*> rt_client_{nullptr};
    std::atomic<std::uint32_t> generation_{0};

    // Signals from JACK's threads to the supervisor.
    std::atomic<bool> server_gone_{false};
    std::atomic<bool> ports_changed_{false};
    std::atomic<bool> reason_taken_{false};
    std::atomic<bool> reason_ready_{false};
    char shutdown_reason_[256] = {};

    // Process-thread state (the "rt" side): touched only by the process callback.
    struct Rt {
        std::uint32_t generation = 0;
        CycleFrames frames;
        std::vector<std::size_t> midi_in_ports, midi_out_ports, audio_in_ports, audio_out_ports;
        std::vector<std::vector<MidiEvent>> midi_in_events;
        std::vector<std::span<const MidiEvent>> midi_in;
        std::vector<MidiWriter> midi_out;
        std::vector<std::span<const float>> audio_in;
        std::vector<std::span<float>> audio_out;
        Transport transport;            // this cycle's, for the timebase callback that follows it
        std::int64_t raw_offset_ns = 0; // Cycle::raw_offset_ns, smoothed
        bool have_raw_offset = false;
    } rt_;

    // Published by JACK's threads, read anywhere.
    std::atomic<bool> active_{false};
    std::atomic<bool> freewheeling_{false};
    std::atomic<bool> timebase_master_{false};
    std::atomic<std::uint32_t> buffer_size_{0};
    SeqLock<CycleTiming> timing_;
    std::atomic<std::uint64_t> cycles_{0};
    Heartbeat heartbeat_;
    // Test hook (docs/testing.md, LOCKSTEP_TEST_HANG_ONCE): set by the constructor only.
    bool test_hang_ = false;
    std::atomic<std::uint64_t> xruns_{0};
    std::atomic<std::uint64_t> midi_in_dropped_{0};
    std::atomic<std::uint64_t> midi_out_late_{0};
    std::atomic<std::uint64_t> midi_out_overflow_{0};
    std::atomic<std::uint64_t> midi_out_invalid_{0};
    std::atomic<std::uint64_t> oversized_cycles_{0};
    std::atomic<std::uint64_t> buffer_size_changes_{0};
    std::atomic<std::uint64_t> reconnects_{0};
    std::atomic<std::uint64_t> server_losses_{0};
    std::atomic<std::uint64_t> frame_jumps_{0};
    std::atomic<std::uint64_t> frame_steps_back_{0};
    std::atomic<std::uint64_t> dsp_ns_total_{0};
    std::atomic<std::uint64_t> dsp_ns_max_{0};
};

} // namespace lockstep::jack
