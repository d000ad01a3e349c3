// lockstep-seq: the frame-exact step sequencer as a program (docs/seq.md, docs/operations.md).
// main wires the pieces: CLI -> state file -> Engine (audio thread, via jack::Client) and
// OscApi (control thread: this main thread, which also drives the OSC endpoint, saves the
// state, feeds the systemd watchdog and waits for SIGTERM/SIGINT).

// g++ 12 reports a null dereference inside CLI11's inlined string code (a false positive);
// it must be silenced before any standard header is read.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif

#include "engine.hpp"
#include "link_session.hpp"
#include "osc_api.hpp"
#include "state.hpp"

#include "jack/client.hpp"
#include "jack/connection.hpp"
#include "jack/timetag.hpp"
#include "osc/address.hpp"
#include "osc/endpoint.hpp"
#include "service/cli.hpp"
#include "service/log.hpp"
#include "service/notify.hpp"
#include "service/nsm.hpp"
#include "service/rt_priority.hpp"
#include "service/signals.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

namespace {

using namespace lockstep;
using namespace std::chrono_literals;
namespace exit_code = service::exit_code;

// Unsaved edits are written once the model has been quiet this long.
constexpr auto save_quiet = 500ms;
// How long the main loop waits for OSC before it looks at signals, feedback and the state.
constexpr auto loop_wait = 10ms;

class EngineLinkTo final : public seq::EngineLink {
public:
    explicit EngineLinkTo(seq::Engine& engine) : engine_(engine) {}
    bool send(const seq::ToEngine& message) override { return engine_.send(message); }
    bool receive(seq::FromEngine& out) override { return engine_.receive(out); }
    seq::EngineStatus status() const override { return engine_.status(); }
    seq::EngineCounters counters() const override { return engine_.counters(); }

private:
    seq::Engine& engine_;
};

bool has_steps(const seq::Model& m) {
    const seq::Pattern blank;
    for (const auto& p : m.pattern) {
        if (!(p == blank)) {
            return true;
        }
    }
    return false;
}

// Whether `path`'s directory can take the temporary file of an atomic save.
bool state_dir_writable(const std::string& path, std::string& why) {
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) {
        dir = ".";
    }
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
        why = "state directory " + dir.string() + " is not writable";
        return false;
    }
    return true;
}

void log_counters(const seq::Engine& engine, const jack::Client& client, const osc::Endpoint& osc) {
    const auto c = engine.counters();
    const auto s = client.stats();
    const auto o = osc.stats();
    log::notice(
        "seq: cycles=%llu notes=%llu midi_refused=%llu feedback_dropped=%llu "
        "tempo_refused=%llu xruns=%llu frame_jumps=%llu reconnects=%llu midi_out_late=%llu "
        "midi_out_overflow=%llu dsp_mean_us=%.1f dsp_max_us=%.1f osc_packets=%llu "
        "osc_malformed=%llu osc_rejected=%llu osc_late=%llu link_tempo_follows=%llu "
        "link_phase_corrections=%llu",
        static_cast<unsigned long long>(c.cycles), static_cast<unsigned long long>(c.notes),
        static_cast<unsigned long long>(c.midi_refused),
        static_cast<unsigned long long>(c.feedback_dropped),
        static_cast<unsigned long long>(c.tempo_refused), static_cast<unsigned long long>(s.xruns),
        static_cast<unsigned long long>(s.frame_jumps),
        static_cast<unsigned long long>(s.reconnects),
        static_cast<unsigned long long>(s.midi_out_late),
        static_cast<unsigned long long>(s.midi_out_overflow),
        static_cast<double>(s.dsp_ns_mean) / 1000.0, static_cast<double>(s.dsp_ns_max) / 1000.0,
        static_cast<unsigned long long>(o.packets), static_cast<unsigned long long>(o.malformed),
        static_cast<unsigned long long>(o.rejected), static_cast<unsigned long long>(o.late),
        static_cast<unsigned long long>(c.link_tempo_follows),
        static_cast<unsigned long long>(c.link_phase_corrections));
}

int run(int argc, char** argv) {
    CLI::App app{"lockstep-seq: frame-exact step sequencer (JACK MIDI, OSC control)"};
    service::CommonOptions common;
    service::add_common_options(app, common, "seq", osc::port::seq);
    std::optional<std::uint64_t> seed;
    std::string tempo_text;
    std::string transport_text;
    std::optional<int> tracks;
    bool track_ports = false;
    bool demo = false;
    bool use_link = false;
    app.add_option("--seed", seed, "seed of the probability decisions (reproducible)");
    app.add_option("--tempo", tempo_text, "start tempo in BPM, exact: 120, 137.25 or 1000/7")
        ->check([](const std::string& v) {
            std::string why;
            return seq::parse_bpm(v, &why) ? std::string() : why;
        });
    app.add_option("--transport", transport_text,
                   "JACK transport: internal (ignore it), master (timebase master), follow")
        ->check(CLI::IsMember({"internal", "master", "follow"}));
    app.add_option("--tracks", tracks, "tracks in use (1-32)")->check(CLI::Range(1, 32));
    app.add_flag("--track-ports", track_ports, "also one MIDI port per track: out_1 .. out_32");
    app.add_flag("--link", use_link,
                 "join the Ableton Link session: follow and lead its tempo, bar phase and "
                 "start/stop (needs --transport internal)");
    app.add_flag("--demo", demo,
                 "start with a built-in beat (kick, snare, hats) when the state has no steps");
    if (const auto code = service::parse(app, argc, argv, std::cout, std::cerr)) {
        return *code;
    }

    // Before any other thread exists (they inherit the blocked signals).
    service::SignalWaiter signals;

    // ---- under a session manager: its client id is the JACK name, its path the state --
    std::optional<service::nsm::Open> nsm_open;
    bool nsm_stopped = false;
    const auto nsm = service::nsm::join_from_env(common.name, ":dirty:", argv[0], nsm_open,
                                                 signals.signal_fd(), nsm_stopped);
    if (nsm_stopped) { // SIGTERM before the open: nothing opened, nothing to save
        return service::exit_code::ok;
    }
    if (nsm) {
        common.name = nsm_open->client_id;
        common.state = nsm_open->path + ".json";
    }

    // ---- state: file, then the command line on top ----------------------------------
    seq::State state;
    if (!common.state.empty()) {
        std::string why;
        if (!state_dir_writable(common.state, why)) {
            log::error("seq: %s", why.c_str());
            service::nsm::open_failed(nsm.get(), why.c_str());
            return exit_code::startup;
        }
        seq::StateRead r = seq::read_state_file(common.state);
        if (r.status == service::StateStatus::ok) {
            state = r.state;
            log::info("seq: state restored from %s", common.state.c_str());
        }
        // corrupt: load_state_file has logged the reason and where the file went.
    }
    if (demo && !has_steps(state.model)) {
        state.model = seq::demo_model();
    }
    if (seed) {
        state.seed = *seed;
    }
    if (!tempo_text.empty()) {
        state.tempo = *seq::parse_bpm(tempo_text);
    }
    if (!transport_text.empty()) {
        state.transport = *seq::transport_from_string(transport_text);
    }
    if (tracks) {
        state.model.tracks = static_cast<std::uint8_t>(*tracks);
    }
    if (use_link && state.transport != seq::TransportMode::internal) {
        log::error("seq: --link needs --transport internal (Link is the shared transport)");
        return exit_code::usage;
    }

    // ---- engine and JACK client ------------------------------------------------------
    Published<seq::Model> published(std::make_unique<const seq::Model>(state.model));
    seq::EngineOptions eo;
    eo.tempo = state.tempo;
    eo.seed = state.seed;
    eo.track_ports = track_ports;
    eo.transport = state.transport;
    std::unique_ptr<seq::AbletonLinkSession> link_session;
    if (use_link) {
        link_session = std::make_unique<seq::AbletonLinkSession>(state.tempo.to_double());
        eo.link = link_session.get();
    }
    seq::Engine engine(eo, published);

    jack::ClientOptions co;
    co.name = common.name;
    co.server = common.server;
    // Order is engine.hpp's port indices: out, clock, sync, then out_1 .. out_32.
    co.ports = {{"out", jack::PortKind::midi_out},
                {"clock", jack::PortKind::midi_out},
                {"sync", jack::PortKind::midi_out}};
    if (track_ports) {
        for (int t = 1; t <= seq::max_tracks; ++t) {
            co.ports.push_back({"out_" + std::to_string(t), jack::PortKind::midi_out});
        }
    }
    for (const auto& [src, dst] : common.connect) {
        co.connections.push_back({src, dst});
    }
    co.timebase = state.transport == seq::TransportMode::master ? &engine : nullptr;
    jack::Client client(co, engine);

    // ---- OSC ------------------------------------------------------------------------
    osc::Endpoint::Config oc;
    oc.listen = common.osc;
    oc.default_port = osc::port::seq;
    oc.allow = common.osc_allow;
    oc.mapper = [&client](std::uint64_t tt) { return jack::frame_at_timetag(client, tt); };
    oc.name = "seq osc";
    std::unique_ptr<osc::Endpoint> endpoint;
    try {
        endpoint = service::nsm::make_endpoint(oc, nsm != nullptr, app.count("--osc") > 0);
    } catch (const std::exception& e) {
        log::error("seq: %s", e.what());
        service::nsm::open_failed(nsm.get(), e.what());
        return exit_code::startup;
    }
    EngineLinkTo link(engine);
    seq::OscApi::Options ao;
    ao.transport = state.transport;
    if (state.transport != seq::TransportMode::internal) {
        ao.jack_transport = [&client](bool start) {
            return start ? client.transport_start() : client.transport_stop();
        };
    }
    ao.query_extra = [&client, &engine, &link_session](const seq::OscApi::Sink& sink) {
        const auto s = client.stats();
        const auto counter = [&](const char* name, std::uint64_t v) {
            sink(osc::Message("/seq/counter", {osc::Arg::string(name),
                                               osc::Arg::int64(static_cast<std::int64_t>(v))}));
        };
        counter("xruns", s.xruns);
        counter("frame_jumps", s.frame_jumps);
        counter("reconnects", s.reconnects);
        counter("server_losses", s.server_losses);
        counter("midi_out_late", s.midi_out_late);
        counter("midi_out_overflow", s.midi_out_overflow);
        counter("dsp_ns_mean", s.dsp_ns_mean);
        counter("dsp_ns_max", s.dsp_ns_max);
        if (link_session) {
            const auto c = engine.counters();
            sink(osc::Message("/seq/link",
                              {osc::Arg::int32(1),
                               osc::Arg::int32(static_cast<std::int32_t>(link_session->peers()))}));
            counter("link_tempo_follows", c.link_tempo_follows);
            counter("link_phase_corrections", c.link_phase_corrections);
            counter("link_requests_dropped", link_session->requests_dropped());
        } else {
            sink(osc::Message("/seq/link", {osc::Arg::int32(0), osc::Arg::int32(0)}));
        }
    };
    seq::OscApi api(*endpoint, link, published, state, ao);

    service::lock_memory(); // says so once when refused
    if (!client.start()) {
        log::error("seq: cannot start the JACK client %s (is the JACK server running?)",
                   common.name.c_str());
        service::nsm::open_failed(nsm.get(),
                                  "cannot start the JACK client (is the JACK server running?)");
        return exit_code::startup;
    }
    log::notice("seq: %s active, OSC on %s", client.name().c_str(), endpoint->url().c_str());
    if (nsm) {
        nsm->opened("lockstep-seq is playing " + client.name());
    }
    service::notify::ready("running");

    // ---- the control loop -------------------------------------------------------------
    service::notify::Watchdog watchdog;
    std::uint64_t saved_revision = 0;
    bool save_failed = false;
    const auto save = [&]() {
        if (common.state.empty()) {
            return;
        }
        const auto revision = api.revision();
        const auto r = seq::write_state_file(common.state, api.state());
        if (r) {
            saved_revision = revision;
            if (save_failed) {
                log::notice("seq: state saved to %s again", common.state.c_str());
            }
            save_failed = false;
        } else if (!save_failed) { // one line per failure streak
            log::error("seq: %s", r.message.c_str());
            save_failed = true;
        }
    };
    auto next_retry = std::chrono::steady_clock::now();
    for (;;) {
        endpoint->run_once(loop_wait);
        api.poll();
        if (link_session) {
            link_session->poll(); // commits the engine's tempo and start/stop to Link
        }
        const auto ev = signals.wait(0ms);
        if (ev.event == service::SignalWaiter::Event::signal) {
            log::notice("seq: signal %d, stopping", ev.signal);
            break;
        }
        watchdog.poll(client.heartbeat());
        if (nsm) { // the session manager says when to save
            service::nsm::serve(
                *nsm,
                [&] {
                    save();
                    return save_failed ? "cannot write " + common.state : std::string();
                },
                [&] { return api.revision() != saved_revision; });
            continue;
        }
        const auto now = std::chrono::steady_clock::now();
        if (api.revision() != saved_revision && now - api.last_change() >= save_quiet &&
            now >= next_retry) {
            save();
            if (save_failed) {
                next_retry = now + 5s; // a full disk is not helped by trying 100 times a second
            }
        }
    }

    service::notify::stopping();
    if (!nsm) { // under a session manager a SIGTERM quits without saving (the NSM API)
        save();
    }
    client.stop();
    log_counters(engine, client, *endpoint);
    return save_failed ? exit_code::failure : exit_code::ok;
}

} // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        lockstep::log::error("seq: %s", e.what());
        return lockstep::service::exit_code::failure;
    }
}
