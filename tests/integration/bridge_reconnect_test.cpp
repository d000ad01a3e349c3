// lockstep-bridge as a program on a private JACK server (jackd2 or PipeWire), talking to
// lockstep-fwsim behind its pseudo-terminal (issue 6): the box unplugged and replugged (the
// sim killed and started again on the same --link path), rebooted (SIGHUP: a new boot id, a
// clock from 0) and sprayed with garbage (SIGUSR1). After each, the bridge must be locked
// again within 1 s of the sim being ready (CLOCK_MONOTONIC, from the sim's ready line or
// the signal), and notes played after it must come out of the sim: every note is either
// counted by the bridge as not sent (late, unsynced, dropped), or sent and then either a
// rising edge in the sim's --log at its frame time + lead (within `bound_ns`) or counted by
// the box as not fired (its stats, relayed in /bridge/counters); no other edge appears. The
// bridge exits 0 on SIGTERM at the end. Readiness and states are polled or pushed, never slept for.
//
// The lead is 100 ms, not the default 10: this test is about reconnecting and resuming, and
// on a loaded 2-core machine the ping round trips the bridge measures (median RTT is part of
// its lateness rule) grow to several ms, so a 10 ms lead made notes late. Under load the
// sim's own timer can also wake up too late; the box then drops the trigger and counts it
// (never fires it late), which is why the box's counters are part of the accounting. Every
// edge that does fire must be within bound_ns of its time, right after a relock as later.
#include "bridge_common.hpp"
#include "schedule.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

namespace lockstep::test {
namespace {

using osc::Message;
using Clock = std::chrono::steady_clock; // CLOCK_MONOTONIC on Linux

constexpr std::int64_t lead_ns = 100'000'000;
// How far an edge may be from its note's frame time + lead: the same after a relock as in
// steady state. The clock fit is locked only while its own error a lead ahead is small
// (ClockFitConfig::lock_se_ns); the sim runs its "timer ISR" at SCHED_FIFO and logs when it
// really ran. Measured on a loaded 2-core machine: worst edges 10-80 us in every phase.
constexpr std::int64_t bound_ns = 250'000;
// For an edge whose time the test could only take from a later cycle's line (play_once).
constexpr std::int64_t loose_bound_ns = 5'000'000;

using Status = BridgeStatus;

double ms(Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

class BridgeReconnect : public ::testing::Test {
protected:
    // Sync mode: an asynchronous jackd2 lets a late client read its MIDI input in the next
    // cycle, stamping the note one period late (one edge here fired 5341769 ns off: one
    // 256-frame period at 48 kHz, with its time taken from its own cycle's line).
    TestServer server{ServerOptions{.sync = true}};
    TempDir dir{"bridge-reconnect"};
    std::string link = dir.path() + "/ttyLockstep";
    std::uint16_t port = free_udp_port();
    std::string name = "bridge-" + std::to_string(port);
    OscPeer peer{port};
    std::unique_ptr<OscPeer> subscriber;
    std::unique_ptr<ChildProcess> bridge;
    std::unique_ptr<ChildProcess> sim;
    std::string sim_log;
    int sims = 0;
    std::unique_ptr<Probe> probe;
    std::vector<double> reconnect_ms;

    void SetUp() override {
        // The probe is a JACK client in this process: it must load this backend's libjack
        // and find this server (PipeWire ignores the name without the runtime dir).
        server.use_in_this_process();
        auto env = server.child_env();
        if (const char* l = std::getenv("LOCKSTEP_LOG")) {
            env.push_back(std::string("LOCKSTEP_LOG=") + l);
        }
        bridge = std::make_unique<ChildProcess>(
            std::vector<std::string>{bridge_binary(), "-s", server.name(), "-n", name, "--osc",
                                     std::to_string(port), "--device", link, "--lead", "100"},
            env);
    }

    void TearDown() override {
        probe.reset();
        if (sim) {
            sim->terminate();
        }
        if (bridge && bridge->running()) {
            bridge->terminate();
        }
    }

    // Starts a sim on `link`; returns the CLOCK_MONOTONIC time at which its ready line was
    // seen (polled every 1 ms, so at most about 1 ms after it was printed).
    Clock::time_point start_sim(std::optional<std::uint32_t> boot_id) {
        sim_log = dir.path() + "/edges-" + std::to_string(sims++) + ".log";
        std::vector<std::string> args{"--log", sim_log, "--skew-ppm", "150"};
        if (boot_id) {
            args.push_back("--boot-id");
            args.push_back(std::to_string(*boot_id));
        }
        sim = start_fwsim(link, args);
        return Clock::now();
    }

    ::testing::AssertionResult bridge_ready() {
        const auto deadline = Clock::now() + generous;
        while (Clock::now() < deadline) {
            if (!bridge->running()) {
                return ::testing::AssertionFailure() << "exited: " << bridge->output();
            }
            peer.send(Message("/ping"));
            if (peer.receive_path("/pong", 200ms)) {
                return ::testing::AssertionSuccess();
            }
        }
        return ::testing::AssertionFailure() << "no /pong: " << bridge->output();
    }

    std::optional<Status> status() {
        peer.send(Message("/bridge/status"));
        const auto m = peer.receive_path("/bridge/status", 1000ms);
        return m ? parse_bridge_status(*m) : std::nullopt;
    }

    bool wait_status(const std::function<bool(const Status&)>& cond) {
        return wait_until(
            [&] {
                const auto s = status();
                return s && cond(*s);
            },
            generous);
    }

    // Drops pushes that are already queued, so that the next wait sees only new ones.
    void drain_pushes() {
        while (subscriber->receive(0ms)) {
        }
    }

    // Waits for a pushed /bridge/status that `cond` accepts; returns when it was received.
    std::optional<Clock::time_point> wait_push(const std::function<bool(const Status&)>& cond) {
        const auto m = subscriber->receive_until(
            [&](const Message& msg) {
                const auto s = parse_bridge_status(msg);
                return s && cond(*s);
            },
            generous);
        if (!m) {
            return std::nullopt;
        }
        return Clock::now();
    }

    // Measures from `from` (the sim ready, or the signal sent) to the push that says locked
    // with boot id `boot` (any boot id but `not_boot` when `boot` is 0).
    void expect_locked_within_1s(const char* what, Clock::time_point from, std::int64_t boot,
                                 std::int64_t not_boot = -1) {
        const auto at = wait_push([&](const Status& s) {
            return s.state == "locked" && (boot != 0 ? s.boot_id == boot : s.boot_id != not_boot);
        });
        ASSERT_TRUE(at) << what << ": not locked again: " << bridge->output();
        const double took = ms(*at - from);
        reconnect_ms.push_back(took);
        std::printf("%s: locked again %.1f ms after the sim was ready\n", what, took);
        EXPECT_LE(took, 1000.0) << what;
    }

    using Counters = BridgeCounters;
    std::optional<Counters> counters() { return query_bridge_counters(peer); }

    // Plays notes 36-39 half a second ahead, 100 ms apart. Every note must be accounted for:
    // not sent (counted by the bridge), or sent and then either fired by the box -- an edge in
    // the sim's log within bound_ns of its frame time + lead -- or counted by the box as not
    // fired (its stats reply, relayed by the bridge). No other edge may appear.
    // Sets `fired_out` to the edges fired (0 when a failed assertion ended it early).
    void play_once(const char* what, std::int64_t& fired_out) {
        fired_out = 0;
        const auto before = counters();
        ASSERT_TRUE(before);
        const std::size_t edges_before = read_edges(sim_log).size();
        CycleTiming t;
        ASSERT_TRUE(probe->client().timing(t));
        const Frame first = t.frame + t.rate / 2;
        std::vector<Frame> frames;
        for (std::uint8_t k = 0; k < 4; ++k) {
            const Frame f = first + Frame{k} * t.rate / 10;
            frames.push_back(f);
            ASSERT_TRUE(probe->schedule(f, {0x99, static_cast<std::uint8_t>(36 + k), 100}));
        }
        // Each frame's time on JACK's clock, by the line of the cycle that contains it, as the
        // bridge computes it. One later cycle's line for all four would extrapolate its period
        // estimate back over 300 ms: on a loaded machine that alone was up to 0.9 ms off.
        std::vector<std::int64_t> due(frames.size(), 0);
        std::vector<bool> exact(frames.size(), false);
        std::size_t timed = 0;
        const auto deadline = Clock::now() + generous;
        while (timed < frames.size() && Clock::now() < deadline) {
            if (probe->client().timing(t)) {
                for (std::size_t i = 0; i < frames.size(); ++i) {
                    if (due[i] == 0 && frames[i] < t.frame + t.nframes) {
                        // A cycle missed by this poll (the test thread woke late) leaves the
                        // next one's line: counted and printed, rare.
                        exact[i] = frames[i] >= t.frame;
                        due[i] = bridge::host_ns_at_frame(t, frames[i]) + lead_ns;
                        ++timed;
                    }
                }
            }
            std::this_thread::sleep_for(200us); // well inside a period: every cycle is seen
        }
        ASSERT_EQ(timed, frames.size()) << what << ": the notes' cycles did not come";
        const auto inexact = std::count(exact.begin(), exact.end(), false);
        // The bridge has handled all four, and the box has reported on every one it was sent
        // (its stats come about once a second).
        Counters c;
        ASSERT_TRUE(wait_until(
            [&] {
                const auto now = counters();
                if (!now) {
                    return false;
                }
                c = *now;
                const std::int64_t sent = c.sent - before->sent;
                return sent + c.not_sent - before->not_sent == 4 &&
                       c.box_fired - before->box_fired + c.box_not_fired - before->box_not_fired ==
                           sent;
            },
            generous))
            << what << ": not all notes accounted for: " << bridge->output();
        const std::int64_t sent = c.sent - before->sent;
        const std::int64_t fired = c.box_fired - before->box_fired;
        // The box's stats are sent after its log line is written: all fired edges are in.
        const auto edges = read_edges(sim_log);
        std::int64_t worst = 0;
        for (std::size_t i = edges_before; i < edges.size(); ++i) {
            const Edge& e = edges[i];
            ASSERT_GE(e.output, 1U);
            ASSERT_LE(e.output, 4U);
            const std::int64_t error = e.raw_ns - due[e.output - 1];
            const bool own_line = exact[e.output - 1];
            std::printf("%s: edge %u %lld ns at raw %lld%s\n", what, e.output,
                        static_cast<long long>(error), static_cast<long long>(e.raw_ns),
                        own_line ? "" : " (its time from a later cycle's line)");
            if (own_line) {
                EXPECT_LE(std::llabs(error), bound_ns)
                    << what << ": output " << e.output << " fired " << error << " ns off its time";
            } else {
                // The test thread missed the note's cycle: its time comes from a later cycle's
                // line, extrapolated back, which on a loaded host with the dummy driver's
                // jittery wake-ups can itself be off (1.35 ms once, under load 4.4). Such an
                // edge is held to a loose bound, far inside the notes' 100 ms spacing.
                EXPECT_LE(std::llabs(error), loose_bound_ns)
                    << what << ": output " << e.output << " fired " << error
                    << " ns off a later cycle's line";
            }
            worst = std::max<std::int64_t>(worst, std::llabs(error));
        }
        EXPECT_EQ(static_cast<std::int64_t>(edges.size() - edges_before), fired)
            << what << ": every edge is a trigger the box counts as fired";
        std::printf("%s: %lld edges, worst %lld ns off (%lld timed by a later cycle); not sent "
                    "%lld, sent but not fired %lld\n",
                    what, static_cast<long long>(fired), static_cast<long long>(worst),
                    static_cast<long long>(inexact),
                    static_cast<long long>(c.not_sent - before->not_sent),
                    static_cast<long long>(sent - fired));
        fired_out = fired;
    }

    // Triggers must resume: at least one of the four notes fires. When none did, because the
    // host woke the sim's timer or the bridge too late for all four (each counted, none fired
    // at a wrong time), the round is played again, up to 3 times: such a round says nothing
    // about the link.
    void play_and_check(const char* what) {
        for (int round = 1; round <= 3; ++round) {
            std::int64_t fired = 0;
            play_once(what, fired);
            if (fired > 0 || ::testing::Test::HasFailure()) {
                return;
            }
            std::printf("%s: round %d disturbed by the host: no note fired, all counted\n", what,
                        round);
        }
        ADD_FAILURE() << what << ": triggers did not resume in 3 rounds";
    }
};

TEST_F(BridgeReconnect, SurvivesReplugRebootAndGarbageAndResumes) {
    start_sim(0x1001);
    ASSERT_TRUE(bridge_ready());
    subscriber = std::make_unique<OscPeer>(port);
    subscriber->send(Message("/subscribe"));
    ASSERT_TRUE(wait_status([](const Status& s) { return s.state == "locked"; }))
        << bridge->output();

    auto po = probe_options(server, name + "-probe");
    po.midi_in = false;
    po.connections = {{"out", name + ":in"}};
    probe = std::make_unique<Probe>(po);
    ASSERT_TRUE(start_and_run(*probe));
    ASSERT_TRUE(
        wait_until([&] { return probe->client().connected("out", name + ":in"); }, generous));
    play_and_check("first connect");

    // Unplug (SIGKILL: the port's other side vanishes, the link stays behind dangling) and
    // replug on the same path.
    drain_pushes();
    sim->signal(SIGKILL);
    ASSERT_GE(sim->wait(generous), 0);
    ASSERT_TRUE(wait_push([](const Status& s) { return s.state != "locked"; })) << bridge->output();
    drain_pushes();
    const auto ready = start_sim(0x1002);
    expect_locked_within_1s("replug", ready, 0x1002);
    play_and_check("replug");

    // Reboot: a new (random) boot id, the device clock from 0 again.
    drain_pushes();
    const auto reboot = Clock::now();
    sim->signal(SIGHUP);
    expect_locked_within_1s("reboot", reboot, 0, 0x1002);
    play_and_check("reboot");

    // Garbage: counted; the link is (or is again) locked.
    const auto g = status();
    ASSERT_TRUE(g);
    drain_pushes();
    const auto sprayed = Clock::now();
    sim->signal(SIGUSR1);
    ASSERT_TRUE(wait_until(
        [&] {
            const auto s = status();
            return s && s->garbage > g->garbage && s->state == "locked";
        },
        generous))
        << bridge->output();
    const double took = ms(Clock::now() - sprayed);
    reconnect_ms.push_back(took);
    std::printf("garbage: counted and locked %.1f ms after the spray\n", took);
    EXPECT_LE(took, 1000.0);
    play_and_check("garbage");

    const auto end = status();
    ASSERT_TRUE(end);
    EXPECT_GE(end->reconnects, 1);
    probe.reset();
    EXPECT_EQ(bridge->terminate(), 0) << bridge->output();
    if (std::getenv("LOCKSTEP_LOG") != nullptr) {
        std::printf("%s\n", bridge->output().c_str());
    }
    EXPECT_EQ(sim->terminate(), 0) << sim->output();
}

} // namespace
} // namespace lockstep::test
