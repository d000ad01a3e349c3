// lockstep-ctl drives a whole session on a private JACK server: lockstep-seq plays
// lockstep-sampler, lockstep-capture records it; pattern edits, tempo, play/stop, a take,
// status and query, errors and exit codes, watch. Also: every path in lockstep-ctl's table
// is registered by the running client with exactly the table's signatures (a message with
// types no path takes gets "wrong types: expected ,A or ,B" naming what is registered).
// Readiness is polled (ping), never slept for.
#include "ctl.hpp"

#include "harness/osc_peer.hpp"
#include "harness/process.hpp"
#include "harness/server.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace lockstep::test {
namespace {

using namespace std::chrono_literals;
constexpr auto generous = 30s;

struct Result {
    int code = -1;
    std::string output;
};

// Runs lockstep-ctl against `port` and returns its exit code and output.
Result ctl(std::uint16_t port, std::vector<std::string> words) {
    std::vector<std::string> argv{built("clients/ctl/lockstep-ctl"), "--osc", std::to_string(port),
                                  "--timeout", "5000"};
    argv.insert(argv.end(), words.begin(), words.end());
    ChildProcess p(argv);
    Result r;
    r.code = p.wait(generous);
    r.output = p.output();
    return r;
}

bool has(const Result& r, const std::string& line) {
    return r.output.find(line) != std::string::npos;
}

// Polls `ctl ROLE ping` until it answers (the client is up and listening).
::testing::AssertionResult ready(std::uint16_t port, const std::string& role, ChildProcess& proc) {
    if (wait_until(
            [&] {
                return !proc.running() || ctl(port, {role, "ping"}).code == 0;
            },
            generous) &&
        proc.running()) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << role << " not ready: " << proc.output();
}

// Polls `ctl ROLE WORDS...` until its output holds `line`; returns the last result.
Result poll_for(std::uint16_t port, const std::vector<std::string>& words,
                const std::string& line) {
    Result r;
    wait_until(
        [&] {
            r = ctl(port, words);
            return has(r, line);
        },
        generous);
    return r;
}

struct Rig {
    explicit Rig(const TestServer& server)
        : seq_port(free_udp_port()), sampler_port(free_udp_port()), capture_port(free_udp_port()),
          bridge_port(free_udp_port()) {
        const auto env = server.child_env();
        const std::string seq = "seq-" + std::to_string(seq_port);
        const std::string sampler = "sampler-" + std::to_string(sampler_port);
        const std::string capture = "cap-" + std::to_string(capture_port);
        sampler_proc = std::make_unique<ChildProcess>(
            std::vector<std::string>{built("clients/sampler/lockstep-sampler"), "-s", server.name(),
                                     "-n", sampler, "--osc", std::to_string(sampler_port)},
            env);
        capture_proc = std::make_unique<ChildProcess>(
            std::vector<std::string>{built("clients/capture/lockstep-capture"), "-s", server.name(),
                                     "-n", capture, "--osc", std::to_string(capture_port),
                                     "--channels", "2", "--dir", takes.path(), "--connect",
                                     sampler + ":out_L=" + capture + ":in_1", "--connect",
                                     sampler + ":out_R=" + capture + ":in_2"},
            env);
        seq_proc = std::make_unique<ChildProcess>(
            std::vector<std::string>{built("clients/seq/lockstep-seq"), "-s", server.name(), "-n",
                                     seq, "--osc", std::to_string(seq_port), "--connect",
                                     seq + ":out=" + sampler + ":in"},
            env);
    }
    std::uint16_t seq_port, sampler_port, capture_port, bridge_port;
    TempDir takes{"lockstep-ctl-takes"};
    std::unique_ptr<ChildProcess> sampler_proc, capture_proc, seq_proc;
};

TEST(CtlSession, DrivesSeqSamplerAndCapture) {
    TestServer server;
    Rig rig(server);
    ASSERT_TRUE(ready(rig.seq_port, "seq", *rig.seq_proc));
    ASSERT_TRUE(ready(rig.sampler_port, "sampler", *rig.sampler_proc));
    ASSERT_TRUE(ready(rig.capture_port, "capture", *rig.capture_proc));
    const auto seq = rig.seq_port;
    const auto cap = rig.capture_port;

    // watch: subscribed before the edits, it prints their feedback.
    ChildProcess watch(
        {built("clients/ctl/lockstep-ctl"), "--osc", std::to_string(seq), "watch", "seq"});
    ASSERT_TRUE(watch.wait_for_output("watching", generous)) << watch.output();

    // Pattern edits and tempo.
    for (const std::vector<std::string>& words :
         std::vector<std::vector<std::string>>{{"seq", "tempo", "128"},
                                               {"seq", "step", "0", "4", "on"},
                                               {"seq", "step", "1", "0", "on"},
                                               {"seq", "step", "velocity", "0", "4", "90"},
                                               {"seq", "/seq/pattern/length", "12"},
                                               {"seq", "track", "mute", "3", "on"}}) {
        const Result r = ctl(seq, words);
        EXPECT_EQ(r.code, 0) << words[1] << ": " << r.output;
    }
    Result q = ctl(seq, {"seq", "query"});
    EXPECT_EQ(q.code, 0) << q.output;
    for (const char* line :
         {"/seq/stop", "/seq/tempo 128", "/seq/tempo/exact \"128\"", "/seq/step 0 0 4 1",
          "/seq/step 0 1 0 1", "/seq/step/velocity 0 0 4 90", "/seq/pattern/length 0 12",
          "/seq/track/mute 3 1"}) {
        EXPECT_TRUE(has(q, line)) << line << " in\n" << q.output;
    }
    EXPECT_TRUE(watch.wait_for_output("/seq/tempo 128", generous)) << watch.output();
    EXPECT_TRUE(watch.wait_for_output("/seq/step 0 0 4 1", generous)) << watch.output();

    // The sampler answers when its loader has done the work; a missing file is an /error.
    Result g = ctl(rig.sampler_port, {"sampler", "gain", "36", "-3"});
    EXPECT_EQ(g.code, 0) << g.output;
    EXPECT_TRUE(has(g, "/sampler/gain 36 -3")) << g.output;
    Result bad_load = ctl(rig.sampler_port, {"sampler", "load", "1", "/nonexistent/kick.wav"});
    EXPECT_EQ(bad_load.code, 1) << bad_load.output;
    EXPECT_TRUE(has(bad_load, "lockstep-ctl: sampler: /sampler/load:")) << bad_load.output;

    // Record while the sequencer plays.
    Result r = ctl(cap, {"capture", "start"});
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_TRUE(poll_for(cap, {"capture", "status"}, "/capture/status \"recording\"").code == 0);
    EXPECT_EQ(ctl(seq, {"seq", "play"}).code, 0);
    q = poll_for(seq, {"seq", "query"}, "/seq/position");
    EXPECT_TRUE(has(q, "/seq/play")) << q.output;
    EXPECT_TRUE(watch.wait_for_output("/seq/play", generous)) << watch.output();
    EXPECT_EQ(ctl(seq, {"seq", "stop"}).code, 0);
    q = poll_for(seq, {"seq", "query"}, "/seq/stop");
    EXPECT_FALSE(has(q, "/seq/play")) << q.output;
    EXPECT_EQ(ctl(cap, {"capture", "stop"}).code, 0);
    const Result status = poll_for(cap, {"capture", "status"}, "/capture/status \"idle\"");
    // /capture/status "idle" "TAKE" FRAMES OVERRUNS FILL: the take has a name and frames.
    const auto first = status.output.find("\"idle\" \"");
    ASSERT_NE(first, std::string::npos) << status.output;
    const auto name_at = first + 8;
    const std::string take =
        status.output.substr(name_at, status.output.find('"', name_at) - name_at);
    ASSERT_FALSE(take.empty()) << status.output;
    EXPECT_FALSE(has(status, "\"" + take + "\" 0 ")) << "no frames written: " << status.output;
    bool file = false;
    for (const auto& e : std::filesystem::directory_iterator(rig.takes.path())) {
        file = file || (e.path().stem() == take && std::filesystem::file_size(e.path()) > 44);
    }
    EXPECT_TRUE(file) << take << " not in " << rig.takes.path();

    // Errors and exit codes.
    Result range = ctl(seq, {"seq", "step", "0", "4", "9"});
    EXPECT_EQ(range.code, 1) << range.output;
    EXPECT_TRUE(has(range, "argument 3 out of range [0, 1]: 9")) << range.output;
    EXPECT_TRUE(has(range, "usage: lockstep-ctl seq step")) << range.output;
    Result again = ctl(cap, {"capture", "stop"});
    EXPECT_EQ(again.code, 1) << again.output;
    EXPECT_TRUE(has(again, "not recording")) << again.output;
    Result usage = ctl(seq, {"seq", "tempi", "120"});
    EXPECT_EQ(usage.code, 2) << usage.output;
    EXPECT_TRUE(has(usage, "did you mean 'tempo'")) << usage.output;
    const std::uint16_t nobody = free_udp_port();
    ChildProcess silent({built("clients/ctl/lockstep-ctl"), "--osc", std::to_string(nobody),
                         "--timeout", "300", "seq", "play"});
    EXPECT_EQ(silent.wait(generous), 3) << silent.output();
    EXPECT_NE(silent.output().find(":" + std::to_string(nobody)), std::string::npos)
        << silent.output();

    // watch ends cleanly on SIGTERM (after unsubscribing).
    watch.signal(SIGTERM);
    EXPECT_EQ(watch.wait(generous), 0) << watch.output();
    for (auto* p : {rig.seq_proc.get(), rig.sampler_proc.get(), rig.capture_proc.get()}) {
        EXPECT_EQ(p->terminate(), 0) << p->output();
    }
}

// "wrong types: expected ,iii or ,iiii, got ,N" -> {"iii", "iiii"}.
std::set<std::string> registered(const std::string& reason) {
    std::set<std::string> out;
    const auto from = reason.find("expected ");
    const auto to = reason.rfind(", got ");
    if (from == std::string::npos || to == std::string::npos) {
        return out;
    }
    std::string list = reason.substr(from + 9, to - from - 9) + " or ";
    for (std::size_t start = 0, end; (end = list.find(" or ", start)) != std::string::npos;
         start = end + 4) {
        out.insert(list.substr(start + 1, end - start - 1)); // without the ','
    }
    return out;
}

void expect_table_registered(const ctl::Role& role, std::uint16_t port) {
    OscPeer peer(port);
    ASSERT_TRUE(peer.bound());
    for (const ctl::Command& c : role.commands) {
        peer.send(osc::Message(std::string(c.path), {osc::Arg::nil()}));
        const auto reply = peer.receive_path("/error", generous);
        ASSERT_TRUE(reply) << role.name << " " << c.path;
        const std::string reason = reply->args.at(1).s();
        std::set<std::string> table;
        for (auto sig : c.signatures) {
            table.insert(ctl::osc_types(sig));
        }
        EXPECT_EQ(registered(reason), table) << role.name << " " << c.path << ": " << reason;
    }
}

TEST(CtlSession, TableMatchesWhatTheClientsRegister) {
    TestServer server;
    Rig rig(server);
    ChildProcess bridge({built("clients/bridge/lockstep-bridge"), "-s", server.name(), "-n",
                         "bridge-" + std::to_string(rig.bridge_port), "--osc",
                         std::to_string(rig.bridge_port), "--device", "/nonexistent/tty"},
                        server.child_env());
    ASSERT_TRUE(ready(rig.seq_port, "seq", *rig.seq_proc));
    ASSERT_TRUE(ready(rig.sampler_port, "sampler", *rig.sampler_proc));
    ASSERT_TRUE(ready(rig.capture_port, "capture", *rig.capture_proc));
    ASSERT_TRUE(ready(rig.bridge_port, "bridge", bridge));
    expect_table_registered(*ctl::find_role("seq"), rig.seq_port);
    expect_table_registered(*ctl::find_role("sampler"), rig.sampler_port);
    expect_table_registered(*ctl::find_role("capture"), rig.capture_port);
    expect_table_registered(*ctl::find_role("bridge"), rig.bridge_port);
    EXPECT_EQ(bridge.terminate(), 0) << bridge.output();
}

} // namespace
} // namespace lockstep::test
