// `lockstep-capture autosample` end to end on a private jackd in sync mode (-S), against a
// deterministic test synth running in this process as a JACK client: it answers each
// note-on with a tone `delay` frames later plus low-level deterministic noise, and logs
// the frame every tone really started at. Checks: the measured round-trip latency, every
// file's name, its onset exact to the frame (bext time reference against the synth's log),
// note-on frames in the metadata, smpl root keys, the SFZ loaded and played by
// lockstep-sampler's kit loader and engine, and a SIGINT-cancelled session resumed.
#include "autosample_files.hpp"
#include "autosample_plan.hpp"
#include "autosample_synth.hpp"
#include "capture_common.hpp"
#include "jack_test_common.hpp"

#include "jack/offline.hpp"
#include "sampler/engine.hpp"
#include "sampler/loader.hpp"

#include <filesystem>

namespace lockstep::test::capture {
namespace {

using namespace lockstep::capture::autosample;
using lockstep::capture::test::SynthOptions;
using lockstep::capture::test::TestSynth;

constexpr std::int64_t delay = 300;
constexpr std::uint32_t period = 256;

ServerOptions sync_server() {
    ServerOptions o;
    o.rate = 48000;
    o.period = period;
    o.sync = true;
    return o;
}

// The synth as an in-process JACK client: MIDI in `in`, audio out `out_1`.
class SynthClient {
public:
    SynthClient(const TestServer& server, SynthOptions so)
        : synth(so), client(options(server), synth) {}
    TestSynth synth;
    jack::Client client;

private:
    static jack::ClientOptions options(const TestServer& server) {
        jack::ClientOptions o;
        o.name = "synth";
        o.server = server.name();
        o.ports = {{"in", jack::PortKind::midi_in}, {"out_1", jack::PortKind::audio_out}};
        return o;
    }
};

std::vector<std::string> autosample_args(const TestServer& server, const std::string& dir) {
    return {capture_binary(),
            "autosample",
            "-n",
            "as",
            "-s",
            server.name(),
            "--osc",
            std::to_string(free_udp_port()),
            "--dir",
            dir,
            "--set",
            "synth",
            "--notes",
            "60:66:3",
            "--velocities",
            "64,127",
            "--round-robins",
            "2",
            "--hold",
            "0.1",
            "--tail",
            "2",
            "--preroll",
            "0.02",
            "--progress",
            "log",
            "--connect",
            "midi_out=synth:in",
            "--connect",
            "synth:out_1=in_1"};
}

// Notes recorded again after lost frames (an xrun on a loaded machine): the synth played
// them twice.
std::size_t retries(const std::string& out) {
    std::size_t n = 0;
    for (std::size_t p = 0; (p = out.find("recording it again", p)) != std::string::npos; ++p) {
        ++n;
    }
    return n;
}

// How the server disturbed a run: the test synth, an in-process client, skipped cycles. Its
// MIDI and its sound for those frames never existed: a note-on it never heard, or a period
// of silence that ends a sample early (PipeWire 0.3.65 in CI: 21 tones for 22 note-ons and
// a file cut at 4800 frames). A hardware synth does not skip; the recorder's own lost
// frames are its business (it records the note again, and the tests count that). Seen by
// the synth's jack::Client: its cycles that did not start where the last one ended.
std::string disturbed(const jack::Client& synth) {
    const std::uint64_t jumps = synth.stats().frame_jumps;
    if (jumps == 0) {
        return {};
    }
    return "the synth's JACK client skipped cycles " + std::to_string(jumps) + " times";
}

// Runs `body` holding its failures back; the run was disturbed when the synth skipped
// cycles (jack_test_common.hpp, unless_disturbed).
template <typename F>
std::string unless_disturbed(const TestServer& server, const jack::Client& synth, F body) {
    return unless_disturbed(server.backend(), body, [&synth] { return disturbed(synth); });
}

std::int64_t logged(const std::string& out, const std::string& pattern) {
    std::smatch m;
    return std::regex_search(out, m, std::regex(pattern)) ? std::stoll(m[1]) : -1;
}

// Every file of the set: its onset (bext time reference) is a frame where the synth
// started that note at that velocity, and its note-on is its session's latency before it.
PlanSpec full_plan() {
    PlanSpec s;
    s.low = 60;
    s.high = 66;
    s.step = 3;
    s.velocities = {64, 127};
    s.round_robins = 2;
    return s;
}

// `measured`: the latency in the files is the real round trip (else only the onsets and
// note-on frames are checked against the synth).
void check_set(const std::string& dir, const TestSynth& synth, const PlanSpec& s = full_plan(),
               bool measured = true) {
    const auto plan = make_plan(s);
    std::vector<Frame> used;
    Frame graph_delay = -1;
    for (const NoteId& id : plan) {
        const std::string path = dir + "/" + file_name("synth", id);
        SampleAudio a;
        SampleMeta m;
        std::string err;
        ASSERT_TRUE(read_sample(path, a, m, err)) << err;
        EXPECT_EQ(m.root_key, id.note) << path;
        EXPECT_GT(a.frames(), 4800U) << path;
        const auto onset = static_cast<Frame>(m.time_reference);
        // A feedback loop in a JACK graph delays one of its links by one period: the synth
        // either hears the MIDI a cycle late or the recorder hears the synth a cycle late.
        // The latter shifts every onset by exactly one period in the recorder's frames, the
        // same for every note: the onset is exact to the frame up to that constant.
        bool found = false;
        bool near = false; // PipeWire's bound: at most `slack` after a start of this tone
        constexpr Frame slack = 8 * Frame{period};
        std::string starts;
        for (std::size_t i = 0; i < synth.starts(); ++i) {
            const auto t = synth.start(i);
            starts += " " + std::to_string(t.note) + "/" + std::to_string(t.velocity) + "@" +
                      std::to_string(t.frame);
            if (t.note != id.note || t.velocity != id.velocity) {
                continue;
            }
            near = near || (onset >= t.frame && onset - t.frame <= slack);
            for (const Frame g : {Frame{0}, Frame{period}}) {
                if (t.frame + g == onset && (graph_delay < 0 || graph_delay == g)) {
                    graph_delay = g;
                    found = true;
                }
            }
        }
        const std::int64_t round_trip = onset - value_of(m.description, "note_on").value_or(0);
        const bool pipewire = backend_from_env() == Backend::pipewire;
        if (pipewire && (!found || !(round_trip == delay || round_trip == delay + period))) {
            // PipeWire 0.3.65 in a feedback loop once handed the recorder the synth's sound
            // one frame less than a period late, in a run where neither client's frame clock
            // had a gap (onset 83851 for a tone the synth began at 83596; round trip 555).
            // Later runs saw 2 and 3 periods and more. That shift is in the server's audio
            // path, before the recorder sees a sample: printed here, asserted on jackd2
            // (docs/testing.md). PipeWire is still held to a loose bound: the take starts at
            // most 8 periods after a tone the synth began for this note and velocity, and
            // its round trip is at most that much longer than the synth's delay.
            std::printf("PipeWire: %s: onset %lld, round trip %lld, synth:%s (exact onset not "
                        "asserted on PipeWire)\n",
                        path.c_str(), static_cast<long long>(onset),
                        static_cast<long long>(round_trip), starts.c_str());
            EXPECT_TRUE(near) << path << ": onset " << onset << " is not within " << slack
                              << " frames after a start of this tone:" << starts;
            EXPECT_TRUE(round_trip >= 0 && round_trip <= delay + slack)
                << path << ": round trip " << round_trip;
        } else {
            EXPECT_TRUE(found) << path << ": onset " << onset
                               << " is not where the synth started (graph delay " << graph_delay
                               << "):" << starts;
            EXPECT_TRUE(round_trip == delay || round_trip == delay + period) << path;
        }
        EXPECT_EQ(std::find(used.begin(), used.end(), onset), used.end());
        used.push_back(onset);
        EXPECT_EQ(value_of(m.description, "onset"), onset);
        const std::int64_t latency = value_of(m.description, "latency").value_or(-1);
        if (measured && pipewire && round_trip != latency) {
            // PipeWire 0.3.65 skips a client's cycle now and then: when it skips the
            // recorder's cycle that holds the latency probe's onset, the probe measures late
            // (one RTSan run on PipeWire: 416 frames against the notes' 556). The notes'
            // onsets above are still exact; printed here, asserted on jackd2.
            std::printf("PipeWire: the latency probe measured %lld frames, the round trip of %s "
                        "is %lld (not asserted on PipeWire)\n",
                        static_cast<long long>(latency), path.c_str(),
                        static_cast<long long>(round_trip));
        } else if (measured) {
            EXPECT_EQ(round_trip, latency) << path;
        }
    }
    // lockstep-sampler loads the SFZ and plays a region exactly.
    sampler::KitStore store(48000);
    const auto rep = store.load_kit(dir + "/synth.sfz");
    ASSERT_TRUE(rep.ok) << rep.error;
    EXPECT_EQ(rep.regions, plan.size());
    sampler::Engine player(sampler::EngineOptions{}, store.published());
    jack::OfflineDriver drv(jack::OfflinePorts{1, 0, 0, 2}, 48000);
    const NoteId play{s.low + s.step, s.velocities.front(), 1};
    drv.add_midi_in(
        0, 512,
        {0x90, static_cast<std::uint8_t>(play.note), static_cast<std::uint8_t>(play.velocity)});
    drv.run(player, 0, 256, 40);
    SampleAudio want;
    SampleMeta wm;
    std::string err;
    ASSERT_TRUE(read_sample(dir + "/" + file_name("synth", play), want, wm, err));
    const float v = static_cast<float>(play.velocity) / 127.0F;
    const float vel_gain = v * v; // the sampler's curve
    for (std::size_t k = 0; k < 4000; ++k) {
        ASSERT_NEAR(drv.audio_out(0)[512 + k], want.samples[k] * vel_gain, 1e-6F) << k;
    }
}

// Runs `body(server, synth, dir)` on a fresh sync server with the test synth started, until
// a run where the synth's client skipped no cycle (on_undisturbed_server, unless_disturbed).
template <typename F>
void with_undisturbed_synth(const std::string& dir_name, F body) {
    on_undisturbed_server(sync_server(), [&](TestServer& server) {
        server.use_in_this_process();
        const TempDir dir(dir_name);
        SynthOptions so;
        so.delay = delay;
        SynthClient synth(server, so);
        return unless_disturbed(server, synth.client, [&] {
            ASSERT_TRUE(synth.client.start());
            body(server, synth, dir);
        });
    });
}

TEST(AutosampleJack, RecordsATestSynthIntoAPlayableSetExactToTheFrame) {
    with_undisturbed_synth(
        "autosample-jack", [](TestServer& server, SynthClient& synth, const TempDir& dir) {
            ChildProcess child(autosample_args(server, dir.path()), server.child_env());
            const int code = child.wait(120s);
            const std::string out = child.output();
            ASSERT_EQ(code, 0) << out;
            // jackd2 runs a feedback loop's clients in some order: the synth hears the MIDI in the
            // same cycle or the next one.
            const std::int64_t latency = logged(out, "round-trip latency: ([0-9]+) frames");
            EXPECT_TRUE(latency == delay || latency == delay + period) << out;
            EXPECT_EQ(synth.synth.starts(), 13U + retries(out)) << out; // the probe and 12 notes
            EXPECT_NE(out.find("done: 12 of 12 notes"), std::string::npos) << out;
            // A late note-on (a stalled session thread) is reported and its real frame used: the
            // checks below hold either way, so it is printed, not asserted.
            EXPECT_NE(out.find(", 0 overruns"), std::string::npos) << out;
            std::printf("%s", out.c_str()); // the session's log, for the reader of the test output
            check_set(dir.path(), synth.synth);
        });
}

TEST(AutosampleJack, SigintCancelsAndTheNextRunResumes) {
    with_undisturbed_synth("autosample-resume", [](TestServer& server, SynthClient& synth,
                                                   const TempDir& dir) {
        const std::string raw = dir.path() + "/raw";
        std::string first_out;
        {
            ChildProcess child(autosample_args(server, dir.path()), server.child_env());
            ASSERT_TRUE(wait_until(
                [&] { return !child.running() || scan_recorded(raw, "synth").size() >= 3; }, 120s))
                << child.output();
            child.signal(SIGINT);
            ASSERT_EQ(child.wait(60s), 0) << child.output();
            first_out = child.output();
            EXPECT_NE(first_out.find("autosample cancelled"), std::string::npos) << first_out;
        }
        const std::size_t first = scan_recorded(raw, "synth").size();
        EXPECT_GE(first, 3U);
        EXPECT_LT(first, 12U);
        EXPECT_FALSE(std::filesystem::exists(dir.path() + "/synth.sfz"));
        ChildProcess child(autosample_args(server, dir.path()), server.child_env());
        ASSERT_EQ(child.wait(120s), 0) << child.output();
        const std::string out = child.output();
        EXPECT_NE(out.find("resuming: " + std::to_string(first) + " of 12 notes"),
                  std::string::npos)
            << out;
        // 2 probes + 12 notes + at most one note interrupted by the cancel
        EXPECT_GE(synth.synth.starts(), 14U + retries(out));
        EXPECT_LE(synth.synth.starts(), 15U + retries(out) + retries(first_out));
        check_set(dir.path(), synth.synth);
    });
}

// --latency ports: the test synth reports no latency (0): a warning, the windows start
// early, and the onsets are still found exactly in the audio.
TEST(AutosampleJack, PortLatenciesOfZeroStillFindTheOnsets) {
    with_undisturbed_synth("autosample-ports", [](TestServer& server, SynthClient& synth,
                                                  const TempDir& dir) {
        auto args = autosample_args(server, dir.path());
        auto set = [&args](const std::string& flag, const std::string& value) {
            *(std::find(args.begin(), args.end(), flag) + 1) = value;
        };
        set("--notes", "60:63:3");
        set("--velocities", "127");
        set("--round-robins", "1");
        args.insert(args.end(), {"--latency", "ports"});
        ChildProcess child(args, server.child_env());
        ASSERT_EQ(child.wait(120s), 0) << child.output();
        const std::string out = child.output();
        EXPECT_NE(out.find("round-trip latency from the JACK ports: 0 frames"), std::string::npos)
            << out;
        EXPECT_NE(out.find("the JACK ports report no latency"), std::string::npos) << out;
        EXPECT_EQ(synth.synth.starts(), 2U + retries(out)) << out; // no probe
        PlanSpec s;
        s.low = 60;
        s.high = 63;
        s.step = 3;
        s.velocities = {127};
        check_set(dir.path(), synth.synth, s, false);
    });
}

// The recorder runs the autosampler as a child process on `/capture/autosample s:args`.
TEST(AutosampleJack, TheRecorderStartsASessionOverOsc) {
    with_undisturbed_synth(
        "autosample-osc", [](TestServer& server, SynthClient& synth, const TempDir& dir) {
            TempDir rec_dir("autosample-recorder");
            CaptureProcess recorder(server, "rec", {"--channels", "1", "--dir", rec_dir.path()});
            ASSERT_TRUE(recorder.wait_ready());
            const std::uint16_t session_port = free_udp_port();
            const std::string args =
                "-n as --osc " + std::to_string(session_port) + " --dir " + dir.path() +
                " --set synth --notes 60:66:3 --velocities 127 --hold 0.1 --tail 2 "
                "--preroll 0.02 --progress log --connect midi_out=synth:in "
                "--connect synth:out_1=in_1";
            recorder.peer->send(osc::Message("/capture/autosample", {osc::Arg::string(args)}));
            const auto started = recorder.peer->receive_path("/capture/autosample/process", 10s);
            ASSERT_TRUE(started) << recorder.child->output();
            EXPECT_EQ(started->args[0].s(), "running");
            // A second start while one runs is refused.
            recorder.peer->send(osc::Message("/capture/autosample", {osc::Arg::string(args)}));
            const auto refused = recorder.peer->receive_path("/error", 10s);
            ASSERT_TRUE(refused);
            EXPECT_NE(refused->args[1].s().find("an autosample session runs"), std::string::npos);
            // The session's own OSC: subscribe, then pause and resume it through the recorder
            // (signals) and follow its pushed status to the end.
            OscPeer session(session_port);
            ASSERT_TRUE(wait_until(
                [&] {
                    session.send(osc::Message("/subscribe"));
                    return session.ping_and_collect(1s).has_value();
                },
                60s))
                << recorder.child->output();
            auto phase_is = [](const std::string& phase) {
                return [phase](const osc::Message& m) {
                    return m.path == "/capture/autosample/status" && m.args[0].s() == phase;
                };
            };
            recorder.peer->send(osc::Message("/capture/autosample/pause"));
            const auto paused = session.receive_until(phase_is("paused"), 60s);
            ASSERT_TRUE(paused) << recorder.child->output();
            const std::size_t tones = synth.synth.starts();
            // Paused: the session thread goes on stepping (its step counter, the status's last
            // argument, advances by 100 passes: more than a note's lead) and plays nothing new.
            const std::int64_t steps_at_pause = paused->args[6].h();
            std::optional<osc::Message> later;
            ASSERT_TRUE(wait_until(
                [&] {
                    session.send(osc::Message("/capture/autosample/status"));
                    later = session.receive_path("/capture/autosample/status", 10s);
                    return later && later->args[6].h() >= steps_at_pause + 100;
                },
                60s));
            EXPECT_EQ(later->args[0].s(), "paused");
            EXPECT_EQ(synth.synth.starts(), tones);
            recorder.peer->send(osc::Message("/capture/autosample/resume"));
            const auto done = session.receive_until(phase_is("done"), 120s);
            ASSERT_TRUE(done) << recorder.child->output();
            EXPECT_EQ(done->args[1].i(), 3);
            EXPECT_EQ(done->args[2].i(), 3);
            std::optional<osc::Message> st;
            ASSERT_TRUE(wait_until(
                [&] {
                    recorder.peer->send(osc::Message("/capture/autosample/process"));
                    st = recorder.peer->receive_path("/capture/autosample/process", 5s);
                    return st && st->args[0].s() == "idle";
                },
                120s))
                << recorder.child->output();
            EXPECT_EQ(st->args[2].i(), 0) << recorder.child->output();
            PlanSpec s;
            s.low = 60;
            s.high = 66;
            s.step = 3;
            s.velocities = {127};
            check_set(dir.path(), synth.synth, s);
            // The recorder itself is unaffected.
            EXPECT_TRUE(recorder.child->running());
        });
}

} // namespace
} // namespace lockstep::test::capture
