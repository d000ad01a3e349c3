// The watchdog's heartbeat rule (libshared/jack/heartbeat.hpp): process callbacks beat
// while connected, supervisor ticks beat while waiting for a server, and a callback that
// never returns stops the beat either way.
#include "jack/heartbeat.hpp"

#include <gtest/gtest.h>

namespace lockstep::jack {
namespace {

TEST(Heartbeat, CallbacksBeatWhileConnected) {
    Heartbeat h;
    const auto v0 = h.value();
    h.cycle_begin();
    h.cycle_end();
    EXPECT_EQ(h.value(), v0 + 1);
    h.cycle_begin();
    h.cycle_end();
    EXPECT_EQ(h.value(), v0 + 2);
}

TEST(Heartbeat, SupervisorTicksDoNotBeatWhileConnected) {
    // Otherwise a connected client whose callbacks stopped would still feed the watchdog.
    Heartbeat h;
    const auto v0 = h.value();
    for (int i = 0; i < 100; ++i) {
        h.supervisor_tick(true);
    }
    EXPECT_EQ(h.value(), v0);
}

TEST(Heartbeat, SupervisorTicksBeatWhileWaitingForTheServer) {
    Heartbeat h;
    h.cycle_begin();
    h.cycle_end();
    const auto v0 = h.value();
    for (int i = 0; i < 100; ++i) {
        h.supervisor_tick(false);
    }
    EXPECT_EQ(h.value(), v0 + 100);
}

TEST(Heartbeat, HungCallbackStopsTheBeatConnectedOrNot) {
    Heartbeat h;
    h.cycle_begin(); // and never ends
    const auto v0 = h.value();
    for (int i = 0; i < 10; ++i) {
        h.supervisor_tick(true);
        h.supervisor_tick(false);
    }
    EXPECT_EQ(h.value(), v0);
    h.cycle_end(); // it came back: beats again
    EXPECT_EQ(h.value(), v0 + 1);
    h.supervisor_tick(false);
    EXPECT_EQ(h.value(), v0 + 2);
}

TEST(Heartbeat, ACallbackCutOffByTheSessionCloseIsForgotten) {
    Heartbeat h;
    h.cycle_begin(); // JACK cancelled the process thread here
    EXPECT_TRUE(h.session_closed());
    const auto v0 = h.value();
    h.supervisor_tick(false); // waiting for the server: the ticks beat again
    EXPECT_EQ(h.value(), v0 + 1);
    EXPECT_FALSE(h.session_closed()); // a clean close has nothing to forget
}

} // namespace
} // namespace lockstep::jack
