// Shared helpers of the sampler_* integration tests: the lockstep-sampler binary as a child
// process on a TestServer, its OSC port, test sample files, and probes that play MIDI into
// it and record its two outputs (control thread only).
#pragma once

#include "harness/osc_peer.hpp"
#include "harness/process.hpp"
#include "jack_test_common.hpp"
#include "test_audio.hpp" // tests/unit/sampler: WAV/AIFF bytes built in memory

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace lockstep::test {

inline std::string sampler_binary() {
    return built("clients/sampler/lockstep-sampler");
}

inline void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
}
inline void write_text(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

// A float32 mono WAV: decoded exactly, so the sampler's output can be compared bit for bit.
inline void write_float_wav(const std::string& path, const std::vector<float>& x,
                            std::uint32_t rate = 48000, std::uint32_t channels = 1) {
    sampler::test::WavSpec s;
    s.tag = 3;
    s.bits = 32;
    s.rate = rate;
    s.channels = channels;
    write_file(path, sampler::test::wav(x, s));
}

// lockstep-sampler on `server`, OSC on a free loopback port (read back from its log).
class SamplerProcess {
public:
    SamplerProcess(const TestServer& server, std::string name,
                   std::vector<std::string> extra_args = {},
                   std::vector<std::string> argv_prefix = {})
        : name_(std::move(name)) {
        std::vector<std::string> argv = std::move(argv_prefix);
        argv.insert(argv.end(), {sampler_binary(), "-n", name_, "-s", server.name(), "--osc",
                                 std::to_string(free_udp_port())});
        argv.insert(argv.end(), extra_args.begin(), extra_args.end());
        auto env = server.child_env();
        env.push_back("LOCKSTEP_LOG=debug");
        proc_ = std::make_unique<ChildProcess>(argv, env);
    }

    // Waits for "active, OSC on osc.udp://127.0.0.1:PORT/" in the log.
    ::testing::AssertionResult wait_ready() {
        if (!proc_->wait_for_output("active, OSC on", generous)) {
            return ::testing::AssertionFailure() << name_ << " did not start:\n" << output();
        }
        std::smatch m;
        const std::string out = output();
        if (!std::regex_search(out, m, std::regex(R"(OSC on osc\.udp://127\.0\.0\.1:(\d+))"))) {
            return ::testing::AssertionFailure() << "no OSC port in the log:\n" << out;
        }
        port_ = static_cast<std::uint16_t>(std::stoi(m[1].str()));
        return ::testing::AssertionSuccess();
    }

    std::uint16_t port() const { return port_; }
    const std::string& name() const { return name_; }
    std::string port_name(const char* p) const { return name_ + ":" + p; }
    ChildProcess& process() { return *proc_; }
    std::string output() const { return proc_->output(); }

private:
    std::string name_;
    std::unique_ptr<ChildProcess> proc_;
    std::uint16_t port_ = 0;
};

// Sends `m` and waits for the reply with `reply_path` (skipping feedback on other paths) or
// an /error; returns whichever came.
inline std::optional<osc::Message> request(OscPeer& peer, const osc::Message& m,
                                           const std::string& reply_path,
                                           std::chrono::milliseconds timeout = generous) {
    if (!peer.send(m)) {
        return std::nullopt;
    }
    return peer.receive_until(
        [&](const osc::Message& r) { return r.path == reply_path || r.path == "/error"; }, timeout);
}

inline std::string describe(const std::optional<osc::Message>& m) {
    if (!m) {
        return "(no reply)";
    }
    std::string s = m->path;
    for (const auto& a : m->args) {
        if (a.type() == 's') {
            s += " \"" + a.s() + "\"";
        } else if (a.is_number()) {
            s += " " + std::to_string(a.number());
        }
    }
    return s;
}

// A probe that only sends MIDI into the sampler, and two that record one of its output
// pairs (out_L and out_R unless told otherwise, e.g. out_2_L and out_2_R).
struct SamplerRig {
    std::string left_port, right_port; // the sampler's, short names
    Probe sender;
    Probe left;
    Probe right;

    static ProbeOptions recorder(const TestServer& server, const std::string& name,
                                 const std::string& source, std::size_t frames) {
        ProbeOptions o = probe_options(server, name);
        o.midi_in = false;
        o.midi_out = false;
        o.audio_in = true;
        o.audio_capture_frames = frames;
        o.connections = {{source, "audio_in"}};
        return o;
    }
    static ProbeOptions midi_sender(const TestServer& server, const std::string& name,
                                    const std::string& sampler_in) {
        ProbeOptions o = probe_options(server, name);
        o.midi_in = false;
        o.connections = {{"out", sampler_in}};
        return o;
    }

    SamplerRig(const TestServer& server, const SamplerProcess& sampler, const std::string& prefix,
               std::size_t capture_frames, std::string left_name = "out_L",
               std::string right_name = "out_R")
        : left_port(std::move(left_name)), right_port(std::move(right_name)),
          sender(midi_sender(server, prefix + "-midi", sampler.port_name("in"))),
          left(recorder(server, prefix + "-left", sampler.port_name(left_port.c_str()),
                        capture_frames)),
          right(recorder(server, prefix + "-right", sampler.port_name(right_port.c_str()),
                         capture_frames)) {}

    // Starts the probes (in this process: selects the server for it first).
    ::testing::AssertionResult start(const TestServer& server, const SamplerProcess& sampler) {
        server.use_in_this_process();
        for (Probe* p : {&left, &right, &sender}) {
            if (auto r = start_and_run(*p); !r) {
                return r;
            }
        }
        const bool linked = wait_until(
            [&] {
                return sender.client().connected("out", sampler.port_name("in")) &&
                       left.client().connected(sampler.port_name(left_port.c_str()), "audio_in") &&
                       right.client().connected(sampler.port_name(right_port.c_str()), "audio_in");
            },
            generous);
        if (!linked) {
            return ::testing::AssertionFailure() << "probes not linked to the sampler";
        }
        return ::testing::AssertionSuccess();
    }

    // Records [from, from + frames) on both outputs; false on timeout.
    bool record(Frame from, std::size_t frames) {
        if (!left.capture_audio(from, frames) || !right.capture_audio(from, frames)) {
            return false;
        }
        return wait_until([&] { return left.audio_captured() && right.audio_captured(); },
                          std::chrono::milliseconds(120000));
    }

    // A frame a few cycles ahead, at a cycle start.
    Frame ahead(std::uint32_t period, int cycles = 8) {
        Frame now = 0;
        sender.now(now);
        return (now / period + cycles) * period;
    }
};

// First difference between `got` and `want`, or "" when equal.
inline std::string first_difference(const std::vector<float>& got, const std::vector<float>& want,
                                    Frame base, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        if (got[i] != want[i]) {
            return "frame " + std::to_string(base + static_cast<Frame>(i)) + " (index " +
                   std::to_string(i) + "): got " + std::to_string(got[i]) + ", want " +
                   std::to_string(want[i]);
        }
    }
    return {};
}

} // namespace lockstep::test
