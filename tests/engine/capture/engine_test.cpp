// lockstep-capture engine tests: exact start/stop frames, pre-roll, overrun fill, frame
// jumps, level trigger with hold, transport, freewheel without loss, meters, no allocation.
#include "rig.hpp"

#include "rt/alloc_check.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>

namespace lockstep::capture::test {
namespace {

EngineOptions opts(std::uint32_t channels = 3) {
    EngineOptions o;
    o.channels = channels;
    o.buffer = 48000;
    o.meter_window = 2400;
    return o;
}

// Every frame of the take matches the ramp from `first` on, on every channel.
::testing::AssertionResult is_ramp(const ReadBack& r, Frame first, std::uint64_t frames) {
    if (!r.ok) {
        return ::testing::AssertionFailure() << "file not readable";
    }
    if (static_cast<std::uint64_t>(r.info.frames) != frames) {
        return ::testing::AssertionFailure()
               << "frames " << r.info.frames << ", expected " << frames;
    }
    for (std::size_t i = 0; i < frames; ++i) {
        for (std::uint32_t c = 0; c < static_cast<std::uint32_t>(r.info.channels); ++c) {
            if (r.at(i, c) != ramp(c, first + static_cast<Frame>(i))) {
                return ::testing::AssertionFailure()
                       << "frame " << i << " channel " << c << ": " << r.at(i, c) << ", expected "
                       << ramp(c, first + static_cast<Frame>(i));
            }
        }
    }
    return ::testing::AssertionSuccess();
}

TEST(CaptureEngine, StartsAndStopsAtExactFrames) {
    Rig rig(opts());
    rig.run_until(1024);
    ASSERT_TRUE(rig.engine.send({ToEngineKind::start, 1037}));
    ASSERT_TRUE(rig.engine.send({ToEngineKind::stop, 5005}));
    rig.run_until(8192);
    const auto fb = rig.feedback();
    ASSERT_EQ(fb.size(), 2U);
    EXPECT_EQ(fb[0].kind, FromEngineKind::started);
    EXPECT_EQ(fb[0].frame, 1037);
    EXPECT_EQ(fb[1].kind, FromEngineKind::stopped);
    EXPECT_EQ(fb[1].frame, 5005);
    EXPECT_EQ(fb[1].frames, 5005U - 1037U);
    const auto r = read_file(rig.path("take001.wav"));
    EXPECT_TRUE(is_ramp(r, 1037, 5005 - 1037));
    EXPECT_EQ(r.info.channels, 3);
    EXPECT_EQ(r.info.format & SF_FORMAT_SUBMASK, SF_FORMAT_FLOAT);
    EXPECT_TRUE(r.has_bext);
    EXPECT_EQ(r.time_reference, 1037U);
    auto& ev = rig.events();
    ASSERT_EQ(ev.size(), 2U);
    EXPECT_EQ(ev[0].kind, DiskEvent::Kind::opened);
    EXPECT_EQ(ev[1].kind, DiskEvent::Kind::closed);
    EXPECT_EQ(ev[1].frames, 5005U - 1037U);
}

TEST(CaptureEngine, ImmediateStartAppliesAtTheNextCycleStart) {
    Rig rig(opts(1));
    rig.run_until(512);
    ASSERT_TRUE(rig.engine.send({ToEngineKind::start, asap}));
    rig.run_until(1024);
    ASSERT_TRUE(rig.engine.send({ToEngineKind::stop, asap}));
    rig.run_until(2048);
    EXPECT_TRUE(is_ramp(read_file(rig.path("take001.wav")), 512, 512));
}

TEST(CaptureEngine, StartInThePastAppliesAtTheNextCycleStart) {
    Rig rig(opts(1));
    rig.run_until(1024);
    ASSERT_TRUE(rig.engine.send({ToEngineKind::start, 100}));
    ASSERT_TRUE(rig.engine.send({ToEngineKind::stop, 2000}));
    rig.run_until(4096);
    EXPECT_TRUE(is_ramp(read_file(rig.path("take001.wav")), 1024, 2000 - 1024));
}

TEST(CaptureEngine, RefusesStartWhileRecordingAndStopWhileIdle) {
    Rig rig(opts(1));
    ASSERT_TRUE(rig.engine.send({ToEngineKind::stop, asap}));
    ASSERT_TRUE(rig.engine.send({ToEngineKind::start, 300}));
    ASSERT_TRUE(rig.engine.send({ToEngineKind::start, 400}));
    ASSERT_TRUE(rig.engine.send({ToEngineKind::stop, 700}));
    rig.run_until(1024);
    EXPECT_EQ(rig.engine.counters().refused, 2U);
    EXPECT_TRUE(is_ramp(read_file(rig.path("take001.wav")), 300, 400));
}

TEST(CaptureEngine, PrerollBeginsExactlyPrerollBeforeTheStart) {
    auto o = opts();
    o.preroll = 4800;
    Rig rig(o);
    rig.run_until(20000);
    ASSERT_TRUE(rig.engine.send({ToEngineKind::start, 30011}));
    ASSERT_TRUE(rig.engine.send({ToEngineKind::stop, 40000}));
    rig.run_until(50000);
    const auto r = read_file(rig.path("take001.wav"));
    EXPECT_TRUE(is_ramp(r, 30011 - 4800, 40000 - (30011 - 4800)));
    EXPECT_EQ(r.time_reference, 30011U - 4800U);
    const auto fb = rig.feedback();
    ASSERT_GE(fb.size(), 1U);
    EXPECT_EQ(fb[0].frame, 30011 - 4800);
    EXPECT_EQ(fb[0].trigger_frame, 30011);
}

TEST(CaptureEngine, PrerollIsShorterWhenLessHasBeenHeard) {
    auto o = opts(1);
    o.preroll = 4800;
    Rig rig(o);
    rig.next = 1000;
    rig.run_until(3000);
    ASSERT_TRUE(rig.engine.send({ToEngineKind::start, 3100}));
    ASSERT_TRUE(rig.engine.send({ToEngineKind::stop, 4000}));
    rig.run_until(5000);
    const auto r = read_file(rig.path("take001.wav"));
    EXPECT_TRUE(is_ramp(r, 1000, 3000));
    EXPECT_EQ(r.time_reference, 1000U);
}

TEST(CaptureEngine, PrerollOfTheNextTakeReachesBackIntoThePreviousTake) {
    auto o = opts(2);
    o.preroll = 4800;
    Rig rig(o);
    ASSERT_TRUE(rig.engine.send({ToEngineKind::start, 10000}));
    ASSERT_TRUE(rig.engine.send({ToEngineKind::stop, 15000}));
    ASSERT_TRUE(rig.engine.send({ToEngineKind::start, 16000}));
    ASSERT_TRUE(rig.engine.send({ToEngineKind::stop, 20000}));
    rig.run_until(30000);
    EXPECT_TRUE(is_ramp(read_file(rig.path("take001.wav")), 10000 - 4800, 15000 - 5200));
    EXPECT_TRUE(is_ramp(read_file(rig.path("take002.wav")), 16000 - 4800, 20000 - 11200));
}

TEST(CaptureEngine, PrerollSurvivesASlowDiskBetweenTakes) {
    auto o = opts(1);
    o.preroll = 2000;
    o.buffer = 1024;
    Rig rig(o);
    rig.disk_paused = true; // the ring fills up: pre-roll frames find no room
    rig.run_until(10240);
    EXPECT_GT(rig.engine.counters().preroll_dropped, 0U);
    rig.disk_paused = false;
    rig.run_until(20480);
    ASSERT_TRUE(rig.engine.send({ToEngineKind::start, 21000}));
    ASSERT_TRUE(rig.engine.send({ToEngineKind::stop, 22000}));
    rig.run_until(25000);
    EXPECT_TRUE(is_ramp(read_file(rig.path("take001.wav")), 19000, 3000));
}

TEST(CaptureEngine, OverrunsAreCountedAndFilledWithSilence) {
    auto o = opts(2);
    o.buffer = 1024; // 4 cycles of 256
    Rig rig(o);
    ASSERT_TRUE(rig.engine.send({ToEngineKind::start, 0}));
    rig.run_until(2048);
    rig.disk_paused = true;
    rig.run_until(4096); // the ring fills after 4 cycles; the other 4 are overruns
    rig.disk_paused = false;
    while (rig.disk->step()) {
    }
    ASSERT_TRUE(rig.engine.send({ToEngineKind::stop, 6000}));
    rig.run_until(8192);
    const auto c = rig.engine.counters();
    EXPECT_EQ(c.overruns, 4U);
    EXPECT_EQ(c.overrun_frames, 1024U);
    const auto r = read_file(rig.path("take001.wav"));
    ASSERT_TRUE(r.ok);
    ASSERT_EQ(r.info.frames, 6000);
    for (std::size_t i = 0; i < 6000; ++i) {
        const bool silent = i >= 3072 && i < 4096;
        for (std::uint32_t ch = 0; ch < 2; ++ch) {
            ASSERT_EQ(r.at(i, ch), silent ? 0.0F : ramp(ch, static_cast<Frame>(i))) << i;
        }
    }
}

TEST(CaptureEngine, SkippedFramesInATakeBecomeSilence) {
    Rig rig(opts(1));
    ASSERT_TRUE(rig.engine.send({ToEngineKind::start, 0}));
    rig.run_until(1024);
    rig.next = 1024 + 300; // JACK skipped 300 frames
    ASSERT_TRUE(rig.engine.send({ToEngineKind::stop, 2000}));
    rig.run_until(3000);
    EXPECT_EQ(rig.engine.counters().skipped_frames, 300U);
    const auto r = read_file(rig.path("take001.wav"));
    ASSERT_EQ(r.info.frames, 2000);
    for (std::size_t i = 0; i < 2000; ++i) {
        const bool silent = i >= 1024 && i < 1324;
        ASSERT_EQ(r.at(i, 0), silent ? 0.0F : ramp(0, static_cast<Frame>(i))) << i;
    }
}

TEST(CaptureEngine, FreewheelWaitsForTheDiskInsteadOfDropping) {
    auto o = opts(4);
    o.buffer = 512; // two cycles: the engine must wait for the disk thread all the time
    Rig rig(o);
    rig.disk_paused = true;
    rig.freewheeling = true;
    rig.disk->start();
    ASSERT_TRUE(rig.engine.send({ToEngineKind::start, 0}));
    ASSERT_TRUE(rig.engine.send({ToEngineKind::stop, 200000}));
    rig.run_until(204800);
    rig.disk->finish();
    const auto c = rig.engine.counters();
    EXPECT_EQ(c.overruns, 0U);
    EXPECT_EQ(c.freewheel_timeouts, 0U);
    EXPECT_GT(c.freewheel_waits, 0U);
    EXPECT_TRUE(is_ramp(read_file(rig.path("take001.wav")), 0, 200000));
}

float burst(std::uint32_t c, Frame f) {
    // channel 1 is loud over [30000, 30100) and once more at 31050
    if (c == 1 && ((f >= 30000 && f < 30100) || f == 31050)) {
        return 0.5F;
    }
    return 0.001F;
}

TEST(CaptureEngine, LevelTriggerStartsWithPrerollAndStopsAfterHold) {
    auto o = opts(2);
    o.level = true;
    o.threshold = 0.1F;
    o.hold = 1000;
    o.preroll = 480;
    Rig rig(o);
    rig.input = burst;
    EXPECT_EQ(rig.engine.status().state, State::armed);
    rig.run_until(40000, 128);
    // loud at 31050 extends the take: it ends 1000 frames after it
    const auto fb = rig.feedback();
    ASSERT_EQ(fb.size(), 2U);
    EXPECT_EQ(fb[0].trigger, Trigger::level);
    EXPECT_EQ(fb[0].trigger_frame, 30000);
    EXPECT_EQ(fb[0].frame, 30000 - 480);
    EXPECT_EQ(fb[1].frame, 31050 + 1 + 1000);
    const auto r = read_file(rig.path("take001.wav"));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.info.frames, 31051 + 1000 - 29520);
    EXPECT_EQ(r.time_reference, 29520U);
    EXPECT_EQ(r.at(480, 1), 0.5F);
    EXPECT_EQ(r.at(479, 1), 0.001F);
    EXPECT_EQ(rig.engine.status().state, State::armed);
}

TEST(CaptureEngine, TransportRollingRecords) {
    auto o = opts(1);
    o.transport = true;
    Rig rig(o);
    rig.transport.valid = true;
    rig.run_until(1024);
    rig.transport.state = jack::TransportState::rolling;
    rig.run_until(4096);
    rig.transport.state = jack::TransportState::stopped;
    rig.run_until(5000);
    EXPECT_TRUE(is_ramp(read_file(rig.path("take001.wav")), 1024, 3072));
}

TEST(CaptureEngine, MetersPublishPeakAndRms) {
    Rig rig(opts(2));
    rig.input = [](std::uint32_t c, Frame f) {
        return c == 0 ? 0.5F : (f % 2 == 0 ? 0.25F : -0.25F);
    };
    rig.run_until(4800);
    EXPECT_GE(rig.engine.meter_readings(), 1U);
    EXPECT_FLOAT_EQ(rig.engine.peak(0), 0.5F);
    EXPECT_FLOAT_EQ(rig.engine.rms(0), 0.5F);
    EXPECT_FLOAT_EQ(rig.engine.peak(1), 0.25F);
    EXPECT_NEAR(rig.engine.rms(1), 0.25F, 1e-6);
}

TEST(CaptureEngine, ProcessDoesNotAllocate) {
    auto o = opts(8);
    o.preroll = 1000;
    o.level = true;
    o.threshold = 0.5F;
    Rig rig(o);
    std::vector<std::vector<float>> bufs(8, std::vector<float>(256, 0.1F));
    std::vector<std::span<const float>> spans;
    for (auto& b : bufs) {
        spans.emplace_back(b.data(), b.size());
    }
    jack::Cycle cy;
    cy.nframes = 256;
    cy.rate = 48000;
    cy.audio_in = spans;
    ASSERT_TRUE(rig.engine.send({ToEngineKind::start, 300}));
    ASSERT_TRUE(rig.engine.send({ToEngineKind::stop, 1000}));
    LOCKSTEP_EXPECT_NO_ALLOC(for (int k = 0; k < 64; ++k) {
        cy.start = 256 * k;
        rig.engine.process(cy);
    });
}

} // namespace
} // namespace lockstep::capture::test
