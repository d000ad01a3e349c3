// MUST-SHOW: kill the JACK server under a probe client, restart it: the client is back with
// its ports and connections, and MIDI flows again, on jackd2 and on PipeWire. The client
// keeps running while no server exists, and its counters show the reconnection.
// The time from "server ready again" to "ports and connections back" is measured and
// printed, not asserted (machines are noisy; the backoff cap bounds it by design, see
// tests/unit/jack/test_reconnect.cpp).
#include "jack_test_common.hpp"

#include <jack/jack.h>

#include <regex>

namespace lockstep::test {
namespace {

// A bare JACK client for looking at the graph from outside the probe.
class Checker {
public:
    explicit Checker(const TestServer& server) {
        jack_status_t status{};
        client_ = jack_client_open("reconnect-checker",
                                   static_cast<jack_options_t>(JackNoStartServer | JackServerName),
                                   &status, server.name().c_str());
    }
    ~Checker() {
        if (client_ != nullptr) {
            jack_client_close(client_);
        }
    }
    Checker(const Checker&) = delete;
    Checker& operator=(const Checker&) = delete;
    bool ok() const { return client_ != nullptr; }
    bool port_exists(const std::string& name) const {
        return jack_port_by_name(client_, name.c_str()) != nullptr;
    }
    bool connected(const std::string& src, const std::string& dst) const {
        jack_port_t* p = jack_port_by_name(client_, src.c_str());
        return p != nullptr && jack_port_connected_to(p, dst.c_str()) != 0;
    }

private:
    jack_client_t* client_ = nullptr;
};

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
        ++n;
    }
    return n;
}

// Delays of the "loop sent=A received=B delay=D" lines after `from` in the output.
std::vector<long long> loop_delays(const std::string& out, std::size_t from) {
    static const std::regex line(R"(loop sent=(\d+) received=(\d+) delay=(-?\d+))");
    std::vector<long long> d;
    const std::string tail = out.substr(std::min(from, out.size()));
    for (std::sregex_iterator it(tail.begin(), tail.end(), line), end; it != end; ++it) {
        d.push_back(std::stoll((*it)[3]));
    }
    return d;
}

TEST(JackReconnect, ClientComesBackWithPortsAndConnectionsAfterServerRestart) {
    TestServer server;
    const RestartOnExit restarted{server};
    server.use_in_this_process();
    const std::string name = "reconnect-probe";
    auto env = server.child_env();
    env.emplace_back("LOCKSTEP_LOG=debug"); // shows each failed attempt
    ChildProcess probe({probe_binary(), "-n", name, "-s", server.name(), "--connect",
                        "out=" + name + ":in", "loop", "--every", "4800"},
                       env);
    ASSERT_TRUE(probe.wait_for_output("ready", generous)) << probe.output();
    // MIDI flows through the loop before anything happens.
    ASSERT_TRUE(probe.wait_for_output("loop sent=", generous)) << probe.output();
    const auto before = loop_delays(probe.output(), 0);
    ASSERT_FALSE(before.empty());
    const long long loop_delay = before.front();
    for (auto d : before) {
        EXPECT_EQ(d, loop_delay);
    }

    for (int round = 1; round <= 2; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        server.kill();
        ASSERT_TRUE(probe.wait_for_output("server lost losses=" + std::to_string(round), generous))
            << probe.output();
        // No server at all for a while (8 checks, 100 ms apart): the client keeps running.
        ASSERT_TRUE(wait_until(
            [&] {
                return count_of(probe.output(), "(8 checks)") >= static_cast<std::size_t>(round);
            },
            generous))
            << probe.output();
        ASSERT_TRUE(probe.running()) << probe.output();
        const std::size_t mark = probe.output().size();

        server.start(); // returns once the server accepts clients
        const auto ready = std::chrono::steady_clock::now();
        Checker checker(server);
        ASSERT_TRUE(checker.ok());
        const std::string out = name + ":out";
        const std::string in = name + ":in";
        const bool back = wait_until(
            [&] {
                return checker.port_exists(out) && checker.port_exists(in) &&
                       checker.connected(out, in);
            },
            generous);
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - ready)
                            .count();
        ASSERT_TRUE(back) << probe.output();
        std::printf("jack_reconnect[%s] round %d: ports and connection back %lld ms after the "
                    "server was ready\n",
                    to_string(server.backend()), round, static_cast<long long>(ms));
        std::fflush(stdout);

        // MIDI flows again, with the same loop delay as before the restart.
        ASSERT_TRUE(
            probe.wait_for_output("reconnected reconnects=" + std::to_string(round), generous))
            << probe.output();
        ASSERT_TRUE(
            wait_until([&] { return loop_delays(probe.output(), mark).size() >= 3; }, generous))
            << probe.output();
        for (auto d : loop_delays(probe.output(), mark)) {
            EXPECT_EQ(d, loop_delay);
        }
    }

    EXPECT_EQ(probe.terminate(), 0);
    const auto out = probe.output();
    EXPECT_NE(out.find("reconnects=2 "), std::string::npos) << out; // the exit stats line
    // Logged once per loss, not once per attempt.
    EXPECT_EQ(count_of(out, "JACK server gone"), 2U) << out;
    EXPECT_EQ(count_of(out, "reconnected to JACK after"), 2U) << out;
    static const std::regex back(R"(reconnected to JACK after (\d+) ms)");
    for (std::sregex_iterator it(out.begin(), out.end(), back), end; it != end; ++it) {
        std::printf("jack_reconnect[%s]: the probe was without a server for %s ms\n",
                    to_string(server.backend()), (*it)[1].str().c_str());
    }
}

} // namespace
} // namespace lockstep::test
