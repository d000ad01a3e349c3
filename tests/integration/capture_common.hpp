// Shared helpers of the capture_* integration tests: a ramp generator JACK client (every
// channel its own frame counter), the lockstep-capture child process with its OSC port,
// and reading takes back. Control thread only (RampSource::process is the RT part).
#pragma once

#include "harness/osc_peer.hpp"
#include "harness/process.hpp"
#include "harness/server.hpp"
#include "jack/client.hpp"
#include "osc/message.hpp"

#include <sndfile.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace lockstep::test::capture {

using namespace std::chrono_literals;
inline constexpr auto generous = 30s;

// Exact in a float for 2^23 frames (~175 s at 48 kHz); distinct per channel.
inline float ramp(std::uint32_t c, Frame f) {
    return static_cast<float>((f + 7919 * static_cast<Frame>(c)) % (Frame{1} << 23));
}

// N audio outputs out_1..out_N, channel c writing ramp(c, frame).
class RampSource final : public jack::Processor {
public:
    RampSource(const TestServer& server, std::string name, std::uint32_t channels,
               std::vector<jack::Connection> connections = {})
        : client_(options(server, std::move(name), channels, std::move(connections)), *this) {}
    void process(jack::Cycle& cycle) noexcept RT_NONBLOCKING override {
        for (std::size_t c = 0; c < cycle.audio_out.size(); ++c) {
            float* out = cycle.audio_out[c].data();
            for (std::uint32_t i = 0; i < cycle.nframes; ++i) {
                out[i] = ramp(static_cast<std::uint32_t>(c), cycle.start + i);
            }
        }
    }
    jack::Client& client() { return client_; }

private:
    static jack::ClientOptions options(const TestServer& server, std::string name,
                                       std::uint32_t channels,
                                       std::vector<jack::Connection> connections) {
        jack::ClientOptions o;
        o.name = std::move(name);
        o.server = server.name();
        for (std::uint32_t c = 1; c <= channels; ++c) {
            o.ports.push_back({"out_" + std::to_string(c), jack::PortKind::audio_out});
        }
        o.connections = std::move(connections);
        return o;
    }
    jack::Client client_;
};

inline std::string capture_binary() {
    return built("clients/capture/lockstep-capture");
}

// lockstep-capture as a child process on `server`, OSC on a free port.
class CaptureProcess {
public:
    CaptureProcess(const TestServer& server, const std::string& name,
                   std::vector<std::string> args) {
        std::vector<std::string> argv = {capture_binary(),
                                         "-n",
                                         name,
                                         "-s",
                                         server.name(),
                                         "--osc",
                                         std::to_string(free_udp_port())};
        argv.insert(argv.end(), args.begin(), args.end());
        child = std::make_unique<ChildProcess>(argv, server.child_env());
    }
    // Waits for "ready" and reads the OSC port from the start-up line.
    ::testing::AssertionResult wait_ready() {
        if (!wait_until(
                [&] {
                    return !child->running() ||
                           child->output().find("ready\n") != std::string::npos;
                },
                generous) ||
            !child->running()) {
            return ::testing::AssertionFailure() << "not ready:\n" << child->output();
        }
        std::smatch m;
        const std::string out = child->output();
        if (!std::regex_search(out, m, std::regex("OSC osc\\.udp://127\\.0\\.0\\.1:([0-9]+)/"))) {
            return ::testing::AssertionFailure() << "no OSC url in:\n" << out;
        }
        port = static_cast<std::uint16_t>(std::stoi(m[1]));
        peer = std::make_unique<OscPeer>(port);
        return ::testing::AssertionSuccess();
    }
    // /capture/status: state, take, frames written, overruns, fill.
    std::optional<osc::Message> status() {
        peer->send(osc::Message("/capture/status"));
        return peer->receive_path("/capture/status", 5s);
    }
    std::int64_t frames_written() {
        auto s = status();
        return s ? s->args[2].h() : -1;
    }
    bool wait_frames(std::int64_t n, std::chrono::milliseconds timeout) {
        return wait_until([&] { return frames_written() >= n; }, timeout);
    }
    bool wait_state(const std::string& state, std::chrono::milliseconds timeout = generous) {
        return wait_until(
            [&] {
                auto s = status();
                return s && s->args[0].s() == state;
            },
            timeout);
    }
    // A number the log printed after `prefix` (last occurrence), or -1.
    std::int64_t logged(const std::string& pattern) const {
        const std::string out = child->output();
        std::smatch m;
        std::int64_t v = -1;
        const std::regex re(pattern);
        for (auto it = std::sregex_iterator(out.begin(), out.end(), re);
             it != std::sregex_iterator(); ++it) {
            v = std::stoll((*it)[1]);
        }
        return v;
    }

    std::unique_ptr<ChildProcess> child;
    std::uint16_t port = 0;
    std::unique_ptr<OscPeer> peer;
};

struct Take {
    bool ok = false;
    SF_INFO info{};
    std::uint64_t time_reference = 0;
    std::string error;
};

inline Take open_take(const std::string& path) {
    Take t;
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &t.info);
    if (f == nullptr) {
        t.error = sf_strerror(nullptr);
        return t;
    }
    SF_BROADCAST_INFO b{};
    if (sf_command(f, SFC_GET_BROADCAST_INFO, &b, sizeof b) == SF_TRUE) {
        t.time_reference = (std::uint64_t{b.time_reference_high} << 32) | b.time_reference_low;
    }
    sf_close(f);
    t.ok = true;
    return t;
}

// Reads the whole take in blocks and checks that every channel is ramp(c, first + i)
// throughout. Returns "" or the first mismatch.
// `channel_base`: the ramp channel of the file's first channel (one file per channel).
inline std::string check_ramp(const std::string& path, Frame first, std::int64_t& frames_out,
                              std::uint32_t channel_base = 0) {
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    if (f == nullptr) {
        return path + ": " + sf_strerror(nullptr);
    }
    const auto ch = static_cast<std::size_t>(info.channels);
    std::vector<float> buf(8192 * ch);
    Frame pos = 0;
    std::string why;
    for (;;) {
        const sf_count_t got = sf_readf_float(f, buf.data(), 8192);
        if (got <= 0) {
            break;
        }
        for (sf_count_t i = 0; i < got && why.empty(); ++i) {
            for (std::size_t c = 0; c < ch; ++c) {
                const float want =
                    ramp(channel_base + static_cast<std::uint32_t>(c), first + pos + i);
                const float have = buf[static_cast<std::size_t>(i) * ch + c];
                if (have != want) {
                    why = "frame " + std::to_string(pos + i) + " channel " + std::to_string(c + 1) +
                          ": " + std::to_string(have) + ", expected " + std::to_string(want);
                    break;
                }
            }
        }
        if (!why.empty()) {
            break;
        }
        pos += got;
    }
    sf_close(f);
    frames_out = pos;
    return why;
}

// The take files in `dir`, sorted.
inline std::vector<std::string> takes_in(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().extension() == ".wav") {
            out.push_back(e.path().string());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace lockstep::test::capture
