// lockstep-seq as a program on a private JACK server: it starts, answers /ping and /query,
// survives garbage, keeps a corrupt state file aside, and saves its state on SIGTERM.
// Readiness is always polled (/ping until /pong), never slept for.
#include "harness/osc_peer.hpp"
#include "harness/process.hpp"
#include "harness/server.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace lockstep::test {
namespace {

using namespace std::chrono_literals;
using osc::Arg;
using osc::Message;

constexpr auto generous = 20s;

std::string seq_binary() {
    return built("clients/seq/lockstep-seq");
}

class Seq {
public:
    // `headless`: started the way a bare service manager might start it: stdin closed (not
    // even /dev/null), no DISPLAY, no XDG session.
    Seq(const TestServer& server, const std::string& state, std::vector<std::string> extra = {},
        bool headless = false)
        : port_(free_udp_port()), peer_(port_) {
        std::vector<std::string> argv{seq_binary(),
                                      "-s",
                                      server.name(),
                                      "-n",
                                      "seq-" + std::to_string(port_),
                                      "--osc",
                                      std::to_string(port_)};
        if (!state.empty()) {
            argv.push_back("--state");
            argv.push_back(state);
        }
        argv.insert(argv.end(), extra.begin(), extra.end());
        std::vector<std::string> env = server.child_env();
        if (headless) {
            argv.insert(argv.begin(), {"/bin/sh", "-c", "exec 0<&-; exec \"$@\"", "sh"});
            env.insert(env.end(), {"DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_ID"});
        }
        proc_ = std::make_unique<ChildProcess>(argv, env);
    }

    // Polls /ping until /pong (the program binds OSC before JACK is active, and answers
    // in its main loop once both are up).
    ::testing::AssertionResult ready() {
        const auto deadline = std::chrono::steady_clock::now() + generous;
        while (std::chrono::steady_clock::now() < deadline) {
            if (!proc_->running()) {
                return ::testing::AssertionFailure() << "exited: " << proc_->output();
            }
            peer_.send(Message("/ping"));
            if (peer_.receive_path("/pong", 200ms)) {
                return ::testing::AssertionSuccess();
            }
        }
        return ::testing::AssertionFailure() << "no /pong: " << proc_->output();
    }

    // Sends `m`, then /ping; everything that came back before the /pong.
    std::vector<Message> exchange(const Message& m) {
        peer_.send(m);
        return until_pong();
    }
    std::vector<Message> until_pong() {
        auto got = peer_.ping_and_collect(generous);
        if (!got) {
            ADD_FAILURE() << "no /pong";
            return {};
        }
        return std::move(*got);
    }
    std::vector<Message> query() { return exchange(Message("/query")); }

    OscPeer& peer() { return peer_; }
    ChildProcess& proc() { return *proc_; }

private:
    std::uint16_t port_;
    OscPeer peer_;
    std::unique_ptr<ChildProcess> proc_;
};

bool contains(const std::vector<Message>& all, const Message& want) {
    return std::find(all.begin(), all.end(), want) != all.end();
}

std::string dump(const std::vector<Message>& all) {
    std::string s;
    for (const auto& m : all) {
        s += osc::to_string(m) + "\n";
    }
    return s;
}

// No terminal, no display, stdin closed: it runs, plays and stops cleanly on SIGTERM.
TEST(SeqService, RunsHeadlessWithStdinClosed) {
    TestServer server;
    Seq seq(server, "", {"--demo"}, /*headless=*/true);
    ASSERT_TRUE(seq.ready());
    seq.exchange(Message("/seq/play"));
    // The engine picks the play up in its next cycle: poll /query until it says so.
    std::vector<Message> q;
    const auto deadline = std::chrono::steady_clock::now() + generous;
    while (std::chrono::steady_clock::now() < deadline && !contains(q, Message("/seq/play"))) {
        q = seq.query();
    }
    EXPECT_TRUE(contains(q, Message("/seq/play"))) << dump(q);
    EXPECT_EQ(seq.proc().terminate(), 0) << seq.proc().output();
}

TEST(SeqService, StartsAnswersPingAndQuery) {
    TestServer server;
    Seq seq(server, "");
    ASSERT_TRUE(seq.ready());
    const auto q = seq.query();
    EXPECT_TRUE(contains(q, Message("/seq/stop"))) << dump(q);
    EXPECT_TRUE(contains(q, Message("/seq/tracks", {Arg::int32(8)}))) << dump(q);
    EXPECT_TRUE(contains(q, Message("/seq/tempo/exact", {Arg::string("120")}))) << dump(q);
    EXPECT_TRUE(
        contains(q, Message("/seq/track/note", {Arg::int32(0), Arg::int32(0), Arg::int32(36)})))
        << dump(q);
    // Its ports, in engine.hpp's order, exist on the server.
    ChildProcess lsp({"jack_lsp", "-s", server.name()}, server.child_env());
    ASSERT_EQ(lsp.wait(generous), 0) << lsp.output();
    const std::string ports = lsp.output();
    for (const char* p : {":out", ":clock", ":sync"}) {
        EXPECT_NE(ports.find(p), std::string::npos) << p << " in " << ports;
    }
    EXPECT_EQ(seq.proc().terminate(), 0) << seq.proc().output();
}

TEST(SeqService, GarbageDoesNotCrashIt) {
    TestServer server;
    Seq seq(server, "");
    ASSERT_TRUE(seq.ready());
    // Well-formed but wrong (first: /error replies are limited to 200 per second).
    auto got = seq.exchange(Message("/seq/step", {Arg::int32(0), Arg::int32(0), Arg::int32(9)}));
    EXPECT_TRUE(std::any_of(got.begin(), got.end(), [](const Message& m) {
        return m.path == "/error";
    })) << dump(got);
    got = seq.exchange(Message("/seq/tempo", {Arg::string("1/0")}));
    EXPECT_TRUE(std::any_of(got.begin(), got.end(), [](const Message& m) {
        return m.path == "/error";
    })) << dump(got);
    std::mt19937 rng(1234);
    for (int n = 0; n < 300; ++n) {
        std::vector<std::uint8_t> bytes(static_cast<std::size_t>(rng() % 128));
        for (auto& b : bytes) {
            b = static_cast<std::uint8_t>(rng());
        }
        if (n % 3 == 0 && bytes.size() >= 8) { // looks like an OSC message
            std::copy_n("/seq/st\0", 8, bytes.begin());
        }
        seq.peer().send_bytes(bytes);
        if (n % 20 == 19) { // read the /error replies before our socket's buffer overflows
            seq.until_pong();
        }
    }
    // Still serving: an edit after the flood works.
    seq.exchange(Message("/seq/step", {Arg::int32(3), Arg::int32(4), Arg::int32(1)}));
    const auto q = seq.query();
    EXPECT_TRUE(contains(
        q, Message("/seq/step", {Arg::int32(0), Arg::int32(3), Arg::int32(4), Arg::int32(1)})))
        << dump(q);
    EXPECT_TRUE(seq.proc().running());
    EXPECT_EQ(seq.proc().terminate(), 0) << seq.proc().output();
}

TEST(SeqService, CorruptStateIsKeptAsideAndDefaultsUsed) {
    TestServer server;
    TempDir dir;
    const std::string state = dir.path() + "/seq.json";
    {
        std::ofstream out(state);
        out << "{\"format\": \"lockstep-seq\", \"version\": 1, \"data\": {\"track_count\": 99";
    }
    Seq seq(server, state);
    ASSERT_TRUE(seq.ready());
    EXPECT_TRUE(std::filesystem::exists(state + ".bad"));
    const auto q = seq.query();
    EXPECT_TRUE(contains(q, Message("/seq/tracks", {Arg::int32(8)}))) << dump(q);
    EXPECT_TRUE(seq.proc().wait_for_output(".bad", generous)) << seq.proc().output();
    EXPECT_EQ(seq.proc().terminate(), 0) << seq.proc().output();
}

TEST(SeqService, SigtermSavesTheStateAndARestartRestoresIt) {
    TestServer server;
    TempDir dir;
    const std::string state = dir.path() + "/seq.json";
    {
        Seq seq(server, state);
        ASSERT_TRUE(seq.ready());
        seq.exchange(Message("/seq/step", {Arg::int32(1), Arg::int32(2), Arg::int32(1)}));
        seq.exchange(Message("/seq/tempo", {Arg::string("1000/7")}));
        seq.exchange(Message("/seq/chain/set", {Arg::int32(0), Arg::int32(5), Arg::int32(3)}));
        // At once, before the debounced save could run: SIGTERM must save.
        EXPECT_EQ(seq.proc().terminate(), 0) << seq.proc().output();
    }
    ASSERT_TRUE(std::filesystem::exists(state));
    Seq again(server, state);
    ASSERT_TRUE(again.ready());
    const auto q = again.query();
    EXPECT_TRUE(contains(
        q, Message("/seq/step", {Arg::int32(0), Arg::int32(1), Arg::int32(2), Arg::int32(1)})))
        << dump(q);
    EXPECT_TRUE(contains(q, Message("/seq/tempo/exact", {Arg::string("1000/7")}))) << dump(q);
    EXPECT_TRUE(
        contains(q, Message("/seq/chain/set", {Arg::int32(0), Arg::int32(5), Arg::int32(3)})))
        << dump(q);
    EXPECT_EQ(again.proc().terminate(), 0) << again.proc().output();
}

TEST(SeqService, DemoBeatWhenThereIsNoState) {
    TestServer server;
    Seq seq(server, "", {"--demo"});
    ASSERT_TRUE(seq.ready());
    const auto q = seq.query();
    EXPECT_TRUE(contains(
        q, Message("/seq/step", {Arg::int32(0), Arg::int32(0), Arg::int32(0), Arg::int32(1)})))
        << dump(q);
    EXPECT_EQ(seq.proc().terminate(), 0) << seq.proc().output();
}

TEST(SeqService, UsageErrorsExitWith2) {
    ChildProcess p({seq_binary(), "--tempo", "1000"});
    EXPECT_EQ(p.wait(generous), 2);
    EXPECT_NE(p.output().find("tempo out of range"), std::string::npos) << p.output();
}

} // namespace
} // namespace lockstep::test
