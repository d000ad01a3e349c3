// lockstep-capture: records JACK inputs in_1..in_N to WAV/RF64 or FLAC takes in --dir,
// started and stopped at exact frames over OSC (port 9012), by JACK transport or by input
// level, with pre-roll. docs/capture.md is the user's guide; exit codes in service/cli.hpp.
//
// Threads: main (CLI, signals, feedback and meters to OSC, watchdog), the JACK process
// thread (Engine::process), the disk thread (DiskWriter), the OSC thread (Endpoint).

// g++ 12 reports a null dereference inside CLI11's inlined string code (a false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif

#include "autosample_main.hpp"
#include "disk.hpp"
#include "engine.hpp"
#include "osc_api.hpp"

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

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unistd.h>

namespace {

using namespace lockstep;
using namespace lockstep::capture;

// Lets the JACK client start before the engine exists: the engine's buffers are sized in
// frames, and the sample rate is known only once the client runs.
class EngineSlot final : public jack::Processor {
public:
    void process(jack::Cycle& cycle) noexcept RT_NONBLOCKING override {
        if (Engine* e = engine_.load(std::memory_order_acquire)) {
            e->process(cycle);
        }
    }
    void set(Engine* e) noexcept { engine_.store(e, std::memory_order_release); }

private:
    std::atomic<Engine*> engine_{nullptr};
};

struct Cli {
    service::CommonOptions common;
    std::uint32_t channels = 2;
    std::string dir = ".";
    double preroll = 0;
    double buffer = 0.5;
    std::string format = "wav";
    std::string bits;
    bool per_channel = false;
    std::optional<double> threshold_db;
    double hold = 1.0;
    bool transport = false;
    std::string take_name = "take-{date}-{time}-{n}";
};

const char* describe(Trigger t) {
    switch (t) {
    case Trigger::osc:
        return "OSC";
    case Trigger::transport:
        return "transport";
    case Trigger::level:
        return "level";
    case Trigger::disk:
        return "disk error";
    case Trigger::shutdown:
        return "shutdown";
    }
    return "?";
}

} // namespace

int main(int argc, char** argv) {
    // `lockstep-capture autosample ...`: the autosampler (docs/capture.md "Autosampler").
    if (argc > 1 && std::string(argv[1]) == "autosample") {
        return lockstep::capture::autosample_main(argc - 1, argv + 1);
    }
    Cli cli;
    CLI::App app{"lockstep-capture: records JACK inputs to WAV/RF64 or FLAC takes, frame-exact\n"
                 "`lockstep-capture autosample --help`: record an instrument note by note into "
                 "a sample set with an SFZ"};
    service::add_common_options(app, cli.common, "capture", osc::port::capture);
    app.add_option("--channels", cli.channels, "number of inputs in_1..in_N")
        ->check(CLI::Range(1, 4096))
        ->capture_default_str();
    app.add_option("--dir", cli.dir, "directory for the takes")->capture_default_str();
    app.add_option("--preroll", cli.preroll, "seconds kept before a take's trigger")
        ->check(CLI::Range(0.0, 600.0))
        ->capture_default_str();
    app.add_option("--buffer", cli.buffer, "seconds of ring buffer for the disk thread")
        ->check(CLI::Range(0.05, 600.0))
        ->capture_default_str();
    app.add_option("--format", cli.format, "wav (RF64 past 4 GiB) or flac")
        ->check(CLI::IsMember({"wav", "flac"}))
        ->capture_default_str();
    app.add_option("--bits", cli.bits, "16, 24 or 32f (default: 32f for wav, 24 for flac)")
        ->check(CLI::IsMember({"16", "24", "32f"}));
    app.add_flag("--per-channel", cli.per_channel, "one mono file per channel");
    app.add_option("--threshold", cli.threshold_db,
                   "start a take when any input reaches this level (dBFS)")
        ->check(CLI::Range(-120.0, 0.0));
    app.add_option("--hold", cli.hold,
                   "a level take ends this many seconds after the last loud sample")
        ->check(CLI::Range(0.0, 3600.0))
        ->capture_default_str();
    app.add_flag("--transport", cli.transport, "record while JACK transport rolls");
    app.add_option("--take-name", cli.take_name, "take name template: {n} {date} {time} {frame}")
        ->capture_default_str();
    service::parse_or_exit(app, argc, argv);

    // Usage checks that CLI11 cannot express.
    const bool flac = cli.format == "flac";
    if (cli.bits.empty()) {
        cli.bits = flac ? "24" : "32f";
    }
    auto usage = [](const std::string& why) {
        std::fprintf(stderr, "lockstep-capture: %s (see --help)\n", why.c_str());
        return service::exit_code::usage;
    };
    if (flac && cli.bits == "32f") {
        return usage("--format flac holds 16 or 24-bit samples");
    }
    if (flac && !cli.per_channel && cli.channels > 8) {
        return usage("FLAC files hold at most 8 channels: use --per-channel");
    }
    {
        std::string name;
        std::string err;
        if (!expand_template(cli.take_name, 1, 0, 0, name, err)) {
            return usage("--take-name: " + err);
        }
    }
    service::SignalWaiter signals; // before any thread starts

    // Under a session manager: its client id is the JACK name, its path the directory of
    // the takes (nothing else to save: takes are on disk as they are recorded).
    std::optional<service::nsm::Open> nsm_open;
    bool nsm_stopped = false;
    const auto nsm = service::nsm::join_from_env(cli.common.name, "", argv[0], nsm_open,
                                                 signals.signal_fd(), nsm_stopped);
    if (nsm_stopped) { // SIGTERM before the open: nothing opened, nothing to save
        return service::exit_code::ok;
    }
    if (nsm) {
        cli.common.name = nsm_open->client_id;
        cli.dir = nsm_open->path;
        std::error_code ec;
        std::filesystem::create_directories(cli.dir, ec);
        if (ec) {
            std::fprintf(stderr, "lockstep-capture: session directory %s: %s\n", cli.dir.c_str(),
                         ec.message().c_str());
            nsm->open_failed(service::nsm::error::create_failed,
                             "cannot create " + cli.dir + ": " + ec.message());
            return service::exit_code::startup;
        }
    }
    if (::access(cli.dir.c_str(), W_OK | X_OK) != 0) {
        std::fprintf(stderr, "lockstep-capture: --dir %s: not a writable directory\n",
                     cli.dir.c_str());
        service::nsm::open_failed(nsm.get(),
                                  "the takes' directory " + cli.dir + " is not writable");
        return service::exit_code::startup;
    }

    service::lock_memory();

    EngineSlot slot;
    jack::ClientOptions jo;
    jo.name = cli.common.name;
    jo.server = cli.common.server;
    for (std::uint32_t c = 1; c <= cli.channels; ++c) {
        jo.ports.push_back({"in_" + std::to_string(c), jack::PortKind::audio_in});
    }
    for (const auto& [src, dst] : cli.common.connect) {
        jo.connections.push_back({src, dst});
    }
    jack::Client client(jo, slot);
    if (!client.start()) {
        std::fprintf(stderr, "lockstep-capture: cannot connect to the JACK server\n");
        service::nsm::open_failed(nsm.get(), "cannot connect to the JACK server");
        return service::exit_code::startup;
    }
    CycleTiming timing;
    for (int i = 0; i < 1000 && !(client.timing(timing) && timing.rate > 0); ++i) {
        if (signals.wait(std::chrono::milliseconds(10)).event ==
            service::SignalWaiter::Event::signal) {
            return service::exit_code::ok;
        }
    }
    if (timing.rate == 0) {
        std::fprintf(stderr, "lockstep-capture: the JACK server runs no cycles\n");
        service::nsm::open_failed(nsm.get(), "the JACK server runs no cycles");
        return service::exit_code::startup;
    }
    const std::uint32_t rate = timing.rate;

    EngineOptions eo;
    eo.channels = cli.channels;
    eo.preroll = static_cast<std::uint64_t>(std::llround(cli.preroll * rate));
    eo.buffer = static_cast<std::uint64_t>(std::llround(cli.buffer * rate));
    eo.transport = cli.transport;
    if (cli.threshold_db) {
        eo.level = true;
        eo.threshold = static_cast<float>(std::pow(10.0, *cli.threshold_db / 20.0));
        eo.hold = static_cast<std::uint64_t>(std::llround(cli.hold * rate));
    }
    eo.meter_window = rate / 20;
    eo.max_gap_fill = std::uint64_t{rate} * 60;
    Engine engine(eo);

    DiskOptions dopt;
    dopt.dir = cli.dir;
    dopt.name_template = cli.take_name;
    dopt.writer.format = flac ? FileFormat::flac : FileFormat::wav;
    dopt.writer.sample = cli.bits == "16"   ? SampleFormat::pcm16
                         : cli.bits == "24" ? SampleFormat::pcm24
                                            : SampleFormat::float32;
    dopt.writer.per_channel = cli.per_channel;
    dopt.writer.rate = rate;
    DiskWriter disk(dopt, engine);
    disk.start();
    slot.set(&engine);

    std::unique_ptr<osc::Endpoint> endpoint;
    try {
        osc::Endpoint::Config oc;
        oc.listen = cli.common.osc;
        oc.default_port = osc::port::capture;
        oc.allow = cli.common.osc_allow;
        oc.mapper = [&client](std::uint64_t ntp) { return jack::frame_at_timetag(client, ntp); };
        oc.name = "capture osc";
        endpoint = service::nsm::make_endpoint(oc, nsm != nullptr, app.count("--osc") > 0);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "lockstep-capture: --osc: %s\n", e.what());
        service::nsm::open_failed(nsm.get(), std::string("OSC: ") + e.what());
        slot.set(nullptr);
        client.stop();
        disk.finish();
        return service::exit_code::startup;
    }
    register_osc(*endpoint, engine, disk, client,
                 CaptureInfo{cli.dir, cli.format, cli.bits, cli.per_channel, cli.preroll});
    endpoint->start();

    log::notice("lockstep-capture: %u inputs at %u Hz, takes in %s (%s %s%s), pre-roll %.3f s, "
                "OSC %s%s%s",
                cli.channels, rate, cli.dir.c_str(), cli.format.c_str(), cli.bits.c_str(),
                cli.per_channel ? ", per channel" : "", cli.preroll, endpoint->url().c_str(),
                eo.level ? ", level-triggered" : "", cli.transport ? ", follows transport" : "");
    service::notify::ready("recording ready");
    if (nsm) {
        nsm->opened("lockstep-capture records into " + cli.dir);
    }
    std::printf("ready\n");
    std::fflush(stdout);

    service::notify::Watchdog watchdog;
    MeterFeed meters(cli.channels);
    for (;;) {
        const auto r = signals.wait(std::chrono::milliseconds(25));
        if (r.event == service::SignalWaiter::Event::signal) {
            break;
        }
        FromEngine fe;
        while (engine.receive(fe)) {
            switch (fe.kind) {
            case FromEngineKind::started:
                log::info("take %llu starts at frame %lld (%s at frame %lld)",
                          static_cast<unsigned long long>(fe.take),
                          static_cast<long long>(fe.frame), describe(fe.trigger),
                          static_cast<long long>(fe.trigger_frame));
                break;
            case FromEngineKind::stopped:
                log::info("take %llu ends before frame %lld (%s), %llu frames",
                          static_cast<unsigned long long>(fe.take),
                          static_cast<long long>(fe.frame), describe(fe.trigger),
                          static_cast<unsigned long long>(fe.frames));
                break;
            case FromEngineKind::refused:
                log::warning("a %s start/stop at frame %lld was refused", describe(fe.trigger),
                             static_cast<long long>(fe.frame));
                break;
            }
            endpoint->notify(status_message(engine, disk));
        }
        for (const DiskEvent& e : disk.poll_events()) {
            switch (e.kind) {
            case DiskEvent::Kind::opened:
                log::info("take %s: writing %s", e.name.c_str(), e.paths.front().c_str());
                break;
            case DiskEvent::Kind::closed:
                log::notice("take %s: %llu frames from frame %lld", e.name.c_str(),
                            static_cast<unsigned long long>(e.frames),
                            static_cast<long long>(e.first_frame));
                break;
            case DiskEvent::Kind::error:
                log::error("take %s ended: %s (%llu frames kept)", e.name.c_str(),
                           e.message.c_str(), static_cast<unsigned long long>(e.frames));
                endpoint->notify(osc::Message(
                    "/error", {osc::Arg::string("/capture/start"),
                               osc::Arg::string("take " + e.name + " ended: " + e.message)}));
                break;
            }
            endpoint->notify(status_message(engine, disk));
        }
        if (endpoint->subscriber_count() > 0) {
            osc::Message m = meters.message(engine);
            if (!m.path.empty()) {
                endpoint->notify(m);
            }
        }
        watchdog.poll(client.heartbeat());
        if (nsm) { // takes are on disk as they are recorded: a save has nothing to do
            service::nsm::serve(
                *nsm, [] { return std::string(); }, [] { return false; });
        }
    }

    service::notify::stopping();
    endpoint->stop();
    // A take still open ends at a cycle boundary while the inputs are still connected:
    // closing the JACK client disconnects the ports a cycle before the callbacks stop,
    // and that cycle would be recorded as silence at the take's end. If no cycle comes
    // (server gone), the take keeps what the ring holds.
    if (engine.status().state == State::recording && engine.send({ToEngineKind::stop, asap})) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (engine.status().state == State::recording &&
               std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        FromEngine fe;
        while (engine.receive(fe)) {
            if (fe.kind == FromEngineKind::stopped) {
                log::info("take %llu ends before frame %lld (exit), %llu frames",
                          static_cast<unsigned long long>(fe.take),
                          static_cast<long long>(fe.frame),
                          static_cast<unsigned long long>(fe.frames));
            }
        }
    }
    client.stop(); // no more cycles: the ring holds the last frames of an open take
    slot.set(nullptr);
    disk.finish(); // writes them and closes the take completely
    for (const DiskEvent& e : disk.poll_events()) {
        if (e.kind == DiskEvent::Kind::closed) {
            log::notice("take %s: %llu frames from frame %lld (closed on exit)", e.name.c_str(),
                        static_cast<unsigned long long>(e.frames),
                        static_cast<long long>(e.first_frame));
        } else if (e.kind == DiskEvent::Kind::error) {
            log::error("take %s ended: %s", e.name.c_str(), e.message.c_str());
        }
    }
    const EngineCounters c = engine.counters();
    const jack::ClientStats j = client.stats();
    log::notice(
        "lockstep-capture: exit: %llu takes, %llu overruns (%llu frames), %llu skipped "
        "frames, %llu xruns, %llu frame jumps, %llu reconnects, dsp mean %llu ns max %llu ns, "
        "%llu disk "
        "errors",
        static_cast<unsigned long long>(c.takes), static_cast<unsigned long long>(c.overruns),
        static_cast<unsigned long long>(c.overrun_frames),
        static_cast<unsigned long long>(c.skipped_frames), static_cast<unsigned long long>(j.xruns),
        static_cast<unsigned long long>(j.frame_jumps),
        static_cast<unsigned long long>(j.reconnects),
        static_cast<unsigned long long>(j.dsp_ns_mean),
        static_cast<unsigned long long>(j.dsp_ns_max),
        static_cast<unsigned long long>(disk.errors()));
    return service::exit_code::ok;
}
