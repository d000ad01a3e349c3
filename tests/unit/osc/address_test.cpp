// OSC URLs, the --osc URL|PORT convention, and the sender allow-list.
#include "osc/address.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>

namespace lockstep::osc {
namespace {

SocketAddress v4(const char* host, std::uint16_t port) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    inet_pton(AF_INET, host, &sin.sin_addr);
    return SocketAddress(reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
}

SocketAddress v6(const char* host, std::uint16_t port) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    inet_pton(AF_INET6, host, &sin6.sin6_addr);
    return SocketAddress(reinterpret_cast<const sockaddr*>(&sin6), sizeof sin6);
}

TEST(OscAddress, ParsesUdpUrls) {
    auto a = parse_url("osc.udp://127.0.0.1:9010/");
    ASSERT_TRUE(a);
    EXPECT_EQ(*a, v4("127.0.0.1", 9010));
    EXPECT_EQ(a->url(), "osc.udp://127.0.0.1:9010/");
    EXPECT_EQ(a->to_string(), "127.0.0.1:9010");
    EXPECT_EQ(*parse_url("osc.udp://localhost:9011"), v4("127.0.0.1", 9011));
    EXPECT_EQ(*parse_url("osc.udp://:9012"), v4("127.0.0.1", 9012));
    EXPECT_EQ(*parse_url("osc.udp://0.0.0.0:1"), v4("0.0.0.0", 1));
    auto six = parse_url("osc.udp://[::1]:9013/");
    ASSERT_TRUE(six);
    EXPECT_EQ(*six, v6("::1", 9013));
    EXPECT_EQ(six->url(), "osc.udp://[::1]:9013/");
}

TEST(OscAddress, RefusesBadUrlsWithAReason) {
    for (const char* bad :
         {"osc.tcp://127.0.0.1:9010", "127.0.0.1:9010", "osc.udp://127.0.0.1",
          "osc.udp://127.0.0.1:65536", "osc.udp://127.0.0.1:-1", "osc.udp://127.0.0.1:90x",
          "osc.udp://example.org:9010", "osc.udp://[::1:9010", "osc.udp://[zz]:9010",
          "osc.unix://relative", "osc.udp://1.2.3.4.5:1", ""}) {
        std::string error;
        EXPECT_FALSE(parse_url(bad, &error)) << bad;
        EXPECT_FALSE(error.empty()) << bad;
    }
    std::string error;
    EXPECT_FALSE(parse_url("osc.unix:///" + std::string(200, 'x'), &error));
}

TEST(OscAddress, ParsesUnixUrls) {
    auto a = parse_url("osc.unix:///tmp/lockstep.sock");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->family(), AF_UNIX);
    EXPECT_FALSE(a->unnamed());
    EXPECT_EQ(a->url(), "osc.unix:///tmp/lockstep.sock");
    EXPECT_EQ(a->to_string(), "unix:/tmp/lockstep.sock");
    EXPECT_EQ(a->port(), 0);
}

TEST(OscAddress, TellsLoopbackAddresses) {
    EXPECT_TRUE(v4("127.0.0.1", 1).is_loopback());
    EXPECT_TRUE(v4("127.1.2.3", 1).is_loopback());
    EXPECT_TRUE(v6("::1", 1).is_loopback());
    EXPECT_TRUE(v6("::ffff:127.0.0.1", 1).is_loopback());
    EXPECT_FALSE(v4("192.168.1.20", 1).is_loopback());
    EXPECT_FALSE(v4("128.0.0.1", 1).is_loopback());
    EXPECT_FALSE(v6("fe80::1", 1).is_loopback());
    EXPECT_FALSE(v6("::ffff:10.0.0.1", 1).is_loopback());
    EXPECT_FALSE(parse_url("osc.unix:///run/x.sock")->is_loopback());
}

TEST(OscAddress, ListenSpecFollowsTheOscFlagConvention) {
    EXPECT_EQ(*parse_listen("", port::seq), v4("127.0.0.1", 9010));
    EXPECT_EQ(*parse_listen("9100", port::sampler), v4("127.0.0.1", 9100));
    EXPECT_EQ(*parse_listen("osc.udp://0.0.0.0:9012", port::capture), v4("0.0.0.0", 9012));
    EXPECT_FALSE(parse_listen("99999", port::bridge));
    EXPECT_EQ(port::bridge, 9013);
}

TEST(OscAddress, AllowListAlwaysAdmitsLoopbackOnly) {
    AllowList allow;
    EXPECT_TRUE(allow.allows(v4("127.0.0.1", 5)));
    EXPECT_TRUE(allow.allows(v6("::1", 5)));
    EXPECT_TRUE(allow.allows(v6("::ffff:127.0.0.1", 5))); // dual-stack view of 127.0.0.1
    EXPECT_FALSE(allow.allows(v4("127.0.0.2", 5)));
    EXPECT_FALSE(allow.allows(v4("192.168.1.2", 5)));
    EXPECT_FALSE(allow.allows(v6("fd00::1", 5)));
}

TEST(OscAddress, AllowListMatchesCidrPrefixes) {
    AllowList allow;
    ASSERT_TRUE(allow.add("192.168.16.0/20"));
    ASSERT_TRUE(allow.add("10.1.2.3"));
    ASSERT_TRUE(allow.add("fd00::/8"));
    EXPECT_TRUE(allow.allows(v4("192.168.16.1", 1)));
    EXPECT_TRUE(allow.allows(v4("192.168.31.255", 1)));
    EXPECT_FALSE(allow.allows(v4("192.168.32.0", 1)));
    EXPECT_FALSE(allow.allows(v4("192.168.15.255", 1)));
    EXPECT_TRUE(allow.allows(v4("10.1.2.3", 1)));
    EXPECT_FALSE(allow.allows(v4("10.1.2.4", 1)));
    EXPECT_TRUE(allow.allows(v6("fdab::1", 1)));
    EXPECT_TRUE(allow.allows(v6("::ffff:192.168.20.1", 1)));
    EXPECT_FALSE(allow.allows(v6("fe80::1", 1)));
    AllowList everyone;
    ASSERT_TRUE(everyone.add("0.0.0.0/0"));
    EXPECT_TRUE(everyone.allows(v4("203.0.113.9", 1)));
}

TEST(OscAddress, AllowListRefusesBadCidrs) {
    AllowList allow;
    for (const char* bad : {"", "10.0.0.0/33", "10.0.0.0/", "10.0.0/8", "fd00::/129", "host/8",
                            "10.0.0.0/8x", "10.0.0.0/-1"}) {
        std::string error;
        EXPECT_FALSE(allow.add(bad, &error)) << bad;
        EXPECT_FALSE(error.empty()) << bad;
    }
}

} // namespace
} // namespace lockstep::osc
