// lockstep-probe: a JACK MIDI/audio probe for tests and demos.
//   lockstep-probe gen --every FRAMES   note-ons on "out" at absolute frames k*FRAMES
//   lockstep-probe rec                  prints "FRAME STATUS DATA1 DATA2" per event on "in"
//   lockstep-probe rec --onsets         also "onset FRAME" per onset on "audio_in" (a sample
//                                       that is not 0 after one that is)
//   lockstep-probe rec --times          ... and " @USECS OFFSET": the frame's time on JACK's
//                                       clock (the latest cycle's frame -> time line) and
//                                       CLOCK_MONOTONIC_RAW - JACK's clock (µs, read back to
//                                       back); "gap FROM TO" for frames no cycle covered
//   lockstep-probe loop --every FRAMES  gen + rec on its own out->in, prints sent vs received
// Common: -n/--name, -s/--server, --connect SRC=DST (repeatable), --audio (ramp ports),
// --wait (wait for a server), --freewheel, --count N (exit after N events).
// Prints "ready" once active. Exit 0 on SIGTERM/SIGINT, 1 on errors.

// g++ 12 reports a null dereference inside CLI11's inlined string code (a false positive);
// it must be silenced before any standard header is read.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif

#include "harness/probe/probe.hpp"

#include <jack/jack.h>
#include <time.h>

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <deque>
#include <optional>
#include <string>
#include <thread>

namespace {

volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_signal(int) {
    g_stop = 1;
}

void install_signals() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
}

void print_event(const char* prefix, const lockstep::test::ProbeEvent& e) {
    std::printf("%s%lld", prefix, static_cast<long long>(e.frame));
    const auto b = e.bytes();
    for (std::size_t i = 0; i < b.size(); ++i) {
        std::printf(i == 0 ? " 0x%02x" : " %u", static_cast<unsigned>(b[i]));
    }
    std::printf("\n");
}

// " @USECS OFFSET" for rec --times (see the top of this file).
void print_times(lockstep::test::Probe& probe, lockstep::Frame frame) {
    lockstep::CycleTiming t;
    if (!probe.client().timing(t) || t.next_usecs <= t.usecs || t.nframes == 0) {
        std::printf(" @? ?");
        return;
    }
    const double us =
        static_cast<double>(t.usecs) + static_cast<double>(frame - t.frame) *
                                           static_cast<double>(t.next_usecs - t.usecs) / t.nframes;
    timespec a{};
    timespec b{};
    clock_gettime(CLOCK_MONOTONIC_RAW, &a);
    const auto j = static_cast<long long>(jack_get_time());
    clock_gettime(CLOCK_MONOTONIC_RAW, &b);
    const long long raw =
        (a.tv_sec * 1000000LL + a.tv_nsec / 1000 + b.tv_sec * 1000000LL + b.tv_nsec / 1000) / 2;
    std::printf(" @%.1f %lld", us, raw - j);
}

} // namespace

int main(int argc, char** argv) {
    using namespace lockstep;
    CLI::App app{"lockstep-probe: MIDI/audio probe with absolute 64-bit frames"};
    app.require_subcommand(1, 1);
    test::ProbeOptions opts;
    std::vector<std::string> connects;
    long long every = 0;
    long long phase = 0;
    unsigned long long count = 0;
    bool audio = false;
    bool freewheel = false;
    bool quiet = false;
    bool onsets = false;
    bool times = false;
    app.add_option("-n,--name", opts.name, "JACK client name")->capture_default_str();
    app.add_option("-s,--server", opts.server, "JACK server name");
    app.add_option("--connect", connects, "connect SRC=DST after activation (repeatable)");
    app.add_flag("--audio", audio, "add ramp ports audio_in/audio_out");
    app.add_flag("--wait", opts.wait_for_server, "wait for the JACK server instead of failing");
    app.add_flag("--freewheel", freewheel, "run JACK in freewheel while the probe runs");
    app.add_option("--count", count,
                   "exit 0 after this many events (sent for gen, received otherwise)");
    app.add_flag("-q,--quiet", quiet, "do not print events");
    auto* gen = app.add_subcommand("gen", "send note-ons at absolute frames k*EVERY+PHASE");
    auto* rec = app.add_subcommand("rec", "print received MIDI: FRAME STATUS DATA1 DATA2");
    rec->add_flag("--onsets", onsets,
                  "add port audio_in and print \"onset FRAME\" where its signal starts (a "
                  "sample that is not 0 after one that is)");
    rec->add_flag("--times", times,
                  "also each event's time on JACK's clock and CLOCK_MONOTONIC_RAW's offset "
                  "from it (\" @USECS OFFSET\"), and \"gap FROM TO\" lines");
    auto* loop = app.add_subcommand("loop", "gen on out, rec on in, connected out->in");
    for (auto* sub : {gen, loop}) {
        sub->add_option("--every", every, "frames between notes")
            ->required()
            ->check(CLI::PositiveNumber);
        sub->add_option("--phase", phase, "frame offset of the notes")
            ->check(CLI::NonNegativeNumber);
    }
    CLI11_PARSE(app, argc, argv);
    // Line-buffered even into a file or pipe: readers (tests, the demo) follow it live.
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    for (const auto& spec : connects) {
        std::string err;
        auto c = jack::parse_connection(spec, &err);
        if (!c) {
            std::fprintf(stderr, "lockstep-probe: --connect: %s\n", err.c_str());
            return 1;
        }
        opts.connections.push_back(*c);
    }
    const bool generating = gen->parsed() || loop->parsed();
    opts.midi_out = generating;
    opts.midi_in = !gen->parsed();
    opts.audio_in = audio || onsets;
    opts.audio_out = audio;
    opts.audio_onsets = onsets;
    if (loop->parsed()) {
        opts.connections.push_back({"out", "in"});
    }

    install_signals();
    test::Probe probe(opts);
    if (generating) {
        probe.generate_every(every, phase);
    }
    if (!probe.start() && !opts.wait_for_server) {
        return 1;
    }
    while (!probe.client().active()) {
        if (g_stop != 0) {
            return 0;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (freewheel && !probe.client().set_freewheel(true)) {
        std::fprintf(stderr, "lockstep-probe: cannot start freewheel\n");
    }
    std::printf("ready\n");
    std::fflush(stdout);

    std::deque<test::ProbeEvent> unmatched_sent; // loop: sent, not yet received
    std::size_t sent_seen = 0;
    std::size_t received_seen = 0;
    std::size_t onsets_seen = 0;
    std::size_t gaps_seen = 0;
    auto last = probe.client().stats();
    while (g_stop == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        probe.drain();
        const auto& sent = probe.sent();
        const auto& received = probe.received();
        for (; sent_seen < sent.size(); ++sent_seen) {
            if (loop->parsed()) {
                unmatched_sent.push_back(sent[sent_seen]);
            } else if (!quiet) {
                print_event("sent ", sent[sent_seen]);
            }
        }
        for (; received_seen < received.size(); ++received_seen) {
            const auto& r = received[received_seen];
            if (loop->parsed()) {
                // Match with the latest note sent at or before it (the loop delay is
                // shorter than --every); older unmatched notes were lost (e.g. sent before
                // the connection existed).
                std::optional<test::ProbeEvent> match;
                while (!unmatched_sent.empty() && unmatched_sent.front().frame <= r.frame) {
                    match = unmatched_sent.front();
                    unmatched_sent.pop_front();
                }
                if (match && !quiet) {
                    std::printf("loop sent=%lld received=%lld delay=%lld\n",
                                static_cast<long long>(match->frame),
                                static_cast<long long>(r.frame),
                                static_cast<long long>(r.frame - match->frame));
                }
            } else if (times) {
                std::printf("%lld", static_cast<long long>(r.frame));
                const auto b = r.bytes();
                for (std::size_t i = 0; i < b.size(); ++i) {
                    std::printf(i == 0 ? " 0x%02x" : " %u", static_cast<unsigned>(b[i]));
                }
                print_times(probe, r.frame);
                std::printf("\n");
            } else if (!quiet) {
                print_event("", r);
            }
        }
        for (; onsets_seen < probe.onsets().size(); ++onsets_seen) {
            if (!quiet) {
                std::printf("onset %lld\n", static_cast<long long>(probe.onsets()[onsets_seen]));
            }
        }
        for (; times && gaps_seen < probe.gaps().size(); ++gaps_seen) {
            std::printf("gap %lld %lld\n", static_cast<long long>(probe.gaps()[gaps_seen].from),
                        static_cast<long long>(probe.gaps()[gaps_seen].to));
        }
        // Sent events that will never come back (server restart in between) go.
        while (unmatched_sent.size() > 1024) {
            unmatched_sent.pop_front();
        }
        const auto st = probe.client().stats();
        if (st.server_losses != last.server_losses) {
            std::printf("server lost losses=%llu\n",
                        static_cast<unsigned long long>(st.server_losses));
            unmatched_sent.clear();
        }
        if (st.reconnects != last.reconnects) {
            std::printf("reconnected reconnects=%llu\n",
                        static_cast<unsigned long long>(st.reconnects));
            if (freewheel) {
                probe.client().set_freewheel(true);
            }
        }
        last = st;
        std::fflush(stdout);
        if (count > 0 && (gen->parsed() ? sent.size() : received.size()) >= count) {
            break;
        }
    }

    if (freewheel) {
        probe.client().set_freewheel(false);
    }
    probe.stop();
    const auto st = probe.client().stats();
    const auto pc = probe.counters();
    std::printf(
        "stats cycles=%llu xruns=%llu frame_jumps=%llu reconnects=%llu sent=%llu received=%llu "
        "late=%llu "
        "overflow=%llu dsp_mean_us=%.1f dsp_max_us=%.1f\n",
        static_cast<unsigned long long>(st.cycles), static_cast<unsigned long long>(st.xruns),
        static_cast<unsigned long long>(st.frame_jumps),
        static_cast<unsigned long long>(st.reconnects), static_cast<unsigned long long>(pc.sent),
        static_cast<unsigned long long>(pc.received),
        static_cast<unsigned long long>(pc.late + st.midi_out_late),
        static_cast<unsigned long long>(pc.record_overflow + st.midi_out_overflow),
        static_cast<double>(st.dsp_ns_mean) / 1000.0, static_cast<double>(st.dsp_ns_max) / 1000.0);
    std::fflush(stdout);
    return 0;
}
