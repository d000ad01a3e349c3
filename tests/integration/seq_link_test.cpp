// lockstep-seq --link (docs/seq.md, "Ableton Link"): two sequencers, each on its own
// private JACK server, and a Link peer in this test process share one Link session. The
// peer starts the session, changes its tempo mid-step and stops it; each sequencer's `sync`
// port (one SysEx per step, step 0 = a bar line) is recorded with frames by a probe on its
// server, and every recorded frame is put on the Link clock through its own server's
// frame -> microsecond line (jack_get_cycle_times) as it is recorded.
//
// Asserted, never in wall-clock time: both start on the peer's bar line; bar lines agree
// within one period (256 frames, 5.33 ms) between the two and with the peer's beat grid
// (beat a multiple of 4) before the change and from two bars after it; the change lands
// exactly on a step boundary in both (the step from there is exactly the new tempo's
// length); both stop at the peer's stop time. Waits are bounded polls. docs/testing.md
// says how PipeWire's skipped cycles and Link peers from outside the test are handled.

// Asio (under Link) trips g++ 12's null-dereference analysis after inlining (a false
// positive): off for this file, before any header.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif

#include "seq_test_common.hpp"

#include "ableton_link.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace lockstep::test {
namespace {

using std::chrono::microseconds;

constexpr double quantum = 4;
constexpr std::uint32_t rate = 48000;
constexpr std::uint32_t period = 256;
constexpr double period_us = period * 1e6 / rate;
constexpr double old_bpm = 120;
constexpr double new_bpm = 140;

// One recorded `sync` message: its frame and its time on the Link clock.
struct Mark {
    Frame frame = 0;
    int step = -1; // -1: the stop message
    double link_us = 0;
    bool suspect = false; // PipeWire: next to cycles the recorder missed (not judged)
};

// A sequencer on its own server, its `sync` port recorded there by lockstep-probe in a
// child process (libjack serves one server per process), which prints each message's time
// on JACK's clock and CLOCK_MONOTONIC_RAW's offset from it (rec --times): Link's clock on
// Linux is CLOCK_MONOTONIC_RAW.
struct Side {
    Side(TestServer& s, const std::string& t) : server(s), tag(t) {
        rec = std::make_unique<ChildProcess>(
            std::vector<std::string>{probe_binary(), "-n", tag + "-rec", "-s", server.name(), "rec",
                                     "--times"},
            server.child_env());
    }
    // Once the probe is ready: the sequencer, connected to it.
    void start_seq() {
        seq = std::make_unique<SeqProcess>(server, tag + "-seq",
                                           std::vector<std::string>{"--link", "--tempo", "120",
                                                                    "--connect",
                                                                    "sync=" + tag + "-rec:in"});
    }
    // Reads the probe's new lines.
    void drain() {
        const std::string out = rec->output();
        while (true) {
            const auto nl = out.find('\n', consumed);
            if (nl == std::string::npos) {
                break;
            }
            const std::string line = out.substr(consumed, nl - consumed);
            consumed = nl + 1;
            if (line == "ready") {
                ready = true;
            } else if (line.starts_with("gap ")) {
                long long from = 0;
                long long to = 0;
                if (std::sscanf(line.c_str(), "gap %lld %lld", &from, &to) == 2) {
                    gaps.emplace_back(from, to);
                }
            } else if (line.find(" 0xf0 125 ") != std::string::npos) {
                // FRAME 0xf0 125 KIND [PATTERN STEP ...] @USECS OFFSET
                long long frame = 0;
                unsigned kind = 0;
                unsigned pattern = 0;
                unsigned step = 0;
                const auto at = line.find(" @");
                double us = 0;
                long long offset = 0;
                if (at == std::string::npos ||
                    std::sscanf(line.c_str() + at, " @%lf %lld", &us, &offset) != 2 ||
                    std::sscanf(line.c_str(), "%lld 0xf0 125 %u %u %u", &frame, &kind, &pattern,
                                &step) < 3) {
                    ADD_FAILURE() << "probe line: " << line;
                    continue;
                }
                Mark m;
                m.frame = frame;
                m.step = kind == 1 ? static_cast<int>(step) : -1;
                m.link_us = us + static_cast<double>(offset);
                marks.push_back(m);
            }
        }
    }
    std::size_t bars_after(double link_us) const {
        std::size_t n = 0;
        for (const Mark& m : marks) {
            n += (m.step == 0 && m.link_us > link_us) ? 1 : 0;
        }
        return n;
    }
    bool stopped() const { return !marks.empty() && marks.back().step == -1; }
    // The sequencer's replies to /query, empty if it is not running or did not answer.
    std::vector<osc::Message> query() {
        if (!seq->proc().running()) {
            return {};
        }
        seq->peer().send(osc::Message("/query"));
        auto got = seq->peer().ping_and_collect(2s);
        return got ? std::move(*got) : std::vector<osc::Message>{};
    }
    // Link peers this sequencer sees (/query's /seq/link i:on i:peers), -1 if unknown.
    int peers() {
        for (const auto& m : query()) {
            if (m.path == "/seq/link" && m.args.size() == 2) {
                return m.args[1].i();
            }
        }
        return -1;
    }
    // A /seq/counter of /query, -1 if unknown.
    long long counter(const std::string& name) {
        for (const auto& m : query()) {
            if (m.path == "/seq/counter" && m.args.size() == 2 && m.args[0].s() == name) {
                return m.args[1].h();
            }
        }
        return -1;
    }

    TestServer& server;
    std::string tag;
    std::unique_ptr<ChildProcess> rec;
    std::unique_ptr<SeqProcess> seq;
    std::vector<Mark> marks;
    std::size_t consumed = 0;
    bool ready = false;
    std::vector<std::pair<Frame, Frame>> gaps; // frames no cycle of the probe covered
    // PipeWire skips a client's cycles now and then, and may hand a late client's data to
    // the next cycle: marks within two periods of the recorder's gaps are suspect (left
    // out), and the run is disturbed when one that a check needs is (the start, the stop,
    // the steps around the tempo change) or more than two bar lines are.
    std::string mark_suspects(double change_us) {
        for (Mark& m : marks) {
            for (const auto& [from, to] : gaps) {
                m.suspect = m.suspect || (m.frame >= from - 2 * Frame{period} &&
                                          m.frame < to + 2 * Frame{period});
            }
        }
        std::string why;
        if (marks.empty()) {
            return why;
        }
        std::size_t first = 0;
        while (first < marks.size() && marks[first].link_us < change_us) {
            ++first;
        }
        int bars = 0;
        bool needed = marks.front().suspect || marks.back().suspect;
        for (std::size_t i = 0; i < marks.size(); ++i) {
            bars += (marks[i].suspect && marks[i].step == 0) ? 1 : 0;
            needed = needed || (marks[i].suspect && i + 1 >= first && i <= first + 5);
        }
        if (needed || bars > 2) {
            why = tag + "-rec skipped cycles next to marks a check needs:";
            for (const auto& [from, to] : gaps) {
                why += " [" + std::to_string(from) + "," + std::to_string(to) + ")";
            }
            why += "; ";
        }
        return why;
    }
};

// The bar number of a time on a session's grid, and how far (µs) it is from that bar line.
double off_bar_us(const ableton::Link::SessionState& s, double link_us, long& bar) {
    const double b = s.beatAtTime(microseconds(std::llround(link_us)), quantum);
    bar = std::lround(b / quantum);
    return (b - static_cast<double>(bar) * quantum) * 60e6 / s.tempo();
}

// How an attempt was disturbed: the server skipped cycles while the session played, or
// Link peers from outside the test (another run on this machine or the network) joined.
struct Disturbance {
    std::string gaps;
    std::string foreign;
};

Disturbance attempt() {
    Disturbance why;
    ServerOptions so;
    so.rate = rate;
    so.period = period;
    // jackd -S: the server waits for every client each cycle, so a late sequencer's bar
    // line is not handed to the recorder a cycle late (asynchronous jackd does that under
    // load: a whole period off).
    so.sync = true;
    TestServer server_a(so);
    TestServer server_b(so);
    ableton::Link peer(old_bpm);
    peer.enableStartStopSync(true);
    peer.enable(true);
    Side a(server_a, "lka");
    Side b(server_b, "lkb");
    EXPECT_TRUE(wait_until(
        [&] {
            a.drain();
            b.drain();
            return a.ready && b.ready;
        },
        generous))
        << a.rec->output() << b.rec->output();
    if (::testing::Test::HasFailure()) {
        return why;
    }
    a.start_seq();
    b.start_seq();
    EXPECT_TRUE(a.seq->ready());
    EXPECT_TRUE(b.seq->ready());
    // Everyone sees everyone (Link discovery: multicast on every interface, loopback too).
    EXPECT_TRUE(wait_until([&] { return peer.numPeers() >= 2 && a.peers() >= 2 && b.peers() >= 2; },
                           generous))
        << "Link peers: test " << peer.numPeers() << ", a " << a.peers() << ", b " << b.peers();
    if (::testing::Test::HasFailure()) {
        return why;
    }
    const auto drain = [&] {
        a.drain();
        b.drain();
    };
    // A sequencer that exited (a RealtimeSanitizer report halts it) ends the waits.
    const auto gone = [&] { return !a.seq->proc().running() || !b.seq->proc().running(); };
    const auto check_gone = [&] {
        if (gone()) {
            ADD_FAILURE() << "a sequencer exited: " << a.seq->proc().output()
                          << b.seq->proc().output();
        }
        return gone();
    };

    // The peer starts the session on a bar line 1.5 s ahead.
    auto s = peer.captureAppSessionState();
    const auto now = peer.clock().micros();
    const double start_beat =
        std::ceil(s.beatAtTime(now + microseconds(1500000), quantum) / quantum) * quantum;
    s.setIsPlaying(true, s.timeAtBeat(start_beat, quantum));
    peer.commitAppSessionState(s);
    const auto start_us = static_cast<double>(s.timeAtBeat(start_beat, quantum).count());
    EXPECT_TRUE(wait_until(
        [&] {
            drain();
            return gone() || (a.bars_after(0) >= 3 && b.bars_after(0) >= 3);
        },
        generous))
        << a.seq->proc().output() << b.seq->proc().output();
    if (check_gone() || ::testing::Test::HasFailure()) {
        return why;
    }

    // The peer changes the tempo 30-50 % into a step (the sequencers hear of it well before
    // the next boundary and apply it there: the session's grid and theirs then differ by
    // what the old tempo did in the rest of the step, which their phase lock takes back).
    const auto before = peer.captureAppSessionState();
    double change_us = 0;
    EXPECT_TRUE(wait_until(
        [&] {
            auto st = peer.captureAppSessionState();
            const auto t = peer.clock().micros();
            const double in_step = std::fmod(st.beatAtTime(t, quantum) * 4, 1.0);
            if (in_step < 0.3 || in_step > 0.5) {
                return false;
            }
            st.setTempo(new_bpm, t);
            peer.commitAppSessionState(st);
            change_us = static_cast<double>(t.count());
            return true;
        },
        generous));
    const double settle_us = change_us + 2 * quantum * 60e6 / new_bpm; // two bars
    EXPECT_TRUE(wait_until(
        [&] {
            drain();
            return gone() || (a.bars_after(settle_us) >= 4 && b.bars_after(settle_us) >= 4);
        },
        generous));
    if (check_gone()) {
        return why;
    }

    // The peer stops the session half a second ahead.
    s = peer.captureAppSessionState();
    const auto stop_at = peer.clock().micros() + microseconds(500000);
    s.setIsPlaying(false, stop_at);
    peer.commitAppSessionState(s);
    EXPECT_TRUE(wait_until(
        [&] {
            drain();
            return gone() || (a.stopped() && b.stopped());
        },
        generous));
    if (check_gone()) {
        return why;
    }
    drain();
    const auto after = peer.captureAppSessionState();
    if (backend_from_env() == Backend::pipewire) {
        why.gaps = a.mark_suspects(change_us) + b.mark_suspects(change_us);
    }
    for (Side* x : {&a, &b}) {
        const long long jumps = x->counter("frame_jumps"); // the sequencer's skipped cycles
        if (jumps != 0) {
            why.gaps += x->tag + "-seq frame jumps " + std::to_string(jumps) + "; ";
        }
    }
    if (peer.numPeers() != 2 || a.peers() != 2 || b.peers() != 2) {
        why.foreign = "Link peers: test " + std::to_string(peer.numPeers()) + ", a " +
                      std::to_string(a.peers()) + ", b " + std::to_string(b.peers()) +
                      " (2 each without peers from outside the test)";
    }
    if (::testing::Test::HasFailure()) {
        return why;
    }

    // ---- assertions ----
    std::map<long, double> bars[2]; // bar number -> Link time, per sequencer
    double worst_off = 0;
    for (int side = 0; side < 2; ++side) {
        Side* x = side == 0 ? &a : &b;
        const char* name = side == 0 ? "a" : "b";
        if (x->marks.empty()) {
            ADD_FAILURE() << name << ": nothing recorded";
            continue;
        }
        // Starts on the peer's bar line.
        EXPECT_EQ(x->marks.front().step, 0) << name;
        EXPECT_NEAR(x->marks.front().link_us, start_us, period_us) << name;
        // Stops at the peer's stop time.
        EXPECT_EQ(x->marks.back().step, -1) << name;
        EXPECT_NEAR(x->marks.back().link_us, static_cast<double>(stop_at.count()), period_us)
            << name;
        for (const Mark& m : x->marks) {
            if (m.step != 0 || m.suspect) {
                continue;
            }
            const bool pre = m.link_us < change_us;
            if (!pre && m.link_us < settle_us) {
                continue; // the phase lock at work
            }
            long bar = 0;
            const double off = off_bar_us(pre ? before : after, m.link_us, bar);
            worst_off = std::max(worst_off, std::fabs(off));
            EXPECT_LE(std::fabs(off), period_us)
                << name << ": bar line at frame " << m.frame << " is " << off
                << " µs off the peer's bar " << bar;
            bars[side][bar] = m.link_us;
        }
        // The change lands on a step boundary, exactly: within a few steps of the change,
        // one step is exactly the new tempo's sixteenth (ceil of exact ideal frames: 5142
        // or 5143 frames), and none is before it.
        std::size_t first = 0;
        while (first < x->marks.size() && x->marks[first].link_us < change_us) {
            ++first;
        }
        bool landed = false;
        std::string steps;
        for (std::size_t i = first; i + 1 < x->marks.size() && i < first + 4; ++i) {
            const Mark& p = x->marks[i];
            const Mark& q = x->marks[i + 1];
            if (p.step < 0 || q.step != (p.step + 1) % 16 || p.suspect || q.suspect) {
                continue;
            }
            const Frame len = q.frame - p.frame;
            steps += " " + std::to_string(len);
            if (len == 5142 || len == 5143) {
                landed = true;
                break;
            }
        }
        EXPECT_TRUE(landed) << name << ": steps after the change:" << steps;
    }
    // The two sequencers' bar lines agree (bars both recorded, from either grid's era).
    std::size_t compared = 0;
    double worst_ab = 0;
    for (const auto& [bar, us] : bars[0]) {
        const auto it = bars[1].find(bar);
        if (it != bars[1].end()) {
            ++compared;
            worst_ab = std::max(worst_ab, std::fabs(us - it->second));
            EXPECT_LE(std::fabs(us - it->second), period_us) << "bar " << bar;
        }
    }
    EXPECT_GE(compared, 5U);
    std::printf("bars compared: %zu; worst bar line off the peer's grid %.0f µs, between the "
                "two %.0f µs (one period: %.0f µs); tempo follows a/b %lld/%lld, phase "
                "corrections a/b %lld/%lld\n",
                compared, worst_off, worst_ab, period_us, a.counter("link_tempo_follows"),
                b.counter("link_tempo_follows"), a.counter("link_phase_corrections"),
                b.counter("link_phase_corrections"));
    return why;
}

TEST(SeqLink, TwoSequencersAndALinkPeerShareBarLinesTempoAndTransport) {
    // A run is taken again on fresh servers, its failures held back, when PipeWire skipped
    // cycles while the session played (docs/testing.md), or when Link peers from outside
    // the test joined the session (Link has no private sessions: another run of this test
    // on the machine, or a Link app on the network, would play along). On jackd2 skipped
    // cycles change nothing: every failure stands.
    const Backend backend = backend_from_env();
    std::string last;
    bool foreign = false;
    for (int i = 1; i <= 3; ++i) {
        ::testing::TestPartResultArray held;
        Disturbance why;
        {
            const ::testing::ScopedFakeTestPartResultReporter hold(
                ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &held);
            why = attempt();
        }
        const bool gaps = backend == Backend::pipewire && !why.gaps.empty();
        if (!gaps && why.foreign.empty()) {
            for (int k = 0; k < held.size(); ++k) {
                const ::testing::TestPartResult& r = held.GetTestPartResult(k);
                if (r.failed()) {
                    ADD_FAILURE_AT(r.file_name() != nullptr ? r.file_name() : "?", r.line_number())
                        << r.message() << (why.gaps.empty() ? "" : "\n(gaps: " + why.gaps + ")");
                }
            }
            return;
        }
        foreign = !why.foreign.empty();
        last = why.foreign + why.gaps;
        std::printf("attempt %d disturbed (%s)\n", i, last.substr(0, 300).c_str());
        std::fflush(stdout);
    }
    if (foreign) {
        std::printf("all 3 attempts disturbed by Link peers from outside the test: printed, "
                    "not asserted (%s)\n",
                    last.c_str());
    } else {
        std::printf("all 3 attempts disturbed by the server: printed, not asserted\n");
    }
}

} // namespace
} // namespace lockstep::test
