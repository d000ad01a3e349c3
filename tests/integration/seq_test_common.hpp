// Shared by the lockstep-seq integration tests that compare the program with the exact
// reference (tests/seqref): the program as a child process on a test server, talked to
// over OSC, and a Model mirror that every edit is applied to as it is sent, so the
// reference plays exactly what the program was told. Control thread only.
#pragma once

#include "harness/osc_peer.hpp"
#include "harness/process.hpp"
#include "jack_test_common.hpp"
#include "seqref/reference.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

namespace lockstep::test {

using osc::Arg;
using osc::Message;

inline std::string seq_binary() {
    return built("clients/seq/lockstep-seq");
}

// lockstep-seq on `server`, named `name`, with OSC on a free port.
class SeqProcess {
public:
    SeqProcess(const TestServer& server, const std::string& name, std::vector<std::string> extra)
        : name_(name), port_(free_udp_port()), peer_(port_) {
        std::vector<std::string> argv{seq_binary(), "-s",    server.name(),        "-n",
                                      name,         "--osc", std::to_string(port_)};
        argv.insert(argv.end(), extra.begin(), extra.end());
        proc_ = std::make_unique<ChildProcess>(argv, server.child_env());
    }

    // Polls /ping until /pong.
    ::testing::AssertionResult ready() {
        const auto deadline = std::chrono::steady_clock::now() + generous;
        while (std::chrono::steady_clock::now() < deadline) {
            if (!proc_->running()) {
                return ::testing::AssertionFailure() << "lockstep-seq exited: " << proc_->output();
            }
            peer_.send(Message("/ping"));
            if (peer_.receive_path("/pong", 200ms)) {
                return ::testing::AssertionSuccess();
            }
        }
        return ::testing::AssertionFailure() << "no /pong: " << proc_->output();
    }

    // Sends `m`. Every 32 messages it waits for the program to catch up (/ping, /pong), so
    // a long setup never overruns the socket's receive buffer (UDP drops silently).
    void send(const Message& m) {
        EXPECT_TRUE(peer_.send(m)) << m.path;
        if (++unsynced_ >= 32) {
            for (auto& r : sync()) {
                replies_.push_back(std::move(r));
            }
        }
    }

    // Sends /ping and collects every reply before the /pong: the program handles packets in
    // order, so everything sent before has been handled (and refusals are in the list).
    std::vector<Message> sync() {
        unsynced_ = 0;
        auto got = peer_.ping_and_collect(generous);
        if (!got) {
            ADD_FAILURE() << "no /pong";
            return {};
        }
        return std::move(*got);
    }

    // Errors among the replies so far (none expected while setting up).
    std::string errors() {
        std::string s;
        auto all = std::move(replies_);
        replies_.clear();
        for (auto& r : sync()) {
            all.push_back(std::move(r));
        }
        for (const auto& m : all) {
            if (m.path == "/error" || m.path == "/seq/error") {
                s += m.path;
                for (const auto& a : m.args) {
                    if (a.type() == 's') {
                        s += " " + a.s();
                    }
                }
                s += "; ";
            }
        }
        return s;
    }

    const std::string& name() const { return name_; }
    std::string port(const char* p) const { return name_ + ":" + p; }
    ChildProcess& proc() { return *proc_; }
    OscPeer& peer() { return peer_; }

private:
    std::string name_;
    std::uint16_t port_;
    OscPeer peer_;
    std::unique_ptr<ChildProcess> proc_;
    int unsynced_ = 0;
    std::vector<Message> replies_; // collected while syncing, for errors()
};

// Edits sent to the program and applied to the mirror alike.
class SeqSetup {
public:
    explicit SeqSetup(SeqProcess& seq) : seq_(seq) {}
    seq::Model& model() { return perf_.model; }
    seqref::Performance& performance() { return perf_; }

    void tracks(int n) {
        seq_.send(Message("/seq/tracks", {Arg::int32(n)}));
        perf_.model.tracks = static_cast<std::uint8_t>(n);
    }
    void length(int p, int steps) {
        seq_.send(Message("/seq/pattern/length", {Arg::int32(p), Arg::int32(steps)}));
        pat(p).steps = static_cast<std::uint8_t>(steps);
    }
    // Swing as OSC carries it (f, read to 1/1000); `thousandths` is what the model holds.
    void swing(int p, int thousandths) {
        seq_.send(Message("/seq/swing",
                          {Arg::int32(p), Arg::float32(static_cast<float>(thousandths / 1000.0))}));
        pat(p).swing = static_cast<std::int16_t>(thousandths);
    }
    void step(int p, int t, int k, int velocity = 100) {
        seq_.send(
            Message("/seq/step", {Arg::int32(p), Arg::int32(t), Arg::int32(k), Arg::int32(1)}));
        st(p, t, k).on = true;
        if (velocity != 100) {
            seq_.send(Message("/seq/step/velocity",
                              {Arg::int32(p), Arg::int32(t), Arg::int32(k), Arg::int32(velocity)}));
            st(p, t, k).velocity = static_cast<std::uint8_t>(velocity);
        }
    }
    void ratchet(int p, int t, int k, int r) {
        seq_.send(Message("/seq/step/ratchet",
                          {Arg::int32(p), Arg::int32(t), Arg::int32(k), Arg::int32(r)}));
        st(p, t, k).ratchet = static_cast<std::uint8_t>(r);
    }
    void micro(int p, int t, int k, int m) {
        seq_.send(Message("/seq/step/micro",
                          {Arg::int32(p), Arg::int32(t), Arg::int32(k), Arg::int32(m)}));
        st(p, t, k).micro = static_cast<std::int8_t>(m);
    }
    void probability(int p, int t, int k, int pr) {
        seq_.send(Message("/seq/step/probability",
                          {Arg::int32(p), Arg::int32(t), Arg::int32(k), Arg::int32(pr)}));
        st(p, t, k).probability = static_cast<std::uint8_t>(pr);
    }
    void layers(int p, int t, int k, int mask) {
        seq_.send(Message("/seq/step/layers",
                          {Arg::int32(p), Arg::int32(t), Arg::int32(k), Arg::int32(mask)}));
        st(p, t, k).layers = static_cast<std::uint8_t>(mask);
    }
    void note(int t, int layer, int n) {
        seq_.send(Message("/seq/track/note", {Arg::int32(t), Arg::int32(layer), Arg::int32(n)}));
        perf_.model.track[static_cast<std::size_t>(t)].notes[static_cast<std::size_t>(layer)] =
            static_cast<std::int8_t>(n);
    }
    void gate(int t, int g) {
        seq_.send(Message("/seq/track/gate", {Arg::int32(t), Arg::int32(g)}));
        perf_.model.track[static_cast<std::size_t>(t)].gate = static_cast<std::uint8_t>(g);
    }
    // MIDI channel as musicians count it (1-16).
    void channel(int t, int ch) {
        seq_.send(Message("/seq/track/channel", {Arg::int32(t), Arg::int32(ch)}));
        perf_.model.track[static_cast<std::size_t>(t)].channel = static_cast<std::uint8_t>(ch - 1);
    }
    void chain(int slot, int p, int repeats) {
        seq_.send(
            Message("/seq/chain/set", {Arg::int32(slot), Arg::int32(p), Arg::int32(repeats)}));
        auto& s = perf_.model.song;
        s.chain[static_cast<std::size_t>(slot)] = {static_cast<std::uint8_t>(p),
                                                   static_cast<std::uint8_t>(repeats)};
        s.length = std::max<std::uint8_t>(s.length, static_cast<std::uint8_t>(slot + 1));
    }
    void song(bool on, bool loop) {
        seq_.send(Message("/seq/song", {Arg::int32(on ? 1 : 0)}));
        seq_.send(Message("/seq/song/loop", {Arg::int32(loop ? 1 : 0)}));
        perf_.model.song.enabled = on;
        perf_.model.song.loop = loop;
    }
    // /seq/tempo/at i:num i:den f:bpm; `milli_bpm` is the tempo in 1/1000 BPM (how the
    // program reads a float).
    void tempo_at(int num, int den, std::int64_t milli_bpm) {
        seq_.send(Message("/seq/tempo/at", {Arg::int32(num), Arg::int32(den),
                                            Arg::float32(static_cast<float>(milli_bpm / 1000.0))}));
        perf_.changes.push_back(
            {seqref::cpp_rational(num, den), seqref::cpp_rational(milli_bpm, 1000)});
    }

private:
    seq::Pattern& pat(int p) { return perf_.model.pattern[static_cast<std::size_t>(p)]; }
    seq::Step& st(int p, int t, int k) {
        return pat(p).grid[static_cast<std::size_t>(t)][static_cast<std::size_t>(k)];
    }
    SeqProcess& seq_;
    seqref::Performance perf_;
};

// Recorded events as reference events.
inline std::vector<seqref::Event> as_events(const std::vector<ProbeEvent>& v, Frame until) {
    std::vector<seqref::Event> r;
    for (const auto& e : v) {
        if (e.frame < until) {
            const auto b = e.bytes();
            r.push_back({e.frame, {b.begin(), b.end()}});
        }
    }
    return r;
}

// Zero differences and the same count; the first differences for the failure message.
inline ::testing::AssertionResult same_events(const std::vector<seqref::Event>& got,
                                              const std::vector<seqref::Event>& want,
                                              std::size_t* differences = nullptr) {
    std::size_t diffs = 0;
    std::string first;
    const std::size_t n = std::max(got.size(), want.size());
    for (std::size_t i = 0; i < n; ++i) {
        if (i < got.size() && i < want.size() && got[i] == want[i]) {
            continue;
        }
        if (++diffs <= 8) {
            first +=
                "\n  #" + std::to_string(i) +
                " seq: " + (i < got.size() ? seqref::to_string(got[i]) : std::string("-")) +
                "  reference: " + (i < want.size() ? seqref::to_string(want[i]) : std::string("-"));
        }
    }
    if (differences != nullptr) {
        *differences = diffs;
    }
    if (diffs == 0) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << diffs << " differences; seq " << got.size()
                                         << " events, reference " << want.size() << first;
}

} // namespace lockstep::test
