// Every lockstep client under a session manager (NSM API 1.1; docs/operations.md "Under a
// session manager"), against a stand-in NSM server (nsmd is not packaged in Debian 12): it
// announces itself, opens its JACK client only after /nsm/client/open and names it with
// the client id, keeps its state at the session path, saves when asked (and only then),
// and says when it has unsaved changes. Waits poll; nothing sleeps.
#include "harness/nsm_stand_in.hpp"
#include "harness/osc_peer.hpp"
#include "harness/process.hpp"
#include "harness/server.hpp"

#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace lockstep::test {
namespace {

using namespace std::chrono_literals;
using osc::Arg;
using osc::Message;

constexpr auto generous = 20s;

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// The server's JACK ports, one per line (jack_lsp).
std::string jack_ports(const TestServer& server) {
    ChildProcess lsp({"jack_lsp", "-s", server.name()}, server.child_env());
    lsp.wait(generous);
    return lsp.output();
}

// A lockstep client started with NSM_URL pointing at its own stand-in server.
class UnderNsm {
public:
    // `with_osc` false: no --osc, as nsmd starts a client (no arguments at all).
    UnderNsm(const TestServer& server, const std::string& binary,
             std::vector<std::string> extra = {}, bool with_osc = true)
        : server_(server), osc_port_(free_udp_port()), peer_(osc_port_) {
        std::vector<std::string> argv{built(binary), "-s", server.name()};
        if (with_osc) {
            argv.insert(argv.end(), {"--osc", std::to_string(osc_port_)});
        }
        argv.insert(argv.end(), extra.begin(), extra.end());
        std::vector<std::string> env = server.child_env();
        env.push_back("NSM_URL=" + nsm_.url());
        proc_ = std::make_unique<ChildProcess>(argv, env);
    }

    // The handshake as nsmd makes it: the announce, its reply, the open, the client's
    // answer. `announce` gets the client's announce.
    ::testing::AssertionResult open(const std::string& path, const std::string& id,
                                    Message* announce = nullptr) {
        const auto a = nsm_.receive("/nsm/server/announce", generous);
        if (!a) {
            return ::testing::AssertionFailure() << "no announce: " << proc_->output();
        }
        if (announce != nullptr) {
            *announce = *a;
        }
        // Nothing in JACK before the open.
        if (const std::string ports = jack_ports(server_);
            a->types() == "sssiii" && ports.find(a->args[0].s() + ":") != std::string::npos) {
            return ::testing::AssertionFailure() << "in JACK before the open:\n" << ports;
        }
        nsm_.send(Message("/reply", {Arg::string("/nsm/server/announce"), Arg::string("hello"),
                                     Arg::string("stand-in"), Arg::string(":server-control:")}));
        nsm_.send(Message("/nsm/client/open",
                          {Arg::string(path), Arg::string("display"), Arg::string(id)}));
        const auto r = nsm_.receive_answer("/nsm/client/open", generous);
        if (!r || r->path != "/reply") {
            return ::testing::AssertionFailure()
                   << "open not answered with /reply: " << (r ? osc::to_string(*r) : "nothing")
                   << "\n"
                   << proc_->output();
        }
        return ::testing::AssertionSuccess();
    }

    // Polls /ping until /pong.
    ::testing::AssertionResult osc_ready() {
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

    // /nsm/client/save, and the client's answer.
    std::string save() {
        nsm_.send(Message("/nsm/client/save"));
        const auto r = nsm_.receive_answer("/nsm/client/save", generous);
        return r ? osc::to_string(*r) : "no answer";
    }

    NsmStandIn& nsm() { return nsm_; }
    OscPeer& peer() { return peer_; }
    ChildProcess& proc() { return *proc_; }

private:
    const TestServer& server_;
    NsmStandIn nsm_;
    std::uint16_t osc_port_;
    OscPeer peer_;
    std::unique_ptr<ChildProcess> proc_;
};

TEST(NsmSession, SeqSavesWhenAskedSaysWhenDirtyAndReopens) {
    TestServer server;
    TempDir session("nsm-session");
    const std::string path = session.path() + "/lockstep-seq.nTEST";
    const std::string id = "lockstep-seq.nTEST";
    {
        UnderNsm seq(server, "clients/seq/lockstep-seq");
        Message announce;
        ASSERT_TRUE(seq.open(path, id, &announce));
        ASSERT_EQ(announce.types(), "sssiii");
        EXPECT_EQ(announce.args[0].s(), "lockstep-seq"); // its JACK name outside a session
        EXPECT_EQ(announce.args[1].s(), ":dirty:");
        EXPECT_EQ(announce.args[2].s(), built("clients/seq/lockstep-seq"));
        EXPECT_EQ(announce.args[5].i(), seq.proc().pid());
        ASSERT_TRUE(seq.osc_ready());
        EXPECT_NE(jack_ports(server).find(id + ":out"), std::string::npos) << jack_ports(server);

        // A change: dirty. Saved when asked: clean, and the file holds it.
        ASSERT_TRUE(seq.peer().send(Message("/seq/tempo", {Arg::float32(128)})));
        ASSERT_TRUE(seq.nsm().receive("/nsm/client/is_dirty", generous)) << seq.proc().output();
        EXPECT_FALSE(std::filesystem::exists(path + ".json")); // no save of its own
        EXPECT_EQ(seq.save(), "/reply ,ss \"/nsm/client/save\" \"saved\"");
        ASSERT_TRUE(seq.nsm().receive("/nsm/client/is_clean", generous));
        ASSERT_TRUE(std::filesystem::exists(path + ".json"));
        const std::string saved = read_file(path + ".json");
        EXPECT_NE(saved.find("128"), std::string::npos) << saved;

        // Another change, then the session quits it (SIGTERM): not saved, as NSM asks.
        ASSERT_TRUE(seq.peer().send(Message("/seq/tempo", {Arg::float32(140)})));
        ASSERT_TRUE(seq.nsm().receive("/nsm/client/is_dirty", generous));
        EXPECT_EQ(seq.proc().terminate(), 0) << seq.proc().output();
        EXPECT_EQ(read_file(path + ".json"), saved);
    }
    // The session opened again: the saved state comes back.
    UnderNsm seq(server, "clients/seq/lockstep-seq");
    ASSERT_TRUE(seq.open(path, id));
    ASSERT_TRUE(seq.osc_ready());
    ASSERT_TRUE(seq.peer().send(Message("/query")));
    const auto tempo = seq.peer().receive_path("/seq/tempo", generous);
    ASSERT_TRUE(tempo);
    EXPECT_FLOAT_EQ(tempo->args[0].f(), 128.0F);
}

TEST(NsmSession, SamplerSavesItsSettingsInTheSession) {
    TestServer server;
    TempDir session("nsm-session");
    const std::string path = session.path() + "/lockstep-sampler.nS";
    UnderNsm sampler(server, "clients/sampler/lockstep-sampler");
    ASSERT_TRUE(sampler.open(path, "lockstep-sampler.nS"));
    ASSERT_TRUE(sampler.osc_ready());
    EXPECT_NE(jack_ports(server).find("lockstep-sampler.nS:out_L"), std::string::npos);
    // Once what the session held is loaded, a change is dirty; a save is clean.
    std::string answer;
    ASSERT_TRUE(wait_until(
        [&] {
            answer = sampler.save(); // refused while the state is still being restored
            return answer == "/reply ,ss \"/nsm/client/save\" \"saved\"";
        },
        generous))
        << answer;
    ASSERT_TRUE(sampler.peer().send(Message("/sampler/gain", {Arg::int32(3), Arg::float32(-6)})));
    ASSERT_TRUE(sampler.nsm().receive("/nsm/client/is_dirty", generous)) << sampler.proc().output();
    EXPECT_EQ(sampler.save(), "/reply ,ss \"/nsm/client/save\" \"saved\"");
    ASSERT_TRUE(sampler.nsm().receive("/nsm/client/is_clean", generous));
    EXPECT_NE(read_file(path + ".json").find("-6"), std::string::npos) << read_file(path + ".json");
    EXPECT_EQ(sampler.proc().terminate(), 0) << sampler.proc().output();
}

TEST(NsmSession, CaptureRecordsIntoTheSessionDirectory) {
    TestServer server;
    TempDir session("nsm-session");
    const std::string path = session.path() + "/lockstep-capture.nC";
    UnderNsm capture(server, "clients/capture/lockstep-capture", {"--channels", "2"});
    Message announce;
    ASSERT_TRUE(capture.open(path, "lockstep-capture.nC", &announce));
    EXPECT_EQ(announce.args[1].s(), ""); // nothing unsaved, ever: no :dirty:
    ASSERT_TRUE(capture.osc_ready());
    EXPECT_TRUE(std::filesystem::is_directory(path));
    EXPECT_NE(jack_ports(server).find("lockstep-capture.nC:in_1"), std::string::npos);
    ASSERT_TRUE(capture.peer().send(Message("/capture/start")));
    ASSERT_TRUE(capture.proc().wait_for_output("starts at frame", generous))
        << capture.proc().output();
    ASSERT_TRUE(capture.peer().send(Message("/capture/stop")));
    ASSERT_TRUE(capture.proc().wait_for_output("frames from frame", generous))
        << capture.proc().output();
    int takes = 0;
    for (const auto& e : std::filesystem::directory_iterator(path)) {
        takes += e.path().extension() == ".wav" ? 1 : 0;
    }
    EXPECT_EQ(takes, 1);
    EXPECT_EQ(capture.save(), "/reply ,ss \"/nsm/client/save\" \"saved\"");
    EXPECT_EQ(capture.proc().terminate(), 0) << capture.proc().output();
}

TEST(NsmSession, BridgeTakesItsJackNameFromTheSession) {
    TestServer server;
    TempDir session("nsm-session");
    UnderNsm bridge(server, "clients/bridge/lockstep-bridge",
                    {"--device", session.path() + "/no-such-device"});
    ASSERT_TRUE(bridge.open(session.path() + "/lockstep-bridge.nB", "lockstep-bridge.nB"));
    ASSERT_TRUE(bridge.osc_ready());
    EXPECT_NE(jack_ports(server).find("lockstep-bridge.nB:in"), std::string::npos);
    EXPECT_EQ(bridge.save(), "/reply ,ss \"/nsm/client/save\" \"saved\"");
    EXPECT_EQ(bridge.proc().terminate(), 0) << bridge.proc().output();
}

TEST(NsmSession, SigtermBeforeTheOpenEndsItAtOnce) {
    TestServer server;
    TempDir session("nsm-session");
    UnderNsm seq(server, "clients/seq/lockstep-seq");
    ASSERT_TRUE(seq.nsm().receive("/nsm/server/announce", generous)) << seq.proc().output();
    seq.proc().signal(SIGTERM);
    EXPECT_EQ(seq.proc().wait(generous), 0) << seq.proc().output();
    EXPECT_NE(seq.proc().output().find("stopped while waiting for the session manager's open"),
              std::string::npos)
        << seq.proc().output();
    EXPECT_EQ(jack_ports(server).find("lockstep-seq"), std::string::npos);
}

TEST(NsmSession, TwoInstancesWithoutOscOptionsBothRun) {
    // nsmd starts every client without arguments: the second instance finds the default
    // OSC port taken and listens on a free one.
    TestServer server;
    TempDir session("nsm-session");
    UnderNsm first(server, "clients/seq/lockstep-seq", {}, false);
    ASSERT_TRUE(first.open(session.path() + "/lockstep-seq.nA", "lockstep-seq.nA"));
    UnderNsm second(server, "clients/seq/lockstep-seq", {}, false);
    ASSERT_TRUE(second.open(session.path() + "/lockstep-seq.nB", "lockstep-seq.nB"));
    ASSERT_TRUE(second.proc().wait_for_output("listening on a free port instead", generous))
        << second.proc().output();
    const std::string ports = jack_ports(server);
    EXPECT_NE(ports.find("lockstep-seq.nA:out"), std::string::npos) << ports;
    EXPECT_NE(ports.find("lockstep-seq.nB:out"), std::string::npos) << ports;
    EXPECT_TRUE(first.proc().running());
    EXPECT_TRUE(second.proc().running());
    EXPECT_EQ(second.proc().terminate(), 0) << second.proc().output();
    EXPECT_EQ(first.proc().terminate(), 0) << first.proc().output();
}

TEST(NsmSession, AnUnusableNsmUrlMeansNoSessionManagement) {
    TestServer server;
    const std::uint16_t port = free_udp_port();
    ChildProcess seq({built("clients/seq/lockstep-seq"), "-s", server.name(), "-n", "plain-seq",
                      "--osc", std::to_string(port)},
                     [&] {
                         auto env = server.child_env();
                         env.push_back("NSM_URL=osc.tcp://127.0.0.1:1/");
                         return env;
                     }());
    ASSERT_TRUE(seq.wait_for_output("running without session management", generous))
        << seq.output();
    ASSERT_TRUE(seq.wait_for_output("plain-seq active", generous)) << seq.output();
    EXPECT_EQ(seq.terminate(), 0) << seq.output();
}

} // namespace
} // namespace lockstep::test
