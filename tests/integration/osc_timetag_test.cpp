// A timetagged OSC bundle, end to end on a real JACK server: the endpoint's mapper is
// jack::frame_at_timetag on a running client, so a bundle for an instant in the future
// reaches its handler with the absolute frame that instant falls on, and an immediate one
// with no frame ("at the start of the next cycle").
#include "harness/probe/probe.hpp"
#include "harness/process.hpp"
#include "harness/server.hpp"
#include "jack/timetag.hpp"
#include "osc/endpoint.hpp"
#include "osc/message.hpp"
#include "time/clock_map.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <atomic>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace lockstep::test {
namespace {

using namespace std::chrono_literals;

std::uint16_t port_of(const std::string& url) { // "osc.udp://127.0.0.1:PORT/"
    const auto colon = url.rfind(':');
    return static_cast<std::uint16_t>(std::stoi(url.substr(colon + 1)));
}

void send_to(std::uint16_t port, const std::vector<std::uint8_t>& bytes) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const auto sent = ::sendto(fd, bytes.data(), bytes.size(), 0,
                               reinterpret_cast<const sockaddr*>(&to), sizeof to);
    ::close(fd);
    ASSERT_EQ(sent, static_cast<ssize_t>(bytes.size()));
}

std::uint64_t timetag_in(std::chrono::milliseconds ahead) {
    const ClockPair now = jack::read_clock_pair();
    return timetag_from_unix_ns(
        now.realtime_ns + std::chrono::duration_cast<std::chrono::nanoseconds>(ahead).count());
}

TEST(OscTimetag, FutureBundleArrivesWithTheFrameItsInstantFallsOn) {
    TestServer server;
    server.use_in_this_process();
    ProbeOptions opts;
    opts.name = "timetag-probe";
    opts.server = server.name();
    Probe probe(opts);
    ASSERT_TRUE(probe.client().start());
    ASSERT_TRUE(wait_until([&] { return probe.client().cycles() > 2; }, 30s));
    const std::uint32_t rate = server.rate();

    std::mutex mutex;
    std::vector<std::optional<std::int64_t>> frames;
    osc::Endpoint::Config config;
    config.mapper = [&](std::uint64_t tt) { return jack::frame_at_timetag(probe.client(), tt); };
    osc::Endpoint endpoint(config);
    endpoint.add("/t", "i", [&](const osc::Message&, osc::Context& ctx) {
        const std::lock_guard lock(mutex);
        frames.push_back(ctx.frame);
    });
    endpoint.start();

    CycleTiming before{};
    ASSERT_TRUE(probe.client().timing(before));
    const std::vector<std::vector<std::uint8_t>> element{
        osc::encode(osc::Message("/t", {osc::Arg::int32(1)}))};
    send_to(port_of(endpoint.url()), osc::encode_bundle(timetag_in(400ms), element));
    send_to(port_of(endpoint.url()), osc::encode_bundle(1, element)); // immediate

    ASSERT_TRUE(wait_until(
        [&] {
            const std::lock_guard lock(mutex);
            return frames.size() == 2;
        },
        30s));
    endpoint.stop();
    const std::lock_guard lock(mutex);
    // The immediate bundle was applied first, with no frame.
    EXPECT_FALSE(frames[0].has_value());
    // The future one carries a frame after the cycle that was current when it was sent,
    // and not absurdly far (units: frames, not microseconds or nanoseconds).
    ASSERT_TRUE(frames[1].has_value());
    EXPECT_GT(*frames[1], before.frame);
    EXPECT_LT(*frames[1], before.frame + Frame{rate} * 10);
    std::printf("timetag 400 ms ahead -> frame %lld, %lld frames after the cycle at send "
                "(%.1f ms at %u Hz)\n",
                static_cast<long long>(*frames[1]),
                static_cast<long long>(*frames[1] - before.frame),
                1000.0 * static_cast<double>(*frames[1] - before.frame) / rate, rate);
    probe.client().stop();
}

} // namespace
} // namespace lockstep::test
