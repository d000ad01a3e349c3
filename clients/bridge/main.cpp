// lockstep-bridge: JACK MIDI (notes and lockstep-seq's sync SysEx) in, timestamped triggers
// out to the Teensy box over USB serial, scheduled a lead time ahead in the box's own clock.
// docs/bridge.md is the user's guide; exit codes in service/cli.hpp.
//
// Threads: main (CLI, signals, OSC feedback, watchdog), the JACK process thread
// (Engine::process), the serial thread (Link), the OSC thread (Endpoint).

// g++ 12 reports a null dereference inside CLI11's inlined string code (a false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif

#include "engine.hpp"
#include "link.hpp"
#include "osc_api.hpp"
#include "trigger_map.hpp"

#include "jack/client.hpp"
#include "osc/address.hpp"
#include "osc/endpoint.hpp"
#include "service/cli.hpp"
#include "service/log.hpp"
#include "service/notify.hpp"
#include "service/nsm.hpp"
#include "service/rt_priority.hpp"
#include "service/signals.hpp"

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

int main(int argc, char** argv) {
    using namespace lockstep;
    using namespace lockstep::bridge;
    using namespace std::chrono_literals;

    service::CommonOptions common;
    std::string device = "auto";
    double lead_ms = 10;
    std::string map_text = "36=1,37=2,38=3,39=4";
    std::uint32_t pulse_us = 15'000;
    unsigned outputs = 4;
    int serial_priority = 5;
    CLI::App app{"lockstep-bridge: JACK MIDI to timestamped triggers on the lockstep box"};
    service::add_common_options(app, common, "bridge", osc::port::bridge);
    app.add_option("--device", device,
                   "auto (a Teensy under /dev/serial/by-id or USB id 16c0:0483) or a path")
        ->capture_default_str();
    app.add_option("--lead", lead_ms, "milliseconds between a MIDI event and its trigger")
        ->check(CLI::Range(1.0, 1000.0))
        ->capture_default_str();
    app.add_option("--map", map_text, "note map, e.g. 36=1,37=2 or ch10:36=1 (docs/bridge.md)")
        ->capture_default_str();
    app.add_option("--outputs", outputs, "trigger outputs the map may name")
        ->check(CLI::Range(1, 16))
        ->capture_default_str();
    app.add_option("--pulse-us", pulse_us, "trigger pulse width in µs")
        ->check(CLI::Range(1, 1'000'000))
        ->capture_default_str();
    app.add_option("--serial-priority", serial_priority,
                   "SCHED_FIFO priority of the serial thread (0: none); keep it below JACK's")
        ->check(CLI::Range(0, 98))
        ->capture_default_str();
    service::parse_or_exit(app, argc, argv);

    TriggerMap map;
    {
        std::string error;
        if (!map.parse(map_text, outputs, error)) {
            std::fprintf(stderr, "lockstep-bridge: %s (see --help)\n", error.c_str());
            return service::exit_code::usage;
        }
    }
    if (!common.state.empty()) {
        log::notice("lockstep-bridge: --state is ignored: the bridge keeps no state of its own");
    }

    service::SignalWaiter signals; // before any thread starts

    // Under a session manager: its client id is the JACK name; the bridge keeps no state,
    // so a save has nothing to do.
    std::optional<service::nsm::Open> nsm_open;
    bool nsm_stopped = false;
    const auto nsm = service::nsm::join_from_env(common.name, "", argv[0], nsm_open,
                                                 signals.signal_fd(), nsm_stopped);
    if (nsm_stopped) { // SIGTERM before the open: nothing opened, nothing to save
        return service::exit_code::ok;
    }
    if (nsm) {
        common.name = nsm_open->client_id;
    }
    service::lock_memory();

    SpscQueue<ToSerial> queue(4096);
    LinkOptions lo;
    lo.device = device;
    lo.pulse_us = pulse_us;
    lo.fifo_priority = serial_priority;
    ScheduleConfig sc;
    sc.lead_ns = static_cast<std::int64_t>(lead_ms * 1e6 + 0.5);
    lo.fit.cover_lead(sc.lead_ns, lo.ping_ns);
    Link link(lo, queue);

    Engine engine(map, link.line_slot(), queue, sc);

    jack::ClientOptions jo;
    jo.name = common.name;
    jo.server = common.server;
    jo.ports.push_back({"in", jack::PortKind::midi_in});
    for (const auto& [src, dst] : common.connect) {
        jo.connections.push_back({src, dst});
    }
    jack::Client client(jo, engine);
    if (!client.start()) {
        std::fprintf(stderr, "lockstep-bridge: cannot connect to the JACK server\n");
        service::nsm::open_failed(nsm.get(), "cannot connect to the JACK server");
        return service::exit_code::startup;
    }

    std::unique_ptr<osc::Endpoint> endpoint;
    try {
        osc::Endpoint::Config oc;
        oc.listen = common.osc;
        oc.default_port = osc::port::bridge;
        oc.allow = common.osc_allow;
        oc.name = "bridge osc";
        endpoint = service::nsm::make_endpoint(oc, nsm != nullptr, app.count("--osc") > 0);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "lockstep-bridge: --osc: %s\n", e.what());
        service::nsm::open_failed(nsm.get(), std::string("OSC: ") + e.what());
        client.stop();
        return service::exit_code::startup;
    }
    register_osc(*endpoint, link, engine, client, map.to_string());
    endpoint->start();
    link.start(); // the device may come later: READY does not wait for it

    log::notice("lockstep-bridge: device %s, lead %.3f ms, map %s, pulse %u µs, OSC %s",
                device.c_str(), lead_ms, map.to_string().c_str(), pulse_us,
                endpoint->url().c_str());
    service::notify::ready("bridge ready");
    if (nsm) {
        nsm->opened("lockstep-bridge is " + client.name());
    }
    std::printf("ready\n");
    std::fflush(stdout);

    service::notify::Watchdog watchdog;
    std::uint64_t seen_changes = link.state_changes();
    auto last_push = std::chrono::steady_clock::now();
    for (;;) {
        if (signals.wait(25ms).event == service::SignalWaiter::Event::signal) {
            break;
        }
        const auto now = std::chrono::steady_clock::now();
        const std::uint64_t changes = link.state_changes();
        // Feedback: on every link state change, and about once a second while subscribed.
        if (changes != seen_changes ||
            (endpoint->subscriber_count() > 0 && now - last_push >= 1s)) {
            seen_changes = changes;
            last_push = now;
            endpoint->notify(status_message(link, engine));
        }
        watchdog.poll(client.heartbeat());
        if (nsm) {
            service::nsm::serve(
                *nsm, [] { return std::string(); }, [] { return false; });
        }
    }

    service::notify::stopping();
    endpoint->stop();
    client.stop();
    link.stop();
    const LinkStatus s = link.status();
    const EngineCounts c = engine.counts();
    const jack::ClientStats j = client.stats();
    log::notice(
        "lockstep-bridge: exit: %llu triggers sent, %llu late, %llu unsynced, %llu "
        "dropped, %llu garbage bytes, %llu reconnects, %llu reboots, %llu xruns, %llu "
        "JACK reconnects",
        static_cast<unsigned long long>(s.triggers_sent),
        static_cast<unsigned long long>(c.late + s.device_late),
        static_cast<unsigned long long>(c.unsynced),
        static_cast<unsigned long long>(s.dropped + c.overflow + s.device_full),
        static_cast<unsigned long long>(s.garbage_bytes),
        static_cast<unsigned long long>(s.reconnects), static_cast<unsigned long long>(s.reboots),
        static_cast<unsigned long long>(j.xruns), static_cast<unsigned long long>(j.reconnects));
    return service::exit_code::ok;
}
