#include "rt/alloc_check.hpp"
#include "schedule.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

namespace lockstep::bridge {
namespace {

constexpr std::int64_t us = 1000;
constexpr std::int64_t ms = 1000 * us;

// JACK2's JackTimer::Frames2Time for frames in or after the cycle (the double formula).
std::uint64_t jack_frames_to_time(const CycleTiming& c, Frame f) {
    return c.usecs + static_cast<std::uint64_t>(
                         std::llrint(static_cast<double>(f - c.frame) *
                                     static_cast<double>(c.next_usecs - c.usecs) / c.nframes));
}

TEST(Schedule, FrameTimeIsExactOnTheCycleLine) {
    // 256 frames at 48 kHz: 5333.33 µs; JACK's DLL says 5334 µs this cycle.
    const CycleTiming c{1'000'000, 7'000'000'000, 7'000'005'334, 256, 48000};
    EXPECT_EQ(host_ns_at_frame(c, c.frame), 7'000'000'000'000);
    EXPECT_EQ(host_ns_at_frame(c, c.frame + 256), 7'000'005'334'000);
    // 1 frame = 5334000 / 256 = 20835.9375 ns -> 20836 (nearest).
    EXPECT_EQ(host_ns_at_frame(c, c.frame + 1), 7'000'000'020'836);
    // 128 frames = 2667000 exactly.
    EXPECT_EQ(host_ns_at_frame(c, c.frame + 128), 7'000'002'667'000);
    // Before the cycle: the same line, backwards (floor-based rounding stays nearest).
    EXPECT_EQ(host_ns_at_frame(c, c.frame - 1), 6'999'999'979'164);
    // Every frame agrees with JACK's µs value within its rounding (0.5 µs).
    for (Frame f = c.frame; f < c.frame + 256; ++f) {
        const std::int64_t ns = host_ns_at_frame(c, f);
        const auto jack_ns = static_cast<std::int64_t>(jack_frames_to_time(c, f)) * 1000;
        EXPECT_LE(std::llabs(ns - jack_ns), 500) << f;
    }
}

TEST(Schedule, TheRawOffsetMovesTheWholeLine) {
    // PipeWire: JACK's clock is CLOCK_MONOTONIC; raw_offset_ns = raw - JACK's clock.
    CycleTiming c{1'000'000, 7'000'000'000, 7'000'005'334, 256, 48000};
    const CycleTiming on_jack = c;
    c.raw_offset_ns = -249'617'663;
    for (Frame f : {c.frame - 300, c.frame, c.frame + 1, c.frame + 255, c.frame + 48000}) {
        EXPECT_EQ(host_ns_at_frame(c, f), host_ns_at_frame(on_jack, f) - 249'617'663) << f;
    }
}

TEST(Schedule, RoundsHalvesUp) {
    // 3 frames over 1 µs: frame 1 = 333.33 ns, frame 2 = 666.67 ns; 2 frames over 1 µs...
    const CycleTiming c{0, 10, 11, 3, 0};
    EXPECT_EQ(host_ns_at_frame(c, 1), 10'333);
    EXPECT_EQ(host_ns_at_frame(c, 2), 10'667);
    const CycleTiming h{0, 10, 11, 2000, 0};    // 0.5 ns per frame
    EXPECT_EQ(host_ns_at_frame(h, 1), 10'001);  // 10000.5 -> up
    EXPECT_EQ(host_ns_at_frame(h, -1), 10'000); // 9999.5 -> up
}

TEST(Schedule, LargeFramesAndTimesDoNotOverflow) {
    // Days of frames at 192 kHz and a JACK clock months from boot.
    const Frame frame = Frame{192000} * 86400 * 90;
    const std::uint64_t t = 90ULL * 86400 * 1'000'000;
    const CycleTiming c{frame, t, t + 333, 64, 192000};
    EXPECT_EQ(host_ns_at_frame(c, frame + 64), static_cast<std::int64_t>((t + 333) * 1000));
    // 10 minutes ahead along the line: 192000 * 600 frames.
    const Frame ahead = frame + Frame{192000} * 600;
    const std::int64_t expected =
        static_cast<std::int64_t>(t * 1000) + (Frame{192000} * 600 * 333'000 + 32) / 64;
    EXPECT_EQ(host_ns_at_frame(c, ahead), expected);
}

TEST(Schedule, DegenerateCycleUsesTheRate) {
    const CycleTiming c{1000, 5'000'000, 5'000'000, 256, 48000};
    EXPECT_EQ(host_ns_at_frame(c, 1000 + 48), 5'000'000'000 + 1'000'000);
    const CycleTiming none{1000, 5'000'000, 0, 0, 0};
    EXPECT_EQ(host_ns_at_frame(none, 5000), 5'000'000'000);
}

// A line with a known offset and drift: device = host * (1 + 100 ppm) + 1 s.
ClockLine test_line() {
    ClockLine l;
    l.valid = true;
    l.host_anchor = 7'000'000'000'000;
    l.device_anchor = 7'001'000'000'000;
    l.offset_ns = 0;
    l.drift = 100e-6L;
    l.rtt_min_ns = 80 * us;
    l.rtt_median_ns = 500 * us; // a loaded host's slow pong reading: not used for lateness
    l.rtt_max_ns = 6 * ms;      // a spike: not used either
    return l;
}

TEST(Schedule, TriggerTimeIsTheFrameTimePlusLeadOnTheDeviceClock) {
    const CycleTiming c{1'000'000, 7'000'000'000, 7'000'005'334, 256, 48000};
    const ClockLine line = test_line();
    Scheduler s;                                // lead 10 ms, margin 1 ms
    const std::int64_t now = 7'000'000'100'000; // 100 µs into the cycle
    const ScheduledTrigger t = s.schedule(c, c.frame + 128, line, now);
    ASSERT_EQ(t.verdict, ScheduleVerdict::send);
    EXPECT_EQ(t.host_ns, 7'000'002'667'000);
    // fire at host 7'000'012'667'000: 12'667'000 ns after the anchor, * (1 + 100e-6).
    EXPECT_EQ(t.device_ns, DeviceTime{7'001'000'000'000 + 12'667'000 + 1'267});
    EXPECT_EQ(t.slack_ns, 7'000'012'667'000 - (now + 80 * us + 1 * ms));
    EXPECT_EQ(s.counts().sent, 1U);
    EXPECT_EQ(s.counts().min_slack_ns, t.slack_ns);
    // Equal frame spacing gives equal device spacing (scaled by the drift), to the ns.
    const ScheduledTrigger t2 = s.schedule(c, c.frame + 256, line, now);
    EXPECT_EQ(t2.device_ns - t.device_ns, DeviceTime{2'667'000 + 266});
}

TEST(Schedule, LateTriggersAreDroppedAndCounted) {
    const CycleTiming c{0, 1'000'000, 1'005'334, 256, 48000}; // starts at 1 s host
    const ClockLine line = test_line();
    ScheduleConfig config;
    config.lead_ns = 5 * ms;
    config.send_margin_ns = 1 * ms;
    Scheduler s(config);
    // Fire time = 1 s + 5 ms; worst arrival = now + 80 µs + 1 ms. On time while now <= 1.00392 s.
    EXPECT_EQ(s.schedule(c, 0, line, 1'003'920'000).verdict, ScheduleVerdict::send);
    const ScheduledTrigger late = s.schedule(c, 0, line, 1'003'920'001);
    EXPECT_EQ(late.verdict, ScheduleVerdict::late);
    EXPECT_EQ(late.slack_ns, -1);
    EXPECT_EQ(s.counts().late, 1U);
    // A process thread that woke up a whole period late: frames at the cycle's start are late.
    EXPECT_EQ(s.schedule(c, 0, line, 1'010'000'000).verdict, ScheduleVerdict::late);
    EXPECT_EQ(s.counts().late, 2U);
    EXPECT_EQ(s.counts().sent, 1U);
    // A link that cannot do better than 4 ms makes the same moment late.
    ClockLine slow = line;
    slow.rtt_min_ns = 4 * ms;
    EXPECT_EQ(s.schedule(c, 0, line, 1'000'100'000).verdict, ScheduleVerdict::send);
    EXPECT_EQ(s.schedule(c, 0, slow, 1'000'100'000).verdict, ScheduleVerdict::late);
    EXPECT_EQ(s.schedule(c, 0, slow, 1'000'000'000).verdict, ScheduleVerdict::send);
}

// A loaded host: the serial thread reads pongs late, so the median (and max) round trip grow
// to several ms while the link's minimum stays small. A trigger with most of its lead left
// (3.5 ms into a 5 ms lead, here) still goes out; only the minimum moves the boundary.
TEST(Schedule, ASlowMedianRoundTripDoesNotMakeTriggersLate) {
    const CycleTiming c{0, 1'000'000, 1'005'334, 256, 48000};
    ScheduleConfig config;
    config.lead_ns = 5 * ms;
    config.send_margin_ns = 1 * ms;
    Scheduler s(config);
    ClockLine loaded = test_line();
    loaded.rtt_median_ns = 4 * ms;
    loaded.rtt_max_ns = 30 * ms;
    const ScheduledTrigger t = s.schedule(c, 0, loaded, 1'001'500'000);
    EXPECT_EQ(t.verdict, ScheduleVerdict::send);
    EXPECT_EQ(t.slack_ns, 1'005'000'000 - (1'001'500'000 + 80 * us + 1 * ms));
    EXPECT_EQ(s.schedule(c, 0, loaded, 1'003'920'001).verdict, ScheduleVerdict::late);
    EXPECT_EQ(s.counts().sent, 1U);
    EXPECT_EQ(s.counts().late, 1U);
}

TEST(Schedule, WithoutALockedClockNothingIsSent) {
    const CycleTiming c{0, 1'000'000, 1'005'334, 256, 48000};
    Scheduler s;
    const ScheduledTrigger t = s.schedule(c, 10, ClockLine{}, 1'000'000'000);
    EXPECT_EQ(t.verdict, ScheduleVerdict::unsynced);
    EXPECT_EQ(s.counts().unsynced, 1U);
    EXPECT_EQ(s.counts().sent, 0U);
}

TEST(Schedule, SchedulingNeverAllocates) {
    const CycleTiming c{0, 1'000'000, 1'005'334, 256, 48000};
    const ClockLine line = test_line();
    Scheduler s;
    LOCKSTEP_EXPECT_NO_ALLOC(
        for (Frame f = 0; f < 256; ++f) { s.schedule(c, f, line, 1'000'000'000); });
    EXPECT_EQ(s.counts().sent, 256U);
}

} // namespace
} // namespace lockstep::bridge
