// lockstep-sampler: frame-exact drum/multisample player as a program (docs/kits.md,
// docs/osc.md, docs/operations.md). main wires the pieces: CLI -> state file -> Engine
// (audio thread, via jack::Client) and Control (loader thread, owns the KitStore); this
// main thread drives the OSC endpoint, restores and saves the state, follows JACK's sample
// rate, feeds the systemd watchdog and waits for SIGTERM/SIGINT.

// g++ 12 reports a null dereference inside CLI11's inlined string code (a false positive);
// it must be silenced before any standard header is read.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif

#include "control.hpp"
#include "engine.hpp"
#include "loader.hpp"
#include "osc_api.hpp"
#include "state.hpp"

#include "jack/client.hpp"
#include "jack/timetag.hpp"
#include "osc/address.hpp"
#include "osc/endpoint.hpp"
#include "service/cli.hpp"
#include "service/log.hpp"
#include "service/notify.hpp"
#include "service/nsm.hpp"
#include "service/rt_priority.hpp"
#include "service/signals.hpp"
#include "service/state_file.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace lockstep;
using namespace std::chrono_literals;
namespace exit_code = service::exit_code;

// Changes are saved once nothing has changed for this long.
constexpr auto save_quiet = 200ms;
// How long the main loop waits for OSC before it looks at signals, the rate and the state.
constexpr auto loop_wait = 10ms;
// Under a session manager: the longest the open's answer waits for the kit (nsmd waits up
// to 60 s for it).
constexpr auto open_wait = 30s;

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

std::vector<std::pair<std::string, std::uint64_t>>
counters(const sampler::Engine& engine, const jack::Client& client, const osc::Endpoint* osc) {
    const auto e = engine.counters();
    const auto s = client.stats();
    std::vector<std::pair<std::string, std::uint64_t>> v = {
        {"cycles", e.cycles},
        {"notes", e.notes},
        {"steals", e.steals},
        {"chokes", e.chokes},
        {"voices_dropped", e.dropped},
        {"rate_mismatch", e.rate_mismatch},
        {"voices_peak", e.peak},
        {"xruns", s.xruns},
        {"frame_jumps", s.frame_jumps},
        {"reconnects", s.reconnects},
        {"server_losses", s.server_losses},
        {"midi_in_dropped", s.midi_in_dropped},
        {"dsp_ns_mean", s.dsp_ns_mean},
        {"dsp_ns_max", s.dsp_ns_max},
    };
    if (osc != nullptr) {
        const auto o = osc->stats();
        v.insert(v.end(), {{"osc_packets", o.packets},
                           {"osc_malformed", o.malformed},
                           {"osc_rejected", o.rejected},
                           {"osc_late", o.late}});
    }
    return v;
}

// The requests that bring back a saved (or --kit) state, in order: kit, then per slot its
// settings and its file.
std::vector<sampler::Request> restore_requests(const sampler::SamplerState& state) {
    using Kind = sampler::Request::Kind;
    std::vector<sampler::Request> out;
    const auto add = [&out](Kind kind, int slot, std::string path, double value) {
        sampler::Request r;
        r.kind = kind;
        r.slot = slot;
        r.path = std::move(path);
        r.value = value;
        r.osc_path = "state";
        out.push_back(std::move(r));
    };
    if (!state.kit.empty()) {
        add(Kind::kit, -1, state.kit, 0);
    }
    const sampler::SlotSettings d;
    for (int i = 0; i < sampler::slot_count; ++i) {
        const auto& s = state.slots[static_cast<std::size_t>(i)];
        const auto& x = s.settings;
        if (x.gain_db != d.gain_db) {
            add(Kind::gain, i, "", x.gain_db);
        }
        if (x.pan != d.pan) {
            add(Kind::pan, i, "", x.pan);
        }
        if (x.tune != d.tune) {
            add(Kind::tune, i, "", x.tune);
        }
        if (x.choke != d.choke) {
            add(Kind::choke, i, "", static_cast<double>(x.choke));
        }
        if (x.one_shot != d.one_shot) {
            add(Kind::one_shot, i, "", x.one_shot ? 1 : 0);
        }
        if (x.output != d.output) {
            add(Kind::output, i, "", x.output);
        }
        if (!s.path.empty()) {
            add(Kind::load, i, s.path, 0);
        }
    }
    return out;
}

int run(int argc, char** argv) {
    CLI::App app{"lockstep-sampler: frame-exact sampler for drum and multisample kits "
                 "(JACK MIDI in, stereo audio out, OSC control)"};
    service::CommonOptions common;
    service::add_common_options(app, common, "sampler", osc::port::sampler);
    std::string kit;
    std::size_t voices = 256;
    double fade_ms = 2.0;
    std::uint64_t seed = 1;
    std::size_t group_outs = 0;
    app.add_option("--kit", kit, "SFZ kit to load at start (instead of the state file's)");
    app.add_option("--voices", voices, "voices sounding at once before the oldest is stolen")
        ->check(CLI::Range(1, 4096))
        ->capture_default_str();
    app.add_option("--fade-ms", fade_ms, "fade of stolen and choked voices, in ms")
        ->check(CLI::Range(1.0, 5.0))
        ->capture_default_str();
    app.add_option("--seed", seed, "seed of random region selection (lorand/hirand)")
        ->capture_default_str();
    app.add_option("--group-outs", group_outs,
                   "stereo group outputs out_1_L/R .. out_N_L/R after the main pair (SFZ "
                   "output=K, /sampler/output)")
        ->check(CLI::Range(std::size_t{0}, sampler::max_group_outs))
        ->capture_default_str();
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

    // ---- state ----------------------------------------------------------------------
    sampler::SamplerState state;
    if (!common.state.empty()) {
        std::string why;
        if (!state_dir_writable(common.state, why)) {
            log::error("sampler: %s", why.c_str());
            service::nsm::open_failed(nsm.get(), why);
            return exit_code::startup;
        }
        const auto r =
            service::load_state_file(common.state, sampler::state_spec(), sampler::validate_state);
        if (r.status == service::StateStatus::ok) {
            state = sampler::state_from_json(r.data);
            log::info("sampler: state restored from %s", common.state.c_str());
        }
        // corrupt: load_state_file has logged the reason and where the file went.
    }
    if (!kit.empty()) {
        state.kit = std::filesystem::absolute(kit).string();
    }

    // ---- engine, JACK client, loader, OSC ---------------------------------------------
    // The rate is JACK's, known after the first cycle.
    sampler::KitStore store(0, {}, static_cast<int>(group_outs));
    sampler::EngineOptions eo;
    eo.voices = voices;
    eo.fade_ms = fade_ms;
    eo.seed = seed;
    eo.group_outs = group_outs;
    sampler::Engine engine(eo, store.published());

    jack::ClientOptions co;
    co.name = common.name;
    co.server = common.server;
    // Order is engine.hpp's port indices: MIDI in `in`; audio out_L, out_R, then the group
    // pairs out_1_L, out_1_R, ...
    co.ports = {{"in", jack::PortKind::midi_in},
                {"out_L", jack::PortKind::audio_out},
                {"out_R", jack::PortKind::audio_out}};
    for (std::size_t k = 1; k <= group_outs; ++k) {
        co.ports.push_back({"out_" + std::to_string(k) + "_L", jack::PortKind::audio_out});
        co.ports.push_back({"out_" + std::to_string(k) + "_R", jack::PortKind::audio_out});
    }
    for (const auto& [src, dst] : common.connect) {
        co.connections.push_back({src, dst});
    }
    jack::Client client(co, engine);

    osc::Endpoint::Config oc;
    oc.listen = common.osc;
    oc.default_port = osc::port::sampler;
    oc.allow = common.osc_allow;
    oc.mapper = [&client](std::uint64_t tt) { return jack::frame_at_timetag(client, tt); };
    oc.name = "sampler osc";
    std::unique_ptr<osc::Endpoint> endpoint;
    try {
        endpoint = service::nsm::make_endpoint(oc, nsm != nullptr, app.count("--osc") > 0);
    } catch (const std::exception& e) {
        log::error("sampler: %s", e.what());
        service::nsm::open_failed(nsm.get(), e.what());
        return exit_code::startup;
    }
    const osc::Endpoint* endpoint_ptr = endpoint.get();
    sampler::OscApi api(*endpoint, engine, [&] { return counters(engine, client, endpoint_ptr); });
    sampler::Control control(store,
                             [&api](const sampler::Request& r, const sampler::LoadReport& rep) {
                                 api.finished(r, rep);
                             });
    api.set_control(control);
    control.start();

    service::lock_memory(); // says so once when refused
    if (!client.start()) {
        log::error("sampler: cannot start the JACK client %s (is the JACK server running?)",
                   common.name.c_str());
        service::nsm::open_failed(nsm.get(),
                                  "cannot start the JACK client (is the JACK server running?)");
        control.stop();
        return exit_code::startup;
    }
    log::notice("sampler: %s active, OSC on %s, %zu voices, %zu group outputs",
                client.name().c_str(), endpoint->url().c_str(), engine.options().voices,
                engine.options().group_outs);
    service::notify::ready("running");
    // Under a session manager the open is answered once the session's kit has loaded (it
    // loads once the first cycle gives JACK's rate), or after open_wait at the latest.
    const auto open_deadline = std::chrono::steady_clock::now() + open_wait;
    bool open_answered = false;

    // ---- the control loop -------------------------------------------------------------
    service::notify::Watchdog watchdog;
    std::uint32_t rate = 0; // JACK's rate the loader was last told
    bool restored = false;
    // Every restoring request done: before that, a save would write a half-restored kit
    // over the file.
    bool restore_done = false;
    // No request of ours queued or running: what is loaded is what the file holds (NSM's
    // dirty flag starts from here; a kit reload at a new rate is no unsaved change).
    bool settled = false;
    // Requests of ours that Control's queue (256) has not taken yet: a state holds up to
    // 128 slots with 7 requests each; they go in as the loader makes room, in order.
    std::deque<sampler::Request> to_submit;
    std::uint64_t saved_revision = control.revision();
    std::uint64_t seen_revision = saved_revision;
    auto changed_at = std::chrono::steady_clock::now();
    auto next_retry = changed_at;
    bool save_failed = false;
    const auto save = [&] {
        if (common.state.empty()) {
            return;
        }
        const auto revision = control.revision();
        const auto r = service::save_state_file(
            common.state, sampler::state_spec(),
            sampler::state_to_json(sampler::state_from_view(control.view())));
        if (r) {
            saved_revision = revision;
            if (save_failed) {
                log::notice("sampler: state saved to %s again", common.state.c_str());
            }
            save_failed = false;
        } else if (!save_failed) { // one line per failure streak
            log::error("sampler: %s", r.message.c_str());
            save_failed = true;
        }
    };
    for (;;) {
        endpoint->run_once(loop_wait);
        const auto ev = signals.wait(0ms);
        if (ev.event == service::SignalWaiter::Event::signal) {
            log::notice("sampler: signal %d, stopping", ev.signal);
            break;
        }
        watchdog.poll(client.heartbeat());

        // Kits are converted to JACK's rate: follow it (first cycle, or a server that came
        // back at another rate), then bring back the saved state once.
        CycleTiming t;
        if (client.timing(t) && t.rate != 0 && t.rate != rate) {
            if (rate != 0) {
                log::notice("sampler: JACK runs at %u Hz now (was %u): reloading the kit",
                            static_cast<unsigned>(t.rate), static_cast<unsigned>(rate));
                settled = false; // a reload is no unsaved change: the baseline is taken again
            }
            rate = t.rate;
            sampler::Request r;
            r.kind = sampler::Request::Kind::rate;
            r.value = rate;
            r.osc_path = "rate";
            to_submit.push_front(std::move(r)); // before any restoring request still waiting
            if (!restored) {
                restored = true;
                for (auto& req : restore_requests(state)) {
                    to_submit.push_back(std::move(req));
                }
            }
        }
        while (!to_submit.empty() && control.submit(to_submit.front())) {
            to_submit.pop_front();
        }
        if (restored && to_submit.empty() && control.idle()) {
            restore_done = true;
        }

        if (nsm) { // the session manager says when to save
            if (restore_done && !settled && to_submit.empty() && control.idle()) {
                settled = true;
                saved_revision = control.revision();
            }
            if (!open_answered && (settled || std::chrono::steady_clock::now() >= open_deadline)) {
                open_answered = true;
                nsm->opened(settled ? "lockstep-sampler is playing " + client.name()
                                    : "lockstep-sampler is playing " + client.name() +
                                          "; the kit is still loading");
            }
            service::nsm::serve(
                *nsm,
                [&] {
                    if (!settled) { // saving now would write a half-loaded kit over the session's
                        return std::string("not ready: the saved kit is still loading");
                    }
                    save();
                    return save_failed ? "cannot write " + common.state : std::string();
                },
                [&] { return settled && control.revision() != saved_revision; });
            continue;
        }
        const auto now = std::chrono::steady_clock::now();
        const auto revision = control.revision();
        if (revision != seen_revision) {
            seen_revision = revision;
            changed_at = now;
        }
        if (restore_done && revision != saved_revision && now - changed_at >= save_quiet &&
            now >= next_retry) {
            save();
            if (save_failed) {
                next_retry = now + 5s; // a full disk is not helped by trying 100 times a second
            }
        }
    }

    service::notify::stopping();
    control.stop(); // a load under way finishes first
    // Under a session manager a SIGTERM quits without saving (the NSM API).
    if (!nsm && restore_done && control.revision() != saved_revision) {
        save();
    }
    client.stop();
    std::string line;
    for (const auto& [name, value] : counters(engine, client, endpoint.get())) {
        line += " " + name + "=" + std::to_string(value);
    }
    log::notice("sampler:%s", line.c_str());
    return save_failed ? exit_code::failure : exit_code::ok;
}

} // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        lockstep::log::error("sampler: %s", e.what());
        return lockstep::service::exit_code::failure;
    }
}
