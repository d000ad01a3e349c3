// The watchdog heartbeat of jack::Client on a real private server: it moves while the
// client is connected, keeps moving while the server is gone (the reconnect loop must not
// get the client killed by systemd), and stops while a process callback hangs.
#include "jack_test_common.hpp"

#include "jack/client.hpp"

#include <atomic>

#if defined(LOCKSTEP_RTSAN)
#include <sanitizer/rtsan_interface.h>
#endif

namespace lockstep::test {
namespace {

using namespace std::chrono_literals;

// Blocks in process() while `hang` is set (on a futex, not spinning: the thread may be
// SCHED_FIFO).
class HangingProcessor : public jack::Processor {
public:
    std::atomic<bool> hang{false};
    std::atomic<bool> hanging{false};
    void process(jack::Cycle&) noexcept RT_NONBLOCKING override {
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wfunction-effects" // blocking is the point
#endif
        if (hang.load()) {
#if defined(LOCKSTEP_RTSAN)
            // The hang is what this test makes on purpose: RealtimeSanitizer is told so.
            __rtsan::ScopedDisabler allow_blocking;
#endif
            hanging.store(true);
            hanging.notify_all();
            while (hang.load()) {
                hang.wait(true);
            }
            hanging.store(false);
        }
#if defined(__clang__)
#pragma clang diagnostic pop
#endif
    }
};

// The heartbeat moves by at least `beats` within the generous timeout.
bool moves(const jack::Client& client, std::uint64_t beats) {
    const auto from = client.heartbeat();
    return wait_until([&] { return client.heartbeat() >= from + beats; }, generous);
}

TEST(JackHeartbeat, MovesWhileWaitingForTheServerAndStopsWhenACallbackHangs) {
    TestServer server;
    const RestartOnExit restarted{server};
    server.use_in_this_process();

    HangingProcessor processor;
    jack::ClientOptions options;
    options.name = "heartbeat-test";
    options.server = server.name();
    options.ports = {{"out", jack::PortKind::midi_out}};
    jack::Client client(options, processor);
    ASSERT_TRUE(client.start());
    ASSERT_TRUE(client.wait_active(generous));
    EXPECT_TRUE(moves(client, 10));

    // No server: no process callbacks, yet the heartbeat keeps moving (20 ms ticks).
    server.kill();
    ASSERT_TRUE(wait_until([&] { return !client.active(); }, generous));
    const auto cycles = client.cycles();
    EXPECT_TRUE(moves(client, 25));
    EXPECT_TRUE(moves(client, 25));
    EXPECT_EQ(client.cycles(), cycles);

    server.start();
    ASSERT_TRUE(client.wait_active(generous));
    ASSERT_TRUE(wait_until([&] { return client.cycles() > cycles; }, generous));
    EXPECT_TRUE(moves(client, 10));

    // A hung callback: the heartbeat stops, whatever the server and the supervisor do
    // meanwhile (jackd may throw the client out; its supervisor keeps running).
    processor.hang.store(true);
    ASSERT_TRUE(wait_until([&] { return processor.hanging.load(); }, generous));
    const auto frozen = client.heartbeat();
    // 1 s is 50 supervisor ticks: a tick-fed heartbeat would have moved.
    std::this_thread::sleep_for(1s);
    EXPECT_EQ(client.heartbeat(), frozen);

    processor.hang.store(false);
    processor.hang.notify_all();
    EXPECT_TRUE(moves(client, 10));
    client.stop();
}

} // namespace
} // namespace lockstep::test
