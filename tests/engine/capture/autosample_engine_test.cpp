// The autosampler's audio-thread half alone (AutoEngine), offline: MIDI at exact frames
// across cycle boundaries, late messages, contiguous segments across frame jumps and
// overruns.
#include "autosample_engine.hpp"

#include "jack/offline.hpp"

#include <gtest/gtest.h>

namespace lockstep::capture {
namespace {

AutoMidi note_on(Frame f, std::uint32_t id, std::uint8_t note = 60) {
    AutoMidi m;
    m.frame = f;
    m.id = id;
    m.bytes[0] = 0x90;
    m.bytes[1] = note;
    m.bytes[2] = 100;
    m.size = 3;
    return m;
}

TEST(AutoEngine, MidiLandsOnItsExactFrameAcrossCycles) {
    AutoEngineOptions o;
    o.ring_frames = 48000;
    AutoEngine e(o);
    jack::OfflineDriver drv(jack::OfflinePorts{0, 1, 1, 0}, 48000);
    for (const Frame f : {Frame{1000}, Frame{1023}, Frame{1024}, Frame{1279}, Frame{5000}}) {
        ASSERT_TRUE(e.send(note_on(f, static_cast<std::uint32_t>(f))));
    }
    drv.run(e, 0, 256, 8); // (no allocation in process(): autosample_test.cpp counts it)
    const auto& out = drv.midi_out(0);
    ASSERT_EQ(out.size(), 4U); // 5000 is not due yet
    EXPECT_EQ(out[0].frame, 1000);
    EXPECT_EQ(out[1].frame, 1023);
    EXPECT_EQ(out[2].frame, 1024);
    EXPECT_EQ(out[3].frame, 1279);
    EXPECT_EQ(out[0].bytes, (std::vector<std::uint8_t>{0x90, 60, 100}));
    AutoSent s;
    std::vector<AutoSent> sent;
    while (e.receive(s)) {
        sent.push_back(s);
    }
    ASSERT_EQ(sent.size(), 4U);
    EXPECT_EQ(sent[2].id, 1024U);
    EXPECT_EQ(sent[2].frame, 1024);
    EXPECT_FALSE(sent[2].late);
    EXPECT_EQ(e.now(), 2048);
    EXPECT_EQ(e.unsent(), 1U);
}

TEST(AutoEngine, ALateMessageGoesOutAtTheNextCycleAndSaysSo) {
    AutoEngine e(AutoEngineOptions{});
    jack::OfflineDriver drv(jack::OfflinePorts{0, 1, 1, 0}, 48000);
    drv.run(e, 0, 256, 2);
    ASSERT_TRUE(e.send(note_on(100, 7)));
    drv.run(e, 512, 256, 1);
    ASSERT_EQ(drv.midi_out(0).size(), 1U);
    EXPECT_EQ(drv.midi_out(0)[0].frame, 512);
    AutoSent s;
    ASSERT_TRUE(e.receive(s));
    EXPECT_TRUE(s.late);
    EXPECT_EQ(s.frame, 512);
    EXPECT_EQ(e.counters().late_midi, 1U);
}

TEST(AutoEngine, SegmentsMarkWhereContiguousFramesRestart) {
    AutoEngineOptions o;
    o.ring_frames = 1024;
    AutoEngine e(o);
    jack::OfflineDriver drv(jack::OfflinePorts{0, 1, 1, 0}, 48000);
    drv.set_audio_in(0, [](Frame f) { return static_cast<float>(f); });
    drv.run(e, 0, 256, 2);     // frames 0..511 at ring 0..511
    drv.run(e, 10000, 256, 2); // a jump: frames 10000..10511 at ring 512..1023
    drv.run(e, 10512, 256, 1); // no room (nobody reads): an overrun
    AudioRing& ring = e.ring();
    EXPECT_EQ(ring.published(), 1024U);
    EXPECT_EQ(e.counters().overruns, 1U);
    AutoSegment s;
    ASSERT_TRUE(e.pop_segment(s));
    EXPECT_EQ(s.pos, 0U);
    EXPECT_EQ(s.frame, 0);
    ASSERT_TRUE(e.pop_segment(s));
    EXPECT_EQ(s.pos, 512U);
    EXPECT_EQ(s.frame, 10000);
    EXPECT_EQ(ring.read(0, 512, 1)[0], 10000.0F);
    EXPECT_FALSE(e.pop_segment(s));
    ring.release(1024);
    drv.run(e, 10768, 256, 1); // after the overrun: a new segment although frames follow
    ASSERT_TRUE(e.pop_segment(s));
    EXPECT_EQ(s.pos, 1024U);
    EXPECT_EQ(s.frame, 10768);
    EXPECT_EQ(ring.read(0, 1024, 1)[0], 10768.0F);
    EXPECT_EQ(e.counters().segments, 3U);
}

// Cancel: the sounding note's queued note-off goes out at once (not `hold` later), the
// queued note-ons never, then all-notes-off, all at offset 0 of the next cycle.
TEST(AutoEngine, CancelSendsTheQueuedNoteOffsAndAllNotesOffAtOnce) {
    AutoEngine e(AutoEngineOptions{});
    jack::OfflineDriver drv(jack::OfflinePorts{0, 1, 1, 0}, 48000);
    ASSERT_TRUE(e.send(note_on(100, 1)));
    AutoMidi off = note_on(48000, 2);
    off.bytes[0] = 0x83;
    ASSERT_TRUE(e.send(off));
    ASSERT_TRUE(e.send(note_on(60000, 3, 62)));
    drv.run(e, 0, 256, 2);
    ASSERT_EQ(drv.midi_out(0).size(), 1U);
    EXPECT_FALSE(e.cancelled());
    e.cancel(3);
    drv.run(e, 512, 256, 1);
    const auto& out = drv.midi_out(0);
    ASSERT_EQ(out.size(), 3U);
    EXPECT_EQ(out[1].frame, 512);
    EXPECT_EQ(out[1].bytes, (std::vector<std::uint8_t>{0x83, 60, 100}));
    EXPECT_EQ(out[2].frame, 512);
    EXPECT_EQ(out[2].bytes, (std::vector<std::uint8_t>{0xB3, 123, 0}));
    EXPECT_TRUE(e.cancelled());
    EXPECT_EQ(e.unsent(), 0U);
    // later messages are flushed the same way; all-notes-off is sent once
    ASSERT_TRUE(e.send(note_on(800, 4)));
    drv.run(e, 768, 256, 2);
    EXPECT_EQ(drv.midi_out(0).size(), 3U);
}

} // namespace
} // namespace lockstep::capture
