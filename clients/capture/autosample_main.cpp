// `lockstep-capture autosample ...`: plays every note of a plan to an instrument over JACK
// MIDI, records it, and writes a sample set with an SFZ (docs/capture.md "Autosampler").
// Ports: MIDI out `midi_out`, audio in `in_1`..`in_N`. OSC (same port rules as the
// recorder): /capture/autosample/pause, /resume, /cancel, /status. On a terminal: a
// progress bar, and the keys p (pause/resume) and q (cancel). SIGUSR1 pauses, SIGUSR2
// resumes, SIGINT/SIGTERM cancel;
// a cancelled session resumes when started again with the same --set and --dir.
//
// Threads: main (CLI, the Session's steps, progress, signals and keys), the JACK process
// thread (AutoEngine::process), the OSC thread (pause/resume/cancel/status only).

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wnull-dereference" // CLI11, as in main.cpp
#endif

#include "autosample_main.hpp"

#include "autosample_engine.hpp"
#include "autosample_session.hpp"

#include "jack/client.hpp"
#include "osc/address.hpp"
#include "osc/endpoint.hpp"
#include "service/cli.hpp"
#include "service/log.hpp"
#include "service/notify.hpp"
#include "service/signals.hpp"

#include <jack/jack.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <termios.h>
#include <unistd.h>

namespace lockstep::capture {

namespace {

using namespace autosample;

class Slot final : public jack::Processor {
public:
    void process(jack::Cycle& cycle) noexcept RT_NONBLOCKING override {
        if (AutoEngine* e = engine_.load(std::memory_order_acquire)) {
            e->process(cycle);
        }
    }
    void set(AutoEngine* e) noexcept { engine_.store(e, std::memory_order_release); }

private:
    std::atomic<AutoEngine*> engine_{nullptr};
};

// The round trip JACK reports for our ports: playback latency of the MIDI output (to the
// instrument) plus capture latency of in_1 (from it), the maxima of their ranges. Needs
// the links made. A second, short-lived client asks (lockstep's adapter keeps its handle).
std::int64_t port_latency(const std::string& server, const std::string& midi_out,
                          const std::string& in_1) {
    jack_status_t status{};
    const int opts = JackNoStartServer | (server.empty() ? 0 : JackServerName);
    jack_client_t* c = server.empty()
                           ? jack_client_open("lockstep-latency", JackNoStartServer, &status)
                           : jack_client_open("lockstep-latency", static_cast<jack_options_t>(opts),
                                              &status, server.c_str());
    if (c == nullptr) {
        return -1;
    }
    std::int64_t total = -1;
    jack_port_t* out = jack_port_by_name(c, midi_out.c_str());
    jack_port_t* in = jack_port_by_name(c, in_1.c_str());
    if (out != nullptr && in != nullptr) {
        jack_latency_range_t po{};
        jack_latency_range_t ci{};
        jack_port_get_latency_range(out, JackPlaybackLatency, &po);
        jack_port_get_latency_range(in, JackCaptureLatency, &ci);
        total = static_cast<std::int64_t>(po.max) + ci.max;
    }
    jack_client_close(c);
    return total;
}

// Raw keys from a terminal on stdin while it lives (restored after).
class RawTerminal {
public:
    RawTerminal() {
        if (::isatty(STDIN_FILENO) == 1 && ::tcgetattr(STDIN_FILENO, &saved_) == 0) {
            termios raw = saved_;
            raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
            raw.c_cc[VMIN] = 0;
            raw.c_cc[VTIME] = 0;
            active_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
        }
    }
    ~RawTerminal() {
        if (active_) {
            ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
        }
    }
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;
    bool active() const { return active_; }

private:
    termios saved_{};
    bool active_ = false;
};

osc::Message status_message(const Progress& p) {
    return osc::Message("/capture/autosample/status",
                        {osc::Arg::string(to_string(p.phase)),
                         osc::Arg::int32(static_cast<std::int32_t>(p.recorded)),
                         osc::Arg::int32(static_cast<std::int32_t>(p.total)),
                         osc::Arg::float32(static_cast<float>(p.seconds_left)),
                         osc::Arg::int64(p.latency),
                         osc::Arg::string(p.has_current ? file_name("", p.current).substr(1) : ""),
                         osc::Arg::int64(static_cast<std::int64_t>(p.steps))});
}

} // namespace

int autosample_main(int argc, const char* const* argv) {
    service::CommonOptions common;
    std::uint32_t channels = 1;
    std::string set = "sample";
    std::string dir = ".";
    std::string notes = "36:84:3";
    std::string velocities = "127";
    int round_robins = 1;
    int midi_channel = 1;
    double hold = 1.0;
    double tail = 5.0;
    double preroll = 0.05;
    double release_db = -60.0;
    std::string latency = "measure";
    std::string normalize = "set";
    double peak_db = -1.0;
    std::string bits = "24";
    double fade_in_ms = 0.5;
    double fade_out_ms = 10.0;
    std::string progress = "auto";

    CLI::App app{"lockstep-capture autosample: records an instrument note by note into a "
                 "sample set with an SFZ"};
    app.name("lockstep-capture autosample");
    service::add_common_options(app, common, "autosample", osc::port::capture);
    app.add_option("--channels", channels, "audio inputs in_1..in_N (the sampler plays 1 or 2)")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    app.add_option("--set", set, "sample set name: file prefix and <set>.sfz")
        ->capture_default_str();
    app.add_option("--dir", dir, "where the set is written (raw takes in DIR/raw)")
        ->capture_default_str();
    app.add_option("--notes", notes, "LOW:HIGH[:STEP] notes (numbers or names like c2)")
        ->capture_default_str();
    app.add_option("--velocities", velocities, "velocity layers, e.g. 40,80,127")
        ->capture_default_str();
    app.add_option("--round-robins", round_robins, "recordings of each note and velocity")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    app.add_option("--midi-channel", midi_channel, "MIDI channel 1-16")
        ->check(CLI::Range(1, 16))
        ->capture_default_str();
    app.add_option("--hold", hold, "seconds from note-on to note-off")
        ->check(CLI::Range(0.001, 600.0))
        ->capture_default_str();
    app.add_option("--tail", tail, "longest release tail after the note-off (seconds)")
        ->check(CLI::Range(0.01, 600.0))
        ->capture_default_str();
    app.add_option("--preroll", preroll, "seconds recorded before each note (noise floor)")
        ->check(CLI::Range(0.001, 10.0))
        ->capture_default_str();
    app.add_option("--release-threshold", release_db,
                   "the release ends below this level (dBFS; at least 6 dB over the noise)")
        ->check(CLI::Range(-120.0, 0.0))
        ->capture_default_str();
    app.add_option("--latency", latency,
                   "round trip: measure (a probe note), ports (JACK port latencies) or frames")
        ->capture_default_str();
    app.add_option("--normalize", normalize, "set (one gain for all), file, or off")
        ->check(CLI::IsMember({"set", "file", "off"}))
        ->capture_default_str();
    app.add_option("--peak", peak_db, "normalised peak (dBFS)")
        ->check(CLI::Range(-60.0, 0.0))
        ->capture_default_str();
    app.add_option("--bits", bits, "sample format of the set: 16, 24 or 32f")
        ->check(CLI::IsMember({"16", "24", "32f"}))
        ->capture_default_str();
    app.add_option("--fade-in", fade_in_ms, "fade-in after the onset (ms)")
        ->check(CLI::Range(0.0, 100.0))
        ->capture_default_str();
    app.add_option("--fade-out", fade_out_ms, "fade-out at the end (ms)")
        ->check(CLI::Range(0.0, 1000.0))
        ->capture_default_str();
    app.add_option("--progress", progress, "auto (a bar on a terminal), bar, or log")
        ->check(CLI::IsMember({"auto", "bar", "log"}))
        ->capture_default_str();
    if (auto code = service::parse(app, argc, argv, std::cout, std::cerr)) {
        return *code;
    }
    if (!common.state.empty()) {
        // A session's state is its raw takes in DIR/raw (resume): no state file.
        std::fprintf(stderr, "lockstep-capture autosample: --state: not used (a cancelled "
                             "session resumes from --dir's raw takes; see --help)\n");
        return service::exit_code::usage;
    }
    auto usage = [](const std::string& why) {
        std::fprintf(stderr, "lockstep-capture autosample: %s (see --help)\n", why.c_str());
        return service::exit_code::usage;
    };
    SessionOptions so;
    std::string err;
    const auto range = parse_range(notes, err);
    if (!range) {
        return usage("--notes: " + err);
    }
    const auto vels = parse_velocities(velocities, err);
    if (!vels) {
        return usage("--velocities: " + err);
    }
    if (std::string why = check_set_name(set); !why.empty()) {
        return usage("--set: " + why);
    }
    so.plan = *range;
    so.plan.velocities = *vels;
    so.plan.round_robins = round_robins;
    so.name = set;
    so.dir = dir;
    so.midi_channel = midi_channel;
    so.channels = channels;
    enum class Lat { measure, ports, fixed } lat_mode = Lat::measure;
    std::int64_t lat_frames = 0;
    if (latency == "ports") {
        lat_mode = Lat::ports;
    } else if (latency != "measure") {
        // Bounded (10 s at the highest JACK rate): beyond that it is a typo, and frame
        // arithmetic must not overflow.
        constexpr long long max_frames = 10LL * 384000;
        char* end = nullptr;
        errno = 0;
        const long long v = std::strtoll(latency.c_str(), &end, 10);
        if (end == latency.c_str() || *end != '\0') {
            return usage("--latency: measure, ports or a number of frames");
        }
        if (errno == ERANGE || v < 0 || v > max_frames) {
            return usage("--latency " + latency + ": frames from 0 to " +
                         std::to_string(max_frames) + " (10 s at 384 kHz)");
        }
        lat_frames = v;
        lat_mode = Lat::fixed;
    }
    if (channels > 2) {
        log::warning("--channels %u: lockstep-sampler plays mono and stereo files only", channels);
    }
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
        std::fprintf(stderr, "lockstep-capture autosample: --dir %s: not a writable directory\n",
                     dir.c_str());
        return service::exit_code::startup;
    }

    service::SignalWaiter signals({SIGTERM, SIGINT, SIGUSR1, SIGUSR2});
    Slot slot;
    jack::ClientOptions jo;
    jo.name = common.name;
    jo.server = common.server;
    jo.ports.push_back({"midi_out", jack::PortKind::midi_out});
    for (std::uint32_t c = 1; c <= channels; ++c) {
        jo.ports.push_back({"in_" + std::to_string(c), jack::PortKind::audio_in});
    }
    for (const auto& [src, dst] : common.connect) {
        jo.connections.push_back({src, dst});
    }
    jack::Client client(jo, slot);
    if (!client.start()) {
        std::fprintf(stderr, "lockstep-capture autosample: cannot connect to the JACK server\n");
        return service::exit_code::startup;
    }
    CycleTiming timing;
    for (int i = 0; i < 1000 && !(client.timing(timing) && timing.rate > 0); ++i) {
        const auto r = signals.wait(std::chrono::milliseconds(10));
        if (r.event == service::SignalWaiter::Event::signal && r.signal != SIGUSR1 &&
            r.signal != SIGUSR2) {
            return service::exit_code::ok;
        }
    }
    if (timing.rate == 0) {
        std::fprintf(stderr, "lockstep-capture autosample: the JACK server runs no cycles\n");
        return service::exit_code::startup;
    }
    const std::uint32_t rate = timing.rate;
    auto frames = [rate](double seconds) {
        return static_cast<std::uint64_t>(std::llround(seconds * rate));
    };
    so.rate = rate;
    so.hold = std::max<std::uint64_t>(frames(hold), 1);
    so.max_tail = frames(tail);
    so.preroll = std::max<std::uint64_t>(frames(preroll), 16);
    so.end_window = std::max<std::uint64_t>(frames(0.01), 16);
    so.lead = std::max<std::uint64_t>(frames(0.05), 4 * std::uint64_t{timing.nframes});
    so.gap = frames(0.01);
    so.fade_in = frames(fade_in_ms / 1000.0);
    so.fade_out = frames(fade_out_ms / 1000.0);
    so.thresholds.end_floor = static_cast<float>(std::pow(10.0, release_db / 20.0));
    so.normalise = normalize == "set"    ? Normalise::set
                   : normalize == "file" ? Normalise::file
                                         : Normalise::off;
    so.target_peak = static_cast<float>(std::pow(10.0, peak_db / 20.0));
    so.sample = bits == "16"   ? SampleFormat::pcm16
                : bits == "24" ? SampleFormat::pcm24
                               : SampleFormat::float32;
    if (lat_mode == Lat::fixed) {
        so.latency_mode = LatencyMode::fixed;
        so.latency = lat_frames;
    } else if (lat_mode == Lat::ports) {
        const std::int64_t l =
            port_latency(common.server, client.port_name(0), client.port_name(1));
        if (l < 0) {
            std::fprintf(stderr, "lockstep-capture autosample: cannot read the port latencies\n");
            return service::exit_code::startup;
        }
        if (l == 0) {
            log::warning("the JACK ports report no latency: onsets are still found, but "
                         "--latency measure is more reliable");
        }
        so.latency_mode = LatencyMode::fixed;
        so.latency = l;
        log::notice("round-trip latency from the JACK ports: %lld frames",
                    static_cast<long long>(l));
    }

    AutoEngineOptions eo;
    eo.channels = channels;
    eo.ring_frames = std::max<std::uint64_t>(frames(10.0), 8192);
    AutoEngine engine(eo);
    Session session(so, engine);
    slot.set(&engine);

    std::unique_ptr<osc::Endpoint> endpoint;
    try {
        osc::Endpoint::Config oc;
        oc.listen = common.osc;
        oc.default_port = osc::port::capture;
        oc.allow = common.osc_allow;
        oc.name = "autosample osc";
        endpoint = std::make_unique<osc::Endpoint>(oc);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "lockstep-capture autosample: --osc: %s\n", e.what());
        slot.set(nullptr);
        client.stop();
        return service::exit_code::startup;
    }
    endpoint->add("/capture/autosample/pause", "",
                  [&](const osc::Message&, osc::Context&) { session.pause(); });
    endpoint->add("/capture/autosample/resume", "",
                  [&](const osc::Message&, osc::Context&) { session.resume(); });
    endpoint->add("/capture/autosample/cancel", "", [&](const osc::Message&, osc::Context&) {
        session.cancel();
        signals.wake();
    });
    endpoint->add("/capture/autosample/status", "", [&](const osc::Message&, osc::Context& ctx) {
        ctx.reply(status_message(session.progress()));
    });
    endpoint->on_query([&](osc::Context& ctx) { ctx.reply(status_message(session.progress())); });
    endpoint->start();

    const bool tty = ::isatty(STDERR_FILENO) == 1;
    const bool bar = progress == "bar" || (progress == "auto" && tty);
    RawTerminal keys;
    const Progress p0 = session.progress();
    log::notice("lockstep-capture autosample: %zu notes (%zu already recorded) of set '%s' in "
                "%s, %u inputs at %u Hz, OSC %s%s",
                p0.total, p0.resumed, set.c_str(), dir.c_str(), channels, rate,
                endpoint->url().c_str(), keys.active() ? "; keys: p pause/resume, q cancel" : "");
    service::notify::ready("autosampling");
    std::printf("ready\n");
    std::fflush(stdout);

    auto show = [&](bool final_line) {
        if (!bar) {
            return;
        }
        std::fprintf(stderr, "\r\033[K%s%s", render_progress(session.progress()).c_str(),
                     final_line ? "\n" : "");
        std::fflush(stderr);
    };
    std::size_t logged_recorded = p0.recorded;
    auto flush_log = [&] {
        for (const LogLine& l : session.poll_log()) {
            if (bar) {
                std::fprintf(stderr, "\r\033[K");
            }
            switch (l.level) {
            case 3:
                log::error("%s", l.text.c_str());
                break;
            case 4:
                log::warning("%s", l.text.c_str());
                break;
            case 5:
                log::notice("%s", l.text.c_str());
                break;
            default:
                log::info("%s", l.text.c_str());
                break;
            }
        }
        const Progress p = session.progress();
        if (!bar && p.recorded != logged_recorded) {
            logged_recorded = p.recorded;
            log::info("progress: %s", render_progress(p).c_str());
        }
    };
    const int stdin_fd = STDIN_FILENO;
    const std::span<const int> key_fds =
        keys.active() ? std::span<const int>(&stdin_fd, 1) : std::span<const int>();
    auto last_bar = std::chrono::steady_clock::now();
    Progress pushed = session.progress();
    for (;;) {
        const auto r = signals.wait(std::chrono::milliseconds(5), key_fds);
        if (r.event == service::SignalWaiter::Event::signal) {
            if (r.signal == SIGUSR1) {
                session.pause();
            } else if (r.signal == SIGUSR2) {
                session.resume();
            } else {
                session.cancel();
            }
        } else if (r.event == service::SignalWaiter::Event::fd_ready) {
            char k = 0;
            while (::read(stdin_fd, &k, 1) == 1) {
                if (k == 'p') {
                    // Toggles what was asked, not the phase shown: a pause takes effect
                    // only after the note being recorded.
                    if (session.pause_requested()) {
                        session.resume();
                    } else {
                        session.pause();
                    }
                } else if (k == 'q') {
                    session.cancel();
                }
            }
        }
        const bool more = session.step();
        flush_log();
        // Subscribers hear the status whenever a note is done or the phase changes.
        const Progress now_p = session.progress();
        if (now_p.recorded != pushed.recorded || now_p.phase != pushed.phase ||
            now_p.has_current != pushed.has_current || now_p.current != pushed.current) {
            pushed = now_p;
            endpoint->notify(status_message(now_p));
        }
        const auto now = std::chrono::steady_clock::now();
        if (now - last_bar > std::chrono::milliseconds(100)) {
            show(false);
            last_bar = now;
        }
        if (!more) {
            break;
        }
    }
    show(true);
    // Whatever is still queued (a note-off up to --hold ahead after a cancel or a failure)
    // goes out in the next cycle, note-ons dropped, then all-notes-off (Session::step
    // asked for it on cancel).
    if (engine.unsent() > 0 && !engine.cancelled()) {
        engine.cancel(static_cast<std::uint8_t>(midi_channel - 1));
    }
    for (int i = 0; i < 200 && engine.unsent() > 0 && !engine.cancelled() && client.active(); ++i) {
        signals.wait(std::chrono::milliseconds(5));
    }
    const Frame until = engine.now() + 2 * static_cast<Frame>(timing.nframes);
    for (int i = 0; i < 200 && engine.now() < until && client.active(); ++i) {
        signals.wait(std::chrono::milliseconds(5));
    }
    service::notify::stopping();
    endpoint->stop();
    client.stop();
    slot.set(nullptr);
    const AutoCounters c = engine.counters();
    const Progress p = session.progress();
    log::notice("lockstep-capture autosample: %s: %zu of %zu notes, %zu warnings, %llu late "
                "MIDI messages, %llu overruns, %llu xruns",
                to_string(p.phase), p.recorded, p.total, p.warnings,
                static_cast<unsigned long long>(c.late_midi),
                static_cast<unsigned long long>(c.overruns),
                static_cast<unsigned long long>(client.stats().xruns));
    if (p.phase == Phase::done || p.phase == Phase::cancelled) {
        return service::exit_code::ok;
    }
    return service::exit_code::failure;
}

} // namespace lockstep::capture
