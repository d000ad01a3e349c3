// lockstep-bridge's process-thread engine, driven with hand-made cycles: notes become
// triggers at the scheduled device time with the published line's epoch, sync SysEx becomes
// steps and stops, nothing goes out without a locked line, and process() does not allocate.
#include "engine.hpp"
#include "link.hpp"

#include "rt/alloc_check.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {

using namespace lockstep;
using namespace lockstep::bridge;

struct EngineFixture : ::testing::Test {
    TriggerMap map = TriggerMap::defaults(4);
    LineSlot slot;
    SpscQueue<ToSerial> queue{64};
    ScheduleConfig config{};
    Engine engine{map, slot, queue, config};
    std::vector<jack::MidiEvent> events;
    std::span<const jack::MidiEvent> port;

    // A 256-frame cycle at 48 kHz starting now (host clock), so nothing is late.
    jack::Cycle cycle(Frame start) {
        jack::Cycle c;
        c.start = start;
        c.nframes = 256;
        c.rate = 48'000;
        const auto now_us = static_cast<std::uint64_t>(host_now_ns() / 1000);
        c.usecs = now_us;
        c.next_usecs = now_us + 5333;
        port = events;
        c.midi_in = std::span<const std::span<const jack::MidiEvent>>(&port, 1);
        return c;
    }

    SyncedLine locked_line(std::uint32_t epoch) {
        SyncedLine l;
        l.epoch = epoch;
        l.line.valid = true;
        l.line.host_anchor = host_now_ns();
        l.line.device_anchor = l.line.host_anchor + 123'456'789;
        l.line.drift = 500e-6L;
        l.line.rtt_median_ns = 100'000;
        return l;
    }

    std::vector<ToSerial> drain() {
        std::vector<ToSerial> out;
        ToSerial m;
        while (queue.try_pop(m)) {
            out.push_back(m);
        }
        return out;
    }
};

const std::uint8_t note36[] = {0x99, 36, 100};
const std::uint8_t note39[] = {0x90, 39, 1};
const std::uint8_t note50[] = {0x99, 50, 100};
const std::uint8_t step[] = {0xF0, 0x7D, 0x01, 2, 7, 0x05, 0, 0, 0, 0, 0xF7};
const std::uint8_t stop[] = {0xF0, 0x7D, 0x02, 0xF7};

TEST_F(EngineFixture, NotesBecomeTriggersAtTheScheduledDeviceTime) {
    const SyncedLine l = locked_line(7);
    slot.store(l);
    events = {{10, note36}, {20, note50}, {100, note39}};
    jack::Cycle c = cycle(48'000);
    engine.process(c);
    const auto got = drain();
    ASSERT_EQ(got.size(), 2U);
    const CycleTiming t{c.start, c.usecs, c.next_usecs, c.nframes, c.rate};
    EXPECT_EQ(got[0].kind, ToSerialKind::trigger);
    EXPECT_EQ(got[0].mask, 1U);
    EXPECT_EQ(got[0].epoch, 7U);
    EXPECT_EQ(got[0].host_ns, host_ns_at_frame(t, c.start + 10));
    EXPECT_EQ(got[0].device_ns, l.line.to_device(host_ns_at_frame(t, c.start + 10) + 10'000'000));
    EXPECT_EQ(got[1].mask, 8U);
    EXPECT_EQ(got[1].device_ns, l.line.to_device(host_ns_at_frame(t, c.start + 100) + 10'000'000));
    const EngineCounts n = engine.counts();
    EXPECT_EQ(n.triggers, 2U);
    EXPECT_EQ(n.queued, 2U);
    EXPECT_EQ(n.late + n.unsynced + n.overflow, 0U);
}

// PipeWire's JACK counts CLOCK_MONOTONIC, here 250 ms behind CLOCK_MONOTONIC_RAW: the
// cycle's times are on that clock, and the adapter's raw_offset_ns moves them onto the raw
// clock the line and "now" count. Without it every trigger would fire 250 ms late.
TEST_F(EngineFixture, ACycleOnAnotherClockIsMovedOntoTheRawClock) {
    const SyncedLine l = locked_line(3);
    slot.store(l);
    events = {{10, note36}};
    constexpr std::int64_t offset = 249'617'663;
    jack::Cycle c = cycle(0);
    c.usecs -= offset / 1000;
    c.next_usecs -= offset / 1000;
    c.raw_offset_ns = offset;
    engine.process(c);
    const auto got = drain();
    ASSERT_EQ(got.size(), 1U) << "late: " << engine.counts().late;
    const std::int64_t raw_start = static_cast<std::int64_t>(c.usecs) * 1000 + offset;
    const std::int64_t at10 = raw_start + (10 * 5'333'000 + 128) / 256;
    EXPECT_EQ(got[0].host_ns, at10);
    EXPECT_EQ(got[0].device_ns, l.line.to_device(at10 + 10'000'000));
}

TEST_F(EngineFixture, WithoutALockedLineNotesAreCountedUnsynced) {
    SyncedLine l;
    l.epoch = 1; // valid == false
    slot.store(l);
    events = {{0, note36}};
    jack::Cycle c = cycle(0);
    engine.process(c);
    EXPECT_TRUE(drain().empty());
    EXPECT_EQ(engine.counts().unsynced, 1U);
}

TEST_F(EngineFixture, SyncStepsAndStopsGoToTheSerialThread) {
    slot.store(locked_line(1));
    events = {{5, step}, {6, stop}};
    jack::Cycle c = cycle(0);
    engine.process(c);
    const auto got = drain();
    ASSERT_EQ(got.size(), 2U);
    EXPECT_EQ(got[0].kind, ToSerialKind::step);
    EXPECT_EQ(got[0].pattern, 2);
    EXPECT_EQ(got[0].step, 7);
    EXPECT_EQ(got[0].tracks, 0x5);
    EXPECT_EQ(got[1].kind, ToSerialKind::stop);
}

TEST_F(EngineFixture, AFullQueueDropsAndCounts) {
    slot.store(locked_line(1));
    std::vector<jack::MidiEvent> many;
    for (std::uint32_t i = 0; i < 100; ++i) {
        many.push_back({i, note36});
    }
    events = many;
    jack::Cycle c = cycle(0);
    engine.process(c);
    EXPECT_EQ(drain().size(), 64U);
    EXPECT_EQ(engine.counts().overflow, 36U);
}

TEST_F(EngineFixture, ProcessDoesNotAllocate) {
    slot.store(locked_line(1));
    events = {{10, note36}, {11, step}, {12, stop}};
    jack::Cycle c = cycle(0);
    AllocCounts counts;
    {
        RealtimeScope scope;
        engine.process(c);
        counts = scope.counts();
    }
    EXPECT_EQ(counts.allocations, 0U);
    EXPECT_EQ(drain().size(), 3U);
}

} // namespace
