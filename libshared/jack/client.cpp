#include "jack/client.hpp"

#include "jack/jack_calls.hpp"
#include "jack/reconnect.hpp"
#include "jack/server_probe.hpp"
#include "service/log.hpp"

#include <jack/midiport.h>

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <stdexcept>

#if defined(LOCKSTEP_RTSAN)
#include <sanitizer/rtsan_interface.h>
#endif

namespace lockstep::jack {

namespace {

// While a supervisor is retrying, libjack's own "cannot connect to server" lines are
// expected noise: they go to the debug level instead of the log.
std::atomic<int> g_quiet_jack_errors{0};

void jack_error_to_log(const char* msg) {
    if (g_quiet_jack_errors.load(std::memory_order_relaxed) > 0) {
        log::debug("jack: %s", msg);
    } else {
        log::warning("jack: %s", msg);
    }
}

void jack_info_to_log(const char* msg) {
    log::debug("jack: %s", msg);
}

// Test hook (docs/testing.md): when the file named by $LOCKSTEP_TEST_HANG_ONCE exists at
// start-up, it is removed (so a restarted process runs normally) and the process callback
// hangs for good once this many cycles have run, for the watchdog test of the systemd units.
constexpr std::uint64_t test_hang_after_cycles = 200;

bool take_test_hang() {
    const char* path = std::getenv("LOCKSTEP_TEST_HANG_ONCE");
    if (path == nullptr || *path == '\0' || ::unlink(path) != 0) {
        return false;
    }
    log::warning("test hook: %s removed; the process callback will hang", path);
    return true;
}

// RT (the process callback), for the test hook only: blocks on a futex that nothing wakes
// (not spinning: the thread may be SCHED_FIFO), as a stuck callback would.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wfunction-effects" // blocking is the point
#endif
[[noreturn]] void hang_forever() noexcept RT_NONBLOCKING {
#if defined(LOCKSTEP_RTSAN)
    __rtsan::ScopedDisabler allow_blocking;
#endif
    static std::atomic<bool> never{false};
    for (;;) {
        never.wait(false);
    }
}
#if defined(__clang__)
#pragma clang diagnostic pop
#endif

void install_jack_log_functions() {
    static std::once_flag once;
    std::call_once(once, [] {
        jack_set_error_function(jack_error_to_log);
        jack_set_info_function(jack_info_to_log);
    });
}

const char* kind_type(PortKind k) {
    return (k == PortKind::midi_in || k == PortKind::midi_out) ? JACK_DEFAULT_MIDI_TYPE
                                                               : JACK_DEFAULT_AUDIO_TYPE;
}

unsigned long kind_flags(PortKind k) {
    return (k == PortKind::midi_in || k == PortKind::audio_in) ? JackPortIsInput : JackPortIsOutput;
}

// Monotonic nanoseconds for the DSP-time measurement. clock_gettime reads the vDSO clock:
// no lock, no allocation, no syscall on Linux (not annotated, hence the bracket).
std::uint64_t now_ns() noexcept RT_NONBLOCKING {
    timespec ts{};
    LOCKSTEP_JACK_CALLS_BEGIN
    clock_gettime(CLOCK_MONOTONIC, &ts);
    LOCKSTEP_JACK_CALLS_END
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000U +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

// CLOCK_MONOTONIC_RAW - jack_get_time(), ns, from one back-to-back reading: the midpoint
// of two raw readings around JACK's, plus half a µs because jack_get_time() truncates to
// whole µs. False when the reading took too long to trust (the thread was preempted).
bool read_raw_offset(std::int64_t& offset_ns) noexcept RT_NONBLOCKING {
    constexpr std::int64_t max_span_ns = 20'000;
    timespec a{};
    timespec b{};
    LOCKSTEP_JACK_CALLS_BEGIN
    clock_gettime(CLOCK_MONOTONIC_RAW, &a);
    const auto jack_us = static_cast<std::int64_t>(jack_get_time());
    clock_gettime(CLOCK_MONOTONIC_RAW, &b);
    LOCKSTEP_JACK_CALLS_END
    const std::int64_t a_ns = std::int64_t{a.tv_sec} * 1'000'000'000 + a.tv_nsec;
    const std::int64_t b_ns = std::int64_t{b.tv_sec} * 1'000'000'000 + b.tv_nsec;
    if (b_ns - a_ns > max_span_ns) {
        return false;
    }
    offset_ns = a_ns + (b_ns - a_ns) / 2 - (jack_us * 1000 + 500);
    return true;
}

void atomic_add(std::atomic<std::uint64_t>& a, std::uint64_t n) noexcept RT_NONBLOCKING {
    if (n != 0) {
        a.fetch_add(n, std::memory_order_relaxed);
    }
}

// The engine-facing view of jack_transport_query's answer.
Transport to_transport(jack_transport_state_t state,
                       const jack_position_t& pos) noexcept RT_NONBLOCKING {
    Transport t;
    t.valid = true;
    t.state = state == JackTransportRolling    ? TransportState::rolling
              : state == JackTransportStarting ? TransportState::starting
                                               : TransportState::stopped;
    t.frame = pos.frame;
    return t;
}

// The BBT in jack_position_t, if a timebase master published it.
bool to_bbt(const jack_position_t& pos, Bbt& out) noexcept RT_NONBLOCKING {
    if ((pos.valid & JackPositionBBT) == 0) {
        return false;
    }
    out = Bbt{pos.bar,           pos.beat,      pos.tick,           pos.bar_start_tick,
              pos.beats_per_bar, pos.beat_type, pos.ticks_per_beat, pos.beats_per_minute};
    return true;
}

} // namespace

// JACK calls these C-style trampolines; each forwards to the Client given as `arg`.
struct Callbacks {
    static int process(jack_nframes_t nframes, void* arg) noexcept RT_NONBLOCKING {
        static_cast<Client*>(arg)->process(nframes);
        return 0;
    }

    static void xrun_count(Client& c) noexcept RT_NONBLOCKING {
        c.xruns_.fetch_add(1, std::memory_order_relaxed);
    }
    static int xrun(void* arg) noexcept RT_NONBLOCKING {
        xrun_count(*static_cast<Client*>(arg));
        return 0;
    }

    // Buffer size changed: everything is sized for max_buffer_size already, so this only
    // counts. (No allocation: it may run on the process thread.)
    static int buffer_size(jack_nframes_t nframes, void* arg) noexcept RT_NONBLOCKING {
        auto& c = *static_cast<Client*>(arg);
        const auto old = c.buffer_size_.exchange(nframes, std::memory_order_relaxed);
        if (old != 0 && old != nframes) {
            c.buffer_size_changes_.fetch_add(1, std::memory_order_relaxed);
        }
        return 0;
    }

    // JACK's timebase callback, on the process thread of the timebase master, right after
    // our process callback: fill in BBT for the next cycle. jackd2 hands us the next cycle's
    // position (pos->frame is its first transport frame). PipeWire 0.3.65 hands us this
    // cycle's position and publishes what we write for the next cycle, so while rolling we
    // answer for pos->frame + nframes there. (JACK owns pos->frame: a master must not
    // change it.)
    static void timebase(jack_transport_state_t state, jack_nframes_t nframes, jack_position_t* pos,
                         int, void* arg) noexcept RT_NONBLOCKING {
        auto& c = *static_cast<Client*>(arg);
        TimebaseSource* const source = c.options_.timebase;
        std::uint32_t frame = pos->frame;
        if (state == JackTransportRolling && c.rt_.transport.state == TransportState::rolling &&
            frame == c.rt_.transport.frame) {
            frame += nframes; // PipeWire: this cycle's position, published for the next
        }
        Bbt bbt;
        if (source == nullptr || !source->timebase(frame, bbt)) {
            pos->valid = static_cast<jack_position_bits_t>(pos->valid & ~JackPositionBBT);
            return;
        }
        pos->bar = bbt.bar;
        pos->beat = bbt.beat;
        pos->tick = bbt.tick;
        pos->bar_start_tick = bbt.bar_start_tick;
        pos->beats_per_bar = bbt.beats_per_bar;
        pos->beat_type = bbt.beat_type;
        pos->ticks_per_beat = bbt.ticks_per_beat;
        pos->beats_per_minute = bbt.beats_per_minute;
        pos->valid = static_cast<jack_position_bits_t>(pos->valid | JackPositionBBT);
    }

    static void freewheel(int starting, void* arg) noexcept RT_NONBLOCKING {
        static_cast<Client*>(arg)->freewheeling_.store(starting != 0, std::memory_order_relaxed);
    }

    static void port_registration(jack_port_id_t, int registered,
                                  void* arg) noexcept RT_NONBLOCKING {
        if (registered != 0) {
            static_cast<Client*>(arg)->ports_changed_.store(true, std::memory_order_relaxed);
        }
    }

    // jackd2 calls the info variant; PipeWire 0.3.65 only the plain one. Either just flags
    // the loss for the supervisor: JACK forbids calling it back from here.
    static void gone(Client& c, const char* reason) noexcept {
        if (!c.reason_taken_.exchange(true, std::memory_order_acq_rel)) {
            std::strncpy(c.shutdown_reason_, reason, sizeof c.shutdown_reason_ - 1);
            c.reason_ready_.store(true, std::memory_order_release);
        }
        c.active_.store(false, std::memory_order_release);
        c.server_gone_.store(true, std::memory_order_release);
    }
    static void shutdown(void* arg) noexcept { gone(*static_cast<Client*>(arg), "shutdown"); }
    static void info_shutdown(jack_status_t, const char* reason, void* arg) noexcept {
        gone(*static_cast<Client*>(arg), reason != nullptr ? reason : "shutdown");
    }
};

Client::Client(ClientOptions options, Processor& processor)
    : options_(std::move(options)), processor_(processor) {
    ports_.assign(options_.ports.size(), nullptr);
    for (std::size_t i = 0; i < options_.ports.size(); ++i) {
        switch (options_.ports[i].kind) {
        case PortKind::midi_in:
            rt_.midi_in_ports.push_back(i);
            break;
        case PortKind::midi_out:
            rt_.midi_out_ports.push_back(i);
            break;
        case PortKind::audio_in:
            rt_.audio_in_ports.push_back(i);
            break;
        case PortKind::audio_out:
            rt_.audio_out_ports.push_back(i);
            break;
        }
    }
    rt_.midi_in_events.assign(rt_.midi_in_ports.size(),
                              std::vector<MidiEvent>(options_.midi_in_events));
    rt_.midi_in.resize(rt_.midi_in_ports.size());
    rt_.midi_out.reserve(rt_.midi_out_ports.size());
    for (std::size_t i = 0; i < rt_.midi_out_ports.size(); ++i) {
        rt_.midi_out.emplace_back(options_.midi_out_events, options_.midi_out_bytes);
    }
    rt_.audio_in.resize(rt_.audio_in_ports.size());
    rt_.audio_out.resize(rt_.audio_out_ports.size());
    connection_made_.assign(options_.connections.size(), false);
    test_hang_ = take_test_hang();
    socket_paths_ = server_socket_paths(
        options_.server, getuid(), [](const char* k) -> const char* { return std::getenv(k); });
}

Client::~Client() {
    stop();
}

std::string Client::port_name(std::size_t index) const {
    return qualify_port(options_.name, options_.ports.at(index).name);
}

bool Client::start() {
    install_jack_log_functions();
    std::unique_lock lock(mutex_);
    if (started_) {
        return client_ != nullptr;
    }
    const bool ok = open_session(true);
    if (!ok && !(options_.wait_for_server && options_.reconnect)) {
        return false;
    }
    if (!ok) {
        log::notice("%s: waiting for the JACK server", options_.name.c_str());
        begin_waiting();
    }
    started_ = true;
    stopping_ = false;
    supervisor_ = std::thread([this] { supervise(); });
    return ok;
}

void Client::stop() {
    {
        std::lock_guard lock(mutex_);
        if (!started_) {
            return;
        }
        stopping_ = true;
    }
    wake_.notify_all();
    if (supervisor_.joinable()) {
        supervisor_.join();
    }
    std::lock_guard lock(mutex_);
    close_session();
    set_quiet(false);
    started_ = false;
}

// Under mutex_. Opens, registers, activates and connects; leaves no half-open client.
bool Client::open_session(bool log_failure) {
    jack_status_t status{};
    const int opts =
        JackNoStartServer | JackUseExactName | (options_.server.empty() ? 0 : JackServerName);
    jack_client_t* c =
        options_.server.empty()
            ? jack_client_open(options_.name.c_str(), static_cast<jack_options_t>(opts), &status)
            : jack_client_open(options_.name.c_str(), static_cast<jack_options_t>(opts), &status,
                               options_.server.c_str());
    if (c == nullptr) {
        if (log_failure) {
            log::error("%s: cannot open JACK client on server '%s' (status 0x%x%s)",
                       options_.name.c_str(),
                       options_.server.empty() ? "default" : options_.server.c_str(),
                       static_cast<unsigned>(status),
                       (status & JackNameNotUnique) != 0 ? ": name in use" : "");
        }
        return false;
    }

    for (std::size_t i = 0; i < options_.ports.size(); ++i) {
        const auto& p = options_.ports[i];
        ports_[i] = jack_port_register(c, p.name.c_str(), kind_type(p.kind), kind_flags(p.kind), 0);
        if (ports_[i] == nullptr) {
            log::error("%s: cannot register port '%s'", options_.name.c_str(), p.name.c_str());
            jack_client_close(c);
            std::fill(ports_.begin(), ports_.end(), nullptr);
            return false;
        }
    }

    jack_set_process_callback(c, &Callbacks::process, this);
    jack_set_xrun_callback(c, &Callbacks::xrun, this);
    jack_set_buffer_size_callback(c, &Callbacks::buffer_size, this);
    jack_set_freewheel_callback(c, &Callbacks::freewheel, this);
    jack_set_port_registration_callback(c, &Callbacks::port_registration, this);
    jack_on_shutdown(c, &Callbacks::shutdown, this);
    jack_on_info_shutdown(c, &Callbacks::info_shutdown, this);

    server_gone_.store(false, std::memory_order_relaxed);
    reason_taken_.store(false, std::memory_order_relaxed);
    reason_ready_.store(false, std::memory_order_relaxed);
    buffer_size_.store(jack_get_buffer_size(c), std::memory_order_relaxed);
    rt_client_.store(c, std::memory_order_relaxed);
    // Publishes ports_ and the new generation to the process thread (acquire in process()).
    generation_.fetch_add(1, std::memory_order_release);
    client_ = c;

    if (jack_activate(c) != 0) {
        log::error("%s: cannot activate the JACK client", options_.name.c_str());
        close_session();
        return false;
    }
    active_.store(true, std::memory_order_release);
    if (options_.timebase != nullptr) {
        // Unconditional (conditional = 0): a restarted server or a master that left must
        // not keep us from publishing. Failure is not fatal: the transport still runs.
        timebase_master_.store(jack_set_timebase_callback(c, 0, &Callbacks::timebase, this) == 0,
                               std::memory_order_relaxed);
        if (!timebase_master_.load(std::memory_order_relaxed)) {
            log::warning("%s: JACK refused to make us the timebase master", options_.name.c_str());
        }
    }
    std::fill(connection_made_.begin(), connection_made_.end(), false);
    make_connections(true);
    check_realtime();
    return true;
}

// Under mutex_.
void Client::close_session() {
    if (client_ == nullptr) {
        return;
    }
    active_.store(false, std::memory_order_release);
    timebase_master_.store(false, std::memory_order_relaxed);
    // Returns once the process thread has left our callbacks for good.
    jack_client_close(client_);
    // jackd2 cancels a process thread that is blocked inside a callback (pthread_cancel at
    // its next cancellation point) rather than wait for it. The heartbeat must not stay
    // "in a cycle" for the whole outage because of it.
    if (heartbeat_.session_closed()) {
        log::warning("%s: a process callback was cut off when the JACK session closed",
                     options_.name.c_str());
    }
    client_ = nullptr;
    rt_client_.store(nullptr, std::memory_order_relaxed);
    std::fill(ports_.begin(), ports_.end(), nullptr);
}

// Under mutex_. Connections whose ports do not exist yet are retried when ports appear.
// A client with many links (a 512-channel recorder) logs one line for them, not 512.
void Client::make_connections(bool log_failures) {
    constexpr std::size_t each_logged = 8;
    const bool many = options_.connections.size() > each_logged;
    std::size_t made = 0;
    std::size_t failed = 0;
    std::string first_failure;
    for (std::size_t i = 0; i < options_.connections.size(); ++i) {
        if (connection_made_[i]) {
            continue;
        }
        const auto src = qualify_port(options_.name, options_.connections[i].source);
        const auto dst = qualify_port(options_.name, options_.connections[i].destination);
        const int rc = jack_connect(client_, src.c_str(), dst.c_str());
        if (rc == 0 || rc == EEXIST) {
            connection_made_[i] = true;
            ++made;
            if (!many) {
                log::info("%s: connected %s -> %s", options_.name.c_str(), src.c_str(),
                          dst.c_str());
            }
        } else if (log_failures) {
            if (failed++ == 0) {
                first_failure = src + " -> " + dst;
            }
            if (!many) {
                log::warning("%s: cannot connect %s -> %s yet; will retry when ports appear",
                             options_.name.c_str(), src.c_str(), dst.c_str());
            }
        }
    }
    if (many && made > 0) {
        log::info("%s: connected %zu of %zu links", options_.name.c_str(), made,
                  options_.connections.size());
    }
    if (many && failed > 0) {
        log::warning("%s: cannot make %zu links yet (first: %s); will retry when ports appear",
                     options_.name.c_str(), failed, first_failure.c_str());
    }
}

// Under mutex_. JACK carries on without realtime scheduling when the system refuses it;
// so do we, but we say so once.
void Client::check_realtime() {
    static std::atomic<bool> warned{false}; // once per process, not per client or reconnect
    if (warned.load() || jack_is_realtime(client_) == 0) {
        return;
    }
    const auto thread = jack_client_thread_id(client_);
    int policy = 0;
    sched_param param{};
    if (thread != jack_native_thread_t{} && pthread_getschedparam(thread, &policy, &param) == 0 &&
        policy != SCHED_FIFO && policy != SCHED_RR && !warned.exchange(true)) {
        log::warning("%s: JACK runs realtime but our process thread got no realtime "
                     "scheduling (check the rtprio limit); carrying on",
                     options_.name.c_str());
    }
}

// Under mutex_.
void Client::set_quiet(bool quiet) {
    if (quiet != quiet_) {
        quiet_ = quiet;
        g_quiet_jack_errors.fetch_add(quiet ? 1 : -1, std::memory_order_relaxed);
    }
}

void Client::begin_waiting() {
    const auto now = std::chrono::steady_clock::now();
    set_quiet(true);
    waiting_ = Waiting{};
    waiting_.since = now;
    waiting_.next_open = now;
    waiting_.last_open = now;
    waiting_.next_check = now;
}

// Under mutex_, while no server is connected. The server's socket is checked every 100 ms
// (cheap, and it spares libjack pointless opens); when it answers, jack_client_open is
// tried, failed opens backing off 100 ms doubling to 1 s (reconnect_delay). If the socket
// is not where we look, an open is tried every 10 s anyway.
void Client::try_reconnect() {
    using clock = std::chrono::steady_clock;
    constexpr auto check_interval = std::chrono::milliseconds(100);
    constexpr auto blind_open_interval = std::chrono::seconds(10);
    const auto now = clock::now();
    auto& w = waiting_;
    bool answers = false;
    if (now >= w.next_check) {
        w.next_check = now + check_interval;
        answers = server_socket_answers(socket_paths_);
        if (!answers) {
            // Logged on check 1, 2, 4, 8...: enough to follow, not a line per check.
            ++w.checks;
            if ((w.checks & (w.checks - 1)) == 0) {
                log::debug("%s: no JACK server answers yet (%llu checks)", options_.name.c_str(),
                           static_cast<unsigned long long>(w.checks));
            }
        }
    }
    const bool open = (answers && now >= w.next_open) || now - w.last_open >= blind_open_interval;
    if (open) {
        w.last_open = now;
        if (open_session(false)) {
            set_quiet(false);
            const auto ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - w.since)
                    .count();
            reconnects_.fetch_add(1, std::memory_order_relaxed);
            log::notice("%s: reconnected to JACK after %lld ms (%llu server checks, %u failed "
                        "opens); ports re-registered",
                        options_.name.c_str(), static_cast<long long>(ms),
                        static_cast<unsigned long long>(w.checks), w.open_failures);
            return;
        }
        log::debug("%s: jack_client_open failed (attempt %u)", options_.name.c_str(),
                   w.open_failures + 1);
        w.next_open = clock::now() + reconnect_delay(w.open_failures++);
    }
    // One line per minute while waiting, not one per attempt.
    if (now - w.last_log >= std::chrono::minutes(1) && now - w.since >= std::chrono::minutes(1)) {
        w.last_log = now;
        log::notice("%s: still waiting for the JACK server", options_.name.c_str());
    }
}

void Client::supervise() {
    using clock = std::chrono::steady_clock;
    constexpr auto poll = std::chrono::milliseconds(20);
    auto next_connection_retry = clock::now();

    std::unique_lock lock(mutex_);
    while (!stopping_) {
        heartbeat_.supervisor_tick(client_ != nullptr);
        wake_.wait_for(lock, poll);
        if (stopping_) {
            break;
        }
        if (client_ != nullptr && server_gone_.load(std::memory_order_acquire)) {
            server_losses_.fetch_add(1, std::memory_order_relaxed);
            const char* reason =
                reason_ready_.load(std::memory_order_acquire) ? shutdown_reason_ : "shutdown";
            log::warning("%s: JACK server gone (%s)%s", options_.name.c_str(), reason,
                         options_.reconnect ? "; reconnecting" : "");
            // libjack complains while closing a client of a dead server, and on every
            // failed open: expected, so not logged above debug level.
            begin_waiting();
            close_session();
            if (!options_.reconnect) {
                break;
            }
        }
        if (client_ == nullptr && options_.reconnect) {
            try_reconnect();
        }
        const auto now = clock::now();
        if (client_ != nullptr && (ports_changed_.exchange(false, std::memory_order_relaxed) ||
                                   now >= next_connection_retry)) {
            next_connection_retry = now + std::chrono::seconds(1);
            if (std::find(connection_made_.begin(), connection_made_.end(), false) !=
                connection_made_.end()) {
                make_connections(false);
            }
        }
    }
}

void Client::process(std::uint32_t nframes) noexcept {
    const std::uint64_t t0 = now_ns();
    heartbeat_.cycle_begin();
    if (test_hang_ && cycles_.load(std::memory_order_relaxed) >= test_hang_after_cycles) {
        hang_forever();
    }

    // A new session (first cycle after an open): frames continue where they were.
    const auto gen = generation_.load(std::memory_order_acquire);
    if (gen != rt_.generation) {
        rt_.generation = gen;
        rt_.frames.new_session();
    }
    jack_client_t* const c = rt_client_.load(std::memory_order_relaxed);

    LOCKSTEP_JACK_CALLS_BEGIN
    jack_nframes_t frame32 = 0;
    jack_time_t usecs = 0;
    jack_time_t next_usecs = 0;
    float period_usecs = 0;
    if (jack_get_cycle_times(c, &frame32, &usecs, &next_usecs, &period_usecs) != 0) {
        frame32 = jack_last_frame_time(c);
        usecs = 0;
        next_usecs = 0;
    }
    const auto rate = static_cast<std::uint32_t>(jack_get_sample_rate(c));
    LOCKSTEP_JACK_CALLS_END

    const std::uint64_t jumps_before = rt_.frames.jumps();
    const std::uint64_t steps_back_before = rt_.frames.steps_back();
    const Frame start = rt_.frames.start(frame32, nframes);
    if (rt_.frames.jumps() != jumps_before) {
        frame_jumps_.fetch_add(1, std::memory_order_relaxed);
    }
    if (rt_.frames.steps_back() != steps_back_before) {
        frame_steps_back_.fetch_add(1, std::memory_order_relaxed);
    }
    // JACK's clock against CLOCK_MONOTONIC_RAW: the first reading as it is, then smoothed
    // over about 16 cycles (one reading is only good to a µs; the two clocks move apart by
    // ppm at most, NTP's slew).
    std::int64_t offset_reading = 0;
    if (read_raw_offset(offset_reading)) {
        if (!rt_.have_raw_offset) {
            rt_.raw_offset_ns = offset_reading;
            rt_.have_raw_offset = true;
        } else {
            rt_.raw_offset_ns += (offset_reading - rt_.raw_offset_ns) / 16;
        }
    }
    timing_.store(CycleTiming{start, usecs, next_usecs, nframes, rate, rt_.raw_offset_ns});

    // JACK transport at this cycle's first frame (jack_transport_query is RT-safe: it
    // copies the position the server published for this cycle).
    jack_position_t pos{};
    LOCKSTEP_JACK_CALLS_BEGIN
    const jack_transport_state_t transport_state = jack_transport_query(c, &pos);
    LOCKSTEP_JACK_CALLS_END
    const Transport transport = to_transport(transport_state, pos);
    rt_.transport = transport;

    if (nframes > max_buffer_size) {
        // Engines are sized for max_buffer_size: output silence rather than overrun them.
        oversized_cycles_.fetch_add(1, std::memory_order_relaxed);
        LOCKSTEP_JACK_CALLS_BEGIN
        for (std::size_t i : rt_.midi_out_ports) {
            jack_midi_clear_buffer(jack_port_get_buffer(ports_[i], nframes));
        }
        for (std::size_t i : rt_.audio_out_ports) {
            std::memset(jack_port_get_buffer(ports_[i], nframes), 0, nframes * sizeof(float));
        }
        LOCKSTEP_JACK_CALLS_END
        cycles_.fetch_add(1, std::memory_order_relaxed);
        heartbeat_.cycle_end();
        return;
    }

    std::uint64_t dropped = 0;
    LOCKSTEP_JACK_CALLS_BEGIN
    for (std::size_t k = 0; k < rt_.midi_in_ports.size(); ++k) {
        void* buf = jack_port_get_buffer(ports_[rt_.midi_in_ports[k]], nframes);
        auto& events = rt_.midi_in_events[k];
        const std::uint32_t count = jack_midi_get_event_count(buf);
        std::size_t n = 0;
        for (std::uint32_t e = 0; e < count; ++e) {
            jack_midi_event_t ev{};
            if (jack_midi_event_get(&ev, buf, e) != 0) {
                continue;
            }
            if (n == events.size()) {
                dropped += count - e;
                break;
            }
            events[n++] = MidiEvent{ev.time, {ev.buffer, ev.size}};
        }
        rt_.midi_in[k] = std::span<const MidiEvent>(events.data(), n);
    }
    for (std::size_t k = 0; k < rt_.audio_in_ports.size(); ++k) {
        rt_.audio_in[k] = {
            static_cast<const float*>(jack_port_get_buffer(ports_[rt_.audio_in_ports[k]], nframes)),
            nframes};
    }
    for (std::size_t k = 0; k < rt_.audio_out_ports.size(); ++k) {
        rt_.audio_out[k] = {
            static_cast<float*>(jack_port_get_buffer(ports_[rt_.audio_out_ports[k]], nframes)),
            nframes};
    }
    LOCKSTEP_JACK_CALLS_END
    for (auto& w : rt_.midi_out) {
        w.reset(nframes);
    }

    Cycle cycle;
    cycle.start = start;
    cycle.nframes = nframes;
    cycle.rate = rate;
    cycle.freewheeling = freewheeling_.load(std::memory_order_relaxed);
    cycle.usecs = usecs;
    cycle.next_usecs = next_usecs;
    cycle.raw_offset_ns = rt_.raw_offset_ns;
    cycle.transport = transport;
    cycle.has_bbt = to_bbt(pos, cycle.bbt);
    cycle.midi_in = rt_.midi_in;
    cycle.midi_out = rt_.midi_out;
    cycle.audio_in = rt_.audio_in;
    cycle.audio_out = rt_.audio_out;
    processor_.process(cycle);

    std::uint64_t late = 0;
    std::uint64_t overflow = 0;
    std::uint64_t invalid = 0;
    for (std::size_t k = 0; k < rt_.midi_out_ports.size(); ++k) {
        auto& w = rt_.midi_out[k];
        LOCKSTEP_JACK_CALLS_BEGIN
        void* buf = jack_port_get_buffer(ports_[rt_.midi_out_ports[k]], nframes);
        jack_midi_clear_buffer(buf);
        for (const auto& e : w.events()) {
            const auto bytes = w.bytes(e);
            if (jack_midi_event_write(buf, e.offset, bytes.data(), bytes.size()) != 0) {
                ++overflow; // the JACK port buffer is full
            }
        }
        LOCKSTEP_JACK_CALLS_END
        late += w.late();
        overflow += w.overflow();
        invalid += w.invalid();
    }
    atomic_add(midi_in_dropped_, dropped);
    atomic_add(midi_out_late_, late);
    atomic_add(midi_out_overflow_, overflow);
    atomic_add(midi_out_invalid_, invalid);

    cycles_.fetch_add(1, std::memory_order_relaxed);
    heartbeat_.cycle_end();
    const std::uint64_t dt = now_ns() - t0;
    dsp_ns_total_.fetch_add(dt, std::memory_order_relaxed);
    if (dt > dsp_ns_max_.load(std::memory_order_relaxed)) {
        dsp_ns_max_.store(dt, std::memory_order_relaxed);
    }
}

ClientStats Client::stats() const noexcept {
    ClientStats s;
    s.cycles = cycles_.load(std::memory_order_relaxed);
    s.xruns = xruns_.load(std::memory_order_relaxed);
    s.midi_in_dropped = midi_in_dropped_.load(std::memory_order_relaxed);
    s.midi_out_late = midi_out_late_.load(std::memory_order_relaxed);
    s.midi_out_overflow = midi_out_overflow_.load(std::memory_order_relaxed);
    s.midi_out_invalid = midi_out_invalid_.load(std::memory_order_relaxed);
    s.oversized_cycles = oversized_cycles_.load(std::memory_order_relaxed);
    s.buffer_size_changes = buffer_size_changes_.load(std::memory_order_relaxed);
    s.reconnects = reconnects_.load(std::memory_order_relaxed);
    s.server_losses = server_losses_.load(std::memory_order_relaxed);
    s.frame_jumps = frame_jumps_.load(std::memory_order_relaxed);
    s.frame_steps_back = frame_steps_back_.load(std::memory_order_relaxed);
    s.dsp_ns_max = dsp_ns_max_.load(std::memory_order_relaxed);
    s.dsp_ns_mean = s.cycles == 0 ? 0 : dsp_ns_total_.load(std::memory_order_relaxed) / s.cycles;
    s.active = active();
    return s;
}

bool Client::wait_active(std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!active()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

bool Client::set_freewheel(bool on) {
    std::lock_guard lock(mutex_);
    return client_ != nullptr && jack_set_freewheel(client_, on ? 1 : 0) == 0;
}

bool Client::transport_query(Transport& out, Bbt* bbt, bool* has_bbt) {
    std::lock_guard lock(mutex_);
    if (client_ == nullptr) {
        return false;
    }
    jack_position_t pos{};
    const jack_transport_state_t state = jack_transport_query(client_, &pos);
    out = to_transport(state, pos);
    Bbt b;
    const bool with = to_bbt(pos, b);
    if (bbt != nullptr && with) {
        *bbt = b;
    }
    if (has_bbt != nullptr) {
        *has_bbt = with;
    }
    return true;
}

bool Client::transport_start() {
    std::lock_guard lock(mutex_);
    if (client_ == nullptr) {
        return false;
    }
    jack_transport_start(client_);
    return true;
}

bool Client::transport_stop() {
    std::lock_guard lock(mutex_);
    if (client_ == nullptr) {
        return false;
    }
    jack_transport_stop(client_);
    return true;
}

bool Client::transport_locate(std::uint32_t transport_frame) {
    std::lock_guard lock(mutex_);
    return client_ != nullptr && jack_transport_locate(client_, transport_frame) == 0;
}

bool Client::set_buffer_size(std::uint32_t nframes) {
    std::lock_guard lock(mutex_);
    return client_ != nullptr && jack_set_buffer_size(client_, nframes) == 0;
}

bool Client::connect(const std::string& source, const std::string& destination) {
    std::lock_guard lock(mutex_);
    if (client_ == nullptr) {
        return false;
    }
    const int rc = jack_connect(client_, qualify_port(options_.name, source).c_str(),
                                qualify_port(options_.name, destination).c_str());
    return rc == 0 || rc == EEXIST;
}

bool Client::port_exists(const std::string& full_name) {
    std::lock_guard lock(mutex_);
    return client_ != nullptr && jack_port_by_name(client_, full_name.c_str()) != nullptr;
}

bool Client::connected(const std::string& source, const std::string& destination) {
    std::lock_guard lock(mutex_);
    if (client_ == nullptr) {
        return false;
    }
    jack_port_t* p = jack_port_by_name(client_, qualify_port(options_.name, source).c_str());
    return p != nullptr &&
           jack_port_connected_to(p, qualify_port(options_.name, destination).c_str()) != 0;
}

} // namespace lockstep::jack
