// The reference of docs/seq.md checked against values worked out by hand from the page.
#include "seqref/reference.hpp"

#include <gtest/gtest.h>

namespace lockstep::seqref {
namespace {

using Bytes = std::vector<std::uint8_t>;

seq::Step& step(Performance& r, int pattern, int track, int k) {
    return r.model.pattern[static_cast<std::size_t>(pattern)]
        .grid[static_cast<std::size_t>(track)][static_cast<std::size_t>(k)];
}

Bytes on(int note, int vel = 100) {
    return {0x99, static_cast<std::uint8_t>(note), static_cast<std::uint8_t>(vel)};
}
Bytes off(int note) {
    return {0x89, static_cast<std::uint8_t>(note), 0};
}

// 120 BPM at 48 kHz: a beat is 24000 frames, a sixteenth step 6000.
Performance basic() {
    Performance r;
    r.origin = 1000;
    r.until = 1000 + 96000; // one bar
    return r;
}

TEST(SeqReference, FourOnTheFloorWithGateAndNoteOffs) {
    Performance r = basic();
    for (int k : {0, 4, 8, 12}) {
        step(r, 0, 0, k).on = true;
    }
    step(r, 0, 0, 4).velocity = 77;
    const Output o = play(r);
    const std::vector<Event> want{{1000, on(36)},   {4000, off(36)}, {25000, on(36, 77)},
                                  {28000, off(36)}, {49000, on(36)}, {52000, off(36)},
                                  {73000, on(36)},  {76000, off(36)}};
    EXPECT_EQ(o.out, want);
    EXPECT_EQ(o.instances, 1U);
}

TEST(SeqReference, SwingMicrotimingClampAndRatchets) {
    Performance r = basic();
    r.model.pattern[0].swing = 500; // odd steps a quarter step late
    step(r, 0, 0, 1).on = true;     // 6000 + 1500
    step(r, 0, 1, 0).on = true;     // micro -48 on step 0: clamped to S
    step(r, 0, 1, 0).micro = -48;
    step(r, 0, 2, 3).on = true; // odd: swing, micro +24: 18000 + 1500 + 1500
    step(r, 0, 2, 3).micro = 24;
    step(r, 0, 3, 8).on = true; // ratchet 3: 48000, 50000, 52000; gate 48/96 of 2000
    step(r, 0, 3, 8).ratchet = 3;
    const Output o = play(r);
    const std::vector<Event> want{{1000, on(37)},   {4000, off(37)},  {8500, on(36)},
                                  {11500, off(36)}, {22000, on(38)},  {25000, off(38)},
                                  {49000, on(39)},  {50000, off(39)}, {51000, on(39)},
                                  {52000, off(39)}, {53000, on(39)},  {54000, off(39)}};
    EXPECT_EQ(o.out, want);
}

TEST(SeqReference, EmittedFrameIsTheCeilingOfTheExactIdealFrame) {
    Performance r = basic();
    r.bpm = cpp_rational(1373, 10);
    r.origin = 0;
    r.until = 200000;
    step(r, 0, 0, 4).on = true; // beat 1: 60 * 48000 / 137.3 = 20975.96...
    step(r, 0, 0, 6).on = true; // beat 1.5: 31463.94...
    const Output o = play(r);
    ASSERT_GE(o.out.size(), 4U);
    EXPECT_EQ(o.out[0].frame, 20976);
    EXPECT_EQ(o.out[2].frame, 31464);
    EXPECT_EQ(o.out[3].frame, 34086); // off: beat 1.625 = 34085.94...
}

TEST(SeqReference, TempoChangeAtAPositionTimesWhatFollowsFromItsAnchor) {
    Performance r = basic();
    r.origin = 0;
    r.until = 200000;
    r.changes = {{cpp_rational(4), cpp_rational(100)}}; // 28800 frames per beat after bar 1
    step(r, 0, 0, 4).on = true;
    const Output o = play(r);
    std::vector<Frame> ons;
    for (const auto& e : o.out) {
        if (e.bytes[0] == 0x99) {
            ons.push_back(e.frame);
        }
    }
    EXPECT_EQ(ons, (std::vector<Frame>{24000, 96000 + 28800}));
    // Clock: 1000 frames apart before the change, 1200 after it.
    ASSERT_GE(o.clock.size(), 99U);
    EXPECT_EQ(o.clock[0], (Event{0, {0xFA}}));
    EXPECT_EQ(o.clock[1], (Event{0, {0xF8}}));
    EXPECT_EQ(o.clock[2].frame, 1000);
    EXPECT_EQ(o.clock[97].frame, 96000);
    EXPECT_EQ(o.clock[98].frame, 97200);
}

TEST(SeqReference, SameNoteTwiceEndsTheHeldNoteJustBeforeTheNewOne) {
    Performance r = basic();
    r.model.track[0].gate = 96;
    step(r, 0, 0, 0).on = true; // held until 6000
    step(r, 0, 0, 1).on = true; // micro -48: at 3000, while the first is held
    step(r, 0, 0, 1).micro = -48;
    const Output o = play(r);
    const std::vector<Event> want{
        {1000, on(36)}, {4000, off(36)}, {4000, on(36)}, {10000, off(36)}};
    EXPECT_EQ(o.out, want);
}

TEST(SeqReference, OrderWithinAFrameIsOffsThenOnsByTrackAndLayer) {
    Performance r = basic();
    r.model.track[1].notes[2] = 50;
    r.model.track[0].gate = 96;
    step(r, 0, 1, 1).on = true;
    step(r, 0, 1, 1).layers = 0b101; // notes 37 and 50
    step(r, 0, 0, 1).on = true;
    step(r, 0, 0, 0).on = true; // its note-off at 7000, where step 1 starts
    const Output o = play(r);
    const std::vector<Event> want{{1000, on(36)},   {7000, off(36)}, {7000, on(36)},
                                  {7000, on(37)},   {7000, on(50)},  {10000, off(37)},
                                  {10000, off(50)}, {13000, off(36)}};
    EXPECT_EQ(o.out, want);
}

TEST(SeqReference, MuteSoloAndProbability) {
    Performance r = basic();
    r.until = 1000 + 96000 * 8;
    r.seed = 42;
    for (int t = 0; t < 3; ++t) {
        step(r, 0, t, 0).on = true;
        step(r, 0, t, 0).probability = 50;
    }
    r.model.track[1].solo = true;
    r.model.track[2].solo = true;
    r.model.track[2].mute = true; // muted wins over solo
    const Output o = play(r);
    std::size_t fired = 0;
    for (std::uint64_t i = 0; i < 8; ++i) {
        fired += seq::step_fires(42, 1, i, 0, 50) ? 1 : 0;
    }
    EXPECT_EQ(o.out.size(), 2 * fired);
    EXPECT_GT(fired, 0U);
    EXPECT_LT(fired, 8U);
    for (const auto& e : o.out) {
        EXPECT_EQ(e.bytes[1], 37);
    }
    ASSERT_EQ(o.sync.size(), 8U * 16);
    std::size_t masks = 0;
    for (const auto& e : o.sync) {
        masks += e.bytes[5] == 0b010 ? 1 : 0;
    }
    EXPECT_EQ(masks, fired);
}

TEST(SeqReference, StopEndsSoundingNotesAndDropsLaterHits) {
    Performance r = basic();
    step(r, 0, 0, 0).on = true;
    step(r, 0, 0, 1).on = true;
    r.stop_frame = 2500; // while step 0's note sounds
    const Output o = play(r);
    const std::vector<Event> want{{1000, on(36)}, {2500, off(36)}};
    EXPECT_EQ(o.out, want);
    EXPECT_EQ(o.clock.back(), (Event{2500, {0xFC}}));
    EXPECT_EQ(o.sync.back(), (Event{2500, {0xF0, 0x7D, 0x02, 0xF7}}));
    EXPECT_EQ(o.sync.front(), (Event{1000, {0xF0, 0x7D, 0x01, 0, 0, 1, 0, 0, 0, 0, 0xF7}}));
}

TEST(SeqReference, SongChainWithTripletsRepeatsAndAnEnd) {
    Performance r = basic();
    r.origin = 0;
    r.until = 10 * 96000;
    r.model.song.enabled = true;
    r.model.song.loop = false;
    r.model.song.length = 2;
    r.model.song.chain[0] = {1, 2}; // pattern 1 twice, then pattern 0 once: 3 bars
    r.model.song.chain[1] = {0, 1};
    r.model.pattern[1].steps = 12; // eighth-note triplets: 8000 frames a step
    step(r, 1, 0, 1).on = true;
    r.model.pattern[0].swing = 1000;
    step(r, 0, 0, 15).on = true; // swing and micro +48: exactly on the song's end, dropped
    step(r, 0, 0, 15).micro = 48;
    step(r, 0, 1, 15).on = true; // swung, before the end: its note is cut at the end
    r.model.track[1].gate = 96;
    const Output o = play(r);
    ASSERT_TRUE(o.end.has_value());
    EXPECT_EQ(*o.end, 3 * 96000);
    const std::vector<Event> want{{8000, on(36)},          {12000, off(36)},
                                  {96000 + 8000, on(36)},  {96000 + 12000, off(36)},
                                  {288000 - 3000, on(37)}, {288000, off(37)}};
    EXPECT_EQ(o.out, want);
    EXPECT_EQ(o.sync.size(), 12U + 12 + 16 + 1);
    EXPECT_EQ(o.clock.back(), (Event{288000, {0xFC}}));
    EXPECT_EQ(o.clock.size(), 1U + 3 * 96 + 1); // FA, clocks before the end, FC
}

TEST(SeqReference, LocatedStartPlaysFromThePositionOfItsFrame) {
    Performance r = basic();
    r.origin = 0;
    r.start_frame = 30000; // position 1.25 beats: step 5
    r.until = 96000;
    step(r, 0, 0, 4).on = true; // before: not played
    step(r, 0, 0, 5).on = true;
    const Output o = play(r);
    const std::vector<Event> want{{30000, on(36)}, {33000, off(36)}};
    EXPECT_EQ(o.out, want);
    EXPECT_EQ(o.clock[0], (Event{30000, {0xF2, 5, 0}}));
    EXPECT_EQ(o.clock[1], (Event{30000, {0xFB}}));
    EXPECT_EQ(o.clock[2], (Event{30000, {0xF8}}));
}

} // namespace
} // namespace lockstep::seqref
