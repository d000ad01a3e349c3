// Shared by the lockstep-bridge integration tests (bridge_reconnect, bridge_e2e): the
// bridge's and the sim's binaries, lockstep-fwsim started behind its pseudo-terminal, what
// /bridge/status and /bridge/counters say (docs/osc.md), and the sim's --log of edges.
#pragma once

#include "harness/osc_peer.hpp"
#include "harness/process.hpp"
#include "jack_test_common.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#ifndef LOCKSTEP_FWSIM
#error "LOCKSTEP_FWSIM (path of lockstep-fwsim) must be defined by the build"
#endif

namespace lockstep::test {

inline std::string bridge_binary() {
    return built("clients/bridge/lockstep-bridge");
}

// /bridge/status (docs/osc.md): the fields these tests read.
struct BridgeStatus {
    std::string state;
    std::int64_t boot_id = 0;
    std::int64_t sent = 0, late = 0, dropped = 0, unsynced = 0, garbage = 0, reconnects = 0;
};

inline std::optional<BridgeStatus> parse_bridge_status(const osc::Message& m) {
    if (m.path != "/bridge/status" || m.args.size() != 15) {
        return std::nullopt;
    }
    BridgeStatus s;
    s.state = m.args[0].s();
    s.boot_id = m.args[2].h();
    s.sent = m.args[9].h();
    s.late = m.args[10].h();
    s.dropped = m.args[11].h();
    s.unsynced = m.args[12].h();
    s.garbage = m.args[13].h();
    s.reconnects = m.args[14].h();
    return s;
}

// /bridge/counters of /query (docs/osc.md): what the bridge and the box did with triggers.
struct BridgeCounters {
    std::int64_t mapped = 0;        // note-ons the map sent to an output
    std::int64_t sent = 0;          // triggers written to the box
    std::int64_t bridge_late = 0;   // could not reach the box in time: dropped, counted
    std::int64_t not_sent = 0;      // late (bridge), unsynced, dropped (link), dropped (queue)
    std::int64_t box_fired = 0;     // the box's latest stats reply
    std::int64_t box_not_fired = 0; // late (acked on arrival or reached late), dropped, full
    std::int64_t box_late = 0;      // of those: late (acked on arrival or reached late)
    std::int64_t xruns = 0;         // JACK xruns the bridge saw
};

inline std::optional<BridgeCounters> parse_bridge_counters(const osc::Message& m) {
    if (m.path != "/bridge/counters" || m.args.size() != 28) {
        return std::nullopt;
    }
    const auto h = [&](std::size_t i) { return m.args[i].h(); };
    BridgeCounters c;
    c.mapped = h(0);
    c.sent = h(2);
    c.bridge_late = h(3);
    c.not_sent = h(3) + h(5) + h(6) + h(7);
    c.box_fired = h(25);
    c.box_not_fired = h(26) + h(27) + h(8);
    c.box_late = h(26);
    c.xruns = h(22);
    return c;
}

inline std::optional<BridgeCounters> query_bridge_counters(OscPeer& peer) {
    peer.send(osc::Message("/query"));
    const auto m = peer.receive_path("/bridge/counters", std::chrono::milliseconds(1000));
    return m ? parse_bridge_counters(*m) : std::nullopt;
}

// One line of the sim's --log: a rising edge on `output` (1-based) at CLOCK_MONOTONIC_RAW ns.
struct Edge {
    unsigned output = 0;
    std::int64_t raw_ns = 0;
};

inline std::vector<Edge> read_edges(const std::string& path) {
    std::vector<Edge> edges;
    std::ifstream in(path);
    Edge e;
    while (in >> e.output >> e.raw_ns) {
        edges.push_back(e);
    }
    return edges;
}

// Starts lockstep-fwsim on `link` with `args` added; returns when its ready line was seen
// (polled every 1 ms), or adds a failure.
inline std::unique_ptr<ChildProcess> start_fwsim(const std::string& link,
                                                 const std::vector<std::string>& args) {
    std::vector<std::string> argv{LOCKSTEP_FWSIM, "--link", link};
    argv.insert(argv.end(), args.begin(), args.end());
    auto sim = std::make_unique<ChildProcess>(argv);
    const auto deadline = std::chrono::steady_clock::now() + generous;
    while (std::chrono::steady_clock::now() < deadline) {
        if (sim->output().find("lockstep-fwsim: ready") != std::string::npos) {
            return sim;
        }
        if (!sim->running()) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ADD_FAILURE() << "lockstep-fwsim not ready: " << sim->output();
    return sim;
}

} // namespace lockstep::test
