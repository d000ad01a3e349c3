// lockstep-bench-ramp: a standalone JACK client with N audio outputs out_1..out_N, channel
// c writing its own frame counter (the same ramp as tests/integration/capture_common.hpp),
// for tests/bench/capture_vs_jack_capture. Runs until SIGINT/SIGTERM.
//   lockstep-bench-ramp SERVER CLIENT_NAME CHANNELS [DEST_CLIENT]
// With DEST_CLIENT, out_k is connected to DEST_CLIENT:in_k.
#include "jack/client.hpp"
#include "rt/rt.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

using lockstep::Frame;

// Exact in a float for 2^23 frames (~175 s at 48 kHz); distinct per channel.
float ramp(std::uint32_t c, Frame f) {
    return static_cast<float>((f + 7919 * static_cast<Frame>(c)) % (Frame{1} << 23));
}

class RampSource final : public lockstep::jack::Processor {
public:
    // RT: the JACK process thread.
    void process(lockstep::jack::Cycle& cycle) noexcept RT_NONBLOCKING override {
        for (std::size_t c = 0; c < cycle.audio_out.size(); ++c) {
            float* out = cycle.audio_out[c].data();
            for (std::uint32_t i = 0; i < cycle.nframes; ++i) {
                out[i] = ramp(static_cast<std::uint32_t>(c), cycle.start + i);
            }
        }
    }
};

} // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s SERVER CLIENT_NAME CHANNELS [DEST_CLIENT]\n", argv[0]);
        return 2;
    }
    const long channels = std::strtol(argv[3], nullptr, 10);
    if (channels < 1 || channels > 4096) {
        std::fprintf(stderr, "channels: 1..4096\n");
        return 2;
    }
    lockstep::jack::ClientOptions o;
    o.server = argv[1];
    o.name = argv[2];
    o.reconnect = false;
    for (long c = 1; c <= channels; ++c) {
        const std::string port = "out_" + std::to_string(c);
        o.ports.push_back({port, lockstep::jack::PortKind::audio_out});
        if (argc > 4) {
            o.connections.push_back({port, std::string(argv[4]) + ":in_" + std::to_string(c)});
        }
    }
    // Block the stop signals before any thread exists, then wait for one.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    RampSource source;
    lockstep::jack::Client client(o, source);
    if (!client.start()) {
        return 1;
    }
    std::printf("ready\n");
    std::fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    client.stop();
    return 0;
}
