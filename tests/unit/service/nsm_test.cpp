// service::nsm against a stand-in NSM server in this process (nsmd is not packaged in
// Debian 12): the announce, the open, save requests and their answers, the dirty flag,
// and every way NSM can be unusable (bad URL, no server, an /error reply, a bad open),
// after which the client runs without session management.
#include "service/nsm.hpp"

#include "harness/nsm_stand_in.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <system_error>
#include <thread>

namespace lockstep::service::nsm {
namespace {

using namespace std::chrono_literals;
using test::NsmStandIn;

constexpr auto generous = 10s;

// The stand-in's part of the handshake: the announce reply, then an open.
void welcome(NsmStandIn& server, const std::string& path, const std::string& id) {
    server.send(osc::Message("/reply",
                             {osc::Arg::string("/nsm/server/announce"), osc::Arg::string("welcome"),
                              osc::Arg::string("stand-in"), osc::Arg::string(":server-control:")}));
    server.send(
        osc::Message("/nsm/client/open",
                     {osc::Arg::string(path), osc::Arg::string("display"), osc::Arg::string(id)}));
}

TEST(Nsm, AnnouncesOpensSavesAndSaysWhenDirty) {
    NsmStandIn server;
    ASSERT_TRUE(server.bound());
    Session s(server.url(), "lockstep-seq", ":dirty:", "/usr/bin/lockstep-seq");
    const auto announce = server.receive("/nsm/server/announce", generous);
    ASSERT_TRUE(announce);
    ASSERT_EQ(announce->types(), "sssiii");
    EXPECT_EQ(announce->args[0].s(), "lockstep-seq");
    EXPECT_EQ(announce->args[1].s(), ":dirty:");
    EXPECT_EQ(announce->args[2].s(), "/usr/bin/lockstep-seq");
    EXPECT_EQ(announce->args[3].i(), 1);
    EXPECT_EQ(announce->args[4].i(), 1);
    EXPECT_EQ(announce->args[5].i(), ::getpid());

    welcome(server, "/tmp/session/lockstep-seq.nABCD", "lockstep-seq.nABCD");
    std::string why;
    const auto open = s.wait_open(generous, why);
    ASSERT_TRUE(open) << why;
    EXPECT_EQ(open->path, "/tmp/session/lockstep-seq.nABCD");
    EXPECT_EQ(open->display_name, "display");
    EXPECT_EQ(open->client_id, "lockstep-seq.nABCD");
    EXPECT_EQ(s.server_name(), "stand-in");

    s.set_dirty(true); // before the open is answered: nothing
    s.opened("ready");
    const auto reply = server.receive_any(generous);
    ASSERT_TRUE(reply);
    EXPECT_EQ(osc::to_string(*reply), "/reply ,ss \"/nsm/client/open\" \"ready\"");

    // dirty and clean only when they change
    s.set_dirty(true);
    s.set_dirty(true);
    s.set_dirty(false);
    s.set_dirty(false);
    s.set_dirty(true);
    for (const char* want :
         {"/nsm/client/is_dirty", "/nsm/client/is_clean", "/nsm/client/is_dirty"}) {
        const auto m = server.receive_any(generous);
        ASSERT_TRUE(m) << want;
        EXPECT_EQ(m->path, want);
    }

    // saves: each answered by serve(), with the save function's verdict
    EXPECT_EQ(s.poll(), Request::none);
    server.send(osc::Message("/nsm/client/save"));
    server.send(osc::Message("/nsm/client/session_is_loaded"));
    server.send(osc::Message("/nsm/client/save"));
    int saves = 0;
    const auto drain_until = std::chrono::steady_clock::now() + generous;
    while (saves < 2 && std::chrono::steady_clock::now() < drain_until) {
        serve(
            s,
            [&] {
                ++saves;
                return saves == 1 ? std::string() : std::string("disk full");
            },
            [] { return false; });
    }
    ASSERT_EQ(saves, 2);
    // The answers in order; is_clean once, after the first serve() (wherever it falls).
    std::vector<std::string> got;
    for (int i = 0; i < 3; ++i) {
        const auto m = server.receive_any(generous);
        ASSERT_TRUE(m) << i;
        got.push_back(osc::to_string(*m));
    }
    std::erase(got, "/nsm/client/is_clean ,");
    ASSERT_EQ(got.size(), 2U) << "no is_clean";
    EXPECT_EQ(got[0], "/reply ,ss \"/nsm/client/save\" \"saved\"");
    EXPECT_EQ(got[1], "/error ,sis \"/nsm/client/save\" -1 \"disk full\"");

    // a second open (the client has no :switch:) is refused, and changes nothing
    server.send(osc::Message("/nsm/client/open", {osc::Arg::string("/tmp/other"),
                                                  osc::Arg::string("d"), osc::Arg::string("x")}));
    std::optional<osc::Message> refused;
    for (const auto until = std::chrono::steady_clock::now() + generous;
         !refused && std::chrono::steady_clock::now() < until;) {
        EXPECT_EQ(s.poll(), Request::none);
        refused = server.receive_any(5ms);
    }
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->path, "/error");
    EXPECT_EQ(refused->args[0].s(), "/nsm/client/open");
    EXPECT_EQ(refused->args[1].i(), -8);
}

TEST(Nsm, WithoutTheDirtyCapabilityNoDirtyMessages) {
    NsmStandIn server;
    Session s(server.url(), "lockstep-capture", "", "lockstep-capture");
    ASSERT_TRUE(server.receive("/nsm/server/announce", generous));
    welcome(server, "/tmp/s/c.nX", "c.nX");
    std::string why;
    ASSERT_TRUE(s.wait_open(generous, why)) << why;
    s.opened("ok");
    s.set_dirty(true);
    server.send(osc::Message("/nsm/client/save"));
    ASSERT_EQ(
        [&] {
            for (const auto until = std::chrono::steady_clock::now() + generous;
                 std::chrono::steady_clock::now() < until;) {
                if (const Request r = s.poll(); r != Request::none) {
                    return r;
                }
                std::this_thread::sleep_for(1ms); // polling, with a deadline
            }
            return Request::none;
        }(),
        Request::save);
    s.saved("saved");
    const auto open_reply = server.receive_any(generous);
    const auto save_reply = server.receive_any(generous);
    ASSERT_TRUE(open_reply && save_reply);
    EXPECT_EQ(open_reply->args[0].s(), "/nsm/client/open");
    EXPECT_EQ(save_reply->args[0].s(), "/nsm/client/save"); // no is_dirty in between
}

TEST(Nsm, IgnoresOtherSendersAndMalformedPackets) {
    NsmStandIn server;
    NsmStandIn stranger;
    Session s(server.url(), "a", ":dirty:", "a");
    ASSERT_TRUE(server.receive("/nsm/server/announce", generous));
    // The stranger learns the client's address from the server's socket's peer.
    stranger.send_to(
        server.last_sender(),
        osc::Message("/nsm/client/open",
                     {osc::Arg::string("/evil"), osc::Arg::string("e"), osc::Arg::string("evil")}));
    const std::vector<std::uint8_t> garbage = {'#', 'b', 'u', 'n', 0, 1, 2};
    server.send_bytes(garbage);
    welcome(server, "/good/a.n1", "a.n1");
    std::string why;
    const auto open = s.wait_open(generous, why);
    ASSERT_TRUE(open) << why;
    EXPECT_EQ(open->client_id, "a.n1");
}

TEST(Nsm, AnErrorReplyOrNoServerMeansNoSessionManagement) {
    {
        NsmStandIn server;
        Session s(server.url(), "a", "", "a");
        ASSERT_TRUE(server.receive("/nsm/server/announce", generous));
        server.send(
            osc::Message("/error", {osc::Arg::string("/nsm/server/announce"), osc::Arg::int32(-2),
                                    osc::Arg::string("incompatible API")}));
        std::string why;
        EXPECT_FALSE(s.wait_open(generous, why));
        EXPECT_NE(why.find("refused the announce: incompatible API"), std::string::npos) << why;
    }
    {
        std::uint16_t port = 0;
        {
            NsmStandIn gone; // a port nobody listens on any more
            port = gone.port();
        }
        Session s("osc.udp://127.0.0.1:" + std::to_string(port) + "/", "a", "", "a");
        std::string why;
        EXPECT_FALSE(s.wait_open(300ms, why));
        EXPECT_NE(why.find("no reply to /nsm/server/announce within 300 ms"), std::string::npos)
            << why;
    }
    {
        NsmStandIn server;
        Session s(server.url(), "a", "", "a");
        ASSERT_TRUE(server.receive("/nsm/server/announce", generous));
        server.send(osc::Message("/reply",
                                 {osc::Arg::string("/nsm/server/announce"), osc::Arg::string("hi"),
                                  osc::Arg::string("x"), osc::Arg::string("")}));
        std::string why;
        EXPECT_FALSE(s.wait_open(300ms, why));
        EXPECT_NE(why.find("no /nsm/client/open after the announce reply"), std::string::npos)
            << why;
    }
}

TEST(Nsm, BadUrlsAreReadableErrors) {
    for (const char* url :
         {"osc.tcp://127.0.0.1:1234/", "127.0.0.1:1234", "osc.udp://host/",
          "osc.udp://127.0.0.1:port/", "osc.udp://[::1/", "osc.udp://no-such-host.invalid:1234/"}) {
        try {
            Session s(url, "a", "", "a");
            ADD_FAILURE() << url << " was accepted";
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find("NSM_URL"), std::string::npos) << e.what();
        }
    }
    // A host name, as nsmd writes it, and a bracketed IPv6 address resolve.
    EXPECT_NO_THROW(Session("osc.udp://localhost:9/", "a", "", "a"));
    EXPECT_NO_THROW(Session("osc.udp://[::1]:9/", "a", "", "a"));
}

TEST(Nsm, JoinFromEnvironment) {
    std::optional<Open> open;
    bool stopped = true;
    ::unsetenv("NSM_URL");
    EXPECT_EQ(join_from_env("a", "", "a", open, -1, stopped), nullptr);
    EXPECT_FALSE(open);
    EXPECT_FALSE(stopped);

    ::setenv("NSM_URL", "not a url", 1);
    EXPECT_EQ(join_from_env("a", "", "a", open, -1, stopped), nullptr); // logged: no NSM
    EXPECT_FALSE(open);

    // A readable stop descriptor (a SIGTERM's signalfd) ends the wait for the open.
    {
        NsmStandIn quiet;
        ::setenv("NSM_URL", quiet.url().c_str(), 1);
        int fds[2];
        ASSERT_EQ(::pipe(fds), 0);
        ASSERT_EQ(::write(fds[1], "x", 1), 1);
        EXPECT_EQ(join_from_env("a", "", "a", open, fds[0], stopped, 60s), nullptr);
        EXPECT_TRUE(stopped);
        EXPECT_FALSE(open);
        ::close(fds[0]);
        ::close(fds[1]);
    }

    // An open with a relative path cannot be used: refused to the server, no session.
    NsmStandIn server;
    ::setenv("NSM_URL", server.url().c_str(), 1);
    std::unique_ptr<Session> s;
    std::thread t([&] { s = join_from_env("a", "", "a", open, -1, stopped, 5s); });
    ASSERT_TRUE(server.receive("/nsm/server/announce", generous));
    welcome(server, "relative/path", "a.n1");
    t.join();
    EXPECT_EQ(s, nullptr);
    EXPECT_FALSE(open);
    const auto refused = server.receive("/error", generous);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->args[0].s(), "/nsm/client/open");
    ::unsetenv("NSM_URL");
}

TEST(Nsm, UnderASessionManagerATakenDefaultOscPortFallsBackToAFreeOne) {
    osc::Endpoint::Config taken;
    taken.default_port = 0; // a free port, then made the "default" of the next ones
    const osc::Endpoint holder(taken);
    osc::Endpoint::Config c;
    c.default_port = holder.local_address().port();
    // Without a session manager, or with --osc given, the error stands.
    EXPECT_THROW(make_endpoint(c, false, false), std::system_error);
    EXPECT_THROW(make_endpoint(c, true, true), std::system_error);
    const auto e = make_endpoint(c, true, false);
    ASSERT_NE(e, nullptr);
    EXPECT_NE(e->local_address().port(), c.default_port);
    EXPECT_NE(e->local_address().port(), 0);
}

} // namespace
} // namespace lockstep::service::nsm
