#include "service/cli.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace {

using lockstep::service::CommonOptions;

struct Run {
    std::optional<int> code;
    std::string out;
    std::string err;
};

Run run(CommonOptions& opts, std::vector<std::string> args) {
    CLI::App app{"test client", "lockstep-seq"};
    lockstep::service::add_common_options(app, opts, "seq", 9010);
    args.insert(args.begin(), "lockstep-seq");
    std::vector<const char*> argv;
    for (const auto& a : args) {
        argv.push_back(a.c_str());
    }
    std::ostringstream out;
    std::ostringstream err;
    Run r;
    r.code = lockstep::service::parse(app, static_cast<int>(argv.size()), argv.data(), out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
}

TEST(Cli, Defaults) {
    unsetenv("JACK_DEFAULT_SERVER");
    CommonOptions o;
    auto r = run(o, {});
    EXPECT_FALSE(r.code.has_value());
    EXPECT_EQ(o.name, "lockstep-seq");
    EXPECT_EQ(o.server, "");
    EXPECT_EQ(o.osc, "osc.udp://127.0.0.1:9010");
    EXPECT_TRUE(o.osc_allow.empty());
    EXPECT_EQ(o.state, "");
    EXPECT_TRUE(o.connect.empty());
    EXPECT_EQ(r.err, "");
}

TEST(Cli, ServerDefaultsToJackDefaultServer) {
    setenv("JACK_DEFAULT_SERVER", "studio", 1);
    CommonOptions o;
    EXPECT_FALSE(run(o, {}).code.has_value());
    EXPECT_EQ(o.server, "studio");
    CommonOptions o2;
    EXPECT_FALSE(run(o2, {"-s", "other"}).code.has_value());
    EXPECT_EQ(o2.server, "other");
    unsetenv("JACK_DEFAULT_SERVER");
}

TEST(Cli, AllOptions) {
    CommonOptions o;
    auto r = run(o, {"-n", "drums", "--server=live", "--osc", "9100", "--osc-allow",
                     "192.168.1.0/24", "--osc-allow", "fd00::/8", "--state", "/tmp/s.json",
                     "--connect", "lockstep-seq:out=lockstep-sampler:in", "--connect", "a:b=c:d"});
    ASSERT_FALSE(r.code.has_value()) << r.err;
    EXPECT_EQ(o.name, "drums");
    EXPECT_EQ(o.server, "live");
    EXPECT_EQ(o.osc, "osc.udp://127.0.0.1:9100");
    EXPECT_EQ(o.osc_allow, (std::vector<std::string>{"192.168.1.0/24", "fd00::/8"}));
    EXPECT_EQ(o.state, "/tmp/s.json");
    ASSERT_EQ(o.connect.size(), 2U);
    EXPECT_EQ(o.connect[0].first, "lockstep-seq:out");
    EXPECT_EQ(o.connect[0].second, "lockstep-sampler:in");
    EXPECT_EQ(o.connect[1].first, "a:b");
    EXPECT_EQ(o.connect[1].second, "c:d");
}

TEST(Cli, OscUrls) {
    for (const char* url : {"osc.udp://0.0.0.0:9010", "osc.tcp://localhost:7000/",
                            "osc.udp://[::1]:9010", "osc.unix:///run/lockstep/seq"}) {
        CommonOptions o;
        auto r = run(o, {"--osc", url});
        EXPECT_FALSE(r.code.has_value()) << url << ": " << r.err;
        EXPECT_EQ(o.osc, url);
    }
}

// Every usage error: exit code 2 and exactly one line on stderr naming the problem.
TEST(Cli, UsageErrorsAreOneLineAndExitTwo) {
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--connect", "a:b"}, "--connect"},
        {{"--connect", "a=b=c"}, "--connect"},
        {{"--connect", "=b"}, "--connect"},
        {{"--connect", "a="}, "--connect"},
        {{"--osc", "0"}, "--osc"},
        {{"--osc", "70000"}, "--osc"},
        {{"--osc", "http://x:1"}, "--osc"},
        {{"--osc", "osc.udp://host"}, "--osc"},
        {{"--osc", "osc.unix://relative"}, "--osc"},
        {{"--osc-allow", "10.0.0.0/33"}, "--osc-allow"},
        {{"--osc-allow", "not-an-ip"}, "--osc-allow"},
        {{"--name", ""}, "--name"},
        {{"--name", std::string(64, 'x')}, "--name"},
        {{"--state", ""}, "--state"},
        {{"--bogus"}, "--bogus"},
        {{"--osc"}, "--osc"},
    };
    for (const auto& [args, mention] : cases) {
        CommonOptions o;
        auto r = run(o, args);
        ASSERT_TRUE(r.code.has_value()) << args[0];
        EXPECT_EQ(*r.code, lockstep::service::exit_code::usage) << args[0];
        EXPECT_EQ(r.out, "");
        EXPECT_EQ(r.err.rfind("lockstep-seq: ", 0), 0U) << r.err;
        EXPECT_NE(r.err.find(mention), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
    }
}

TEST(Cli, HelpAndVersionExitZero) {
    CommonOptions o;
    auto help = run(o, {"--help"});
    ASSERT_TRUE(help.code.has_value());
    EXPECT_EQ(*help.code, 0);
    for (const char* flag : {"--name", "--server", "--osc", "--osc-allow", "--state", "--connect",
                             "--version", "--help"}) {
        EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
    }
    CommonOptions o2;
    auto version = run(o2, {"--version"});
    ASSERT_TRUE(version.code.has_value());
    EXPECT_EQ(*version.code, 0);
    EXPECT_EQ(version.out.rfind("lockstep-seq ", 0), 0U) << version.out;
}

} // namespace
