#include "rt/alloc_check.hpp"
#include "trigger_map.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lockstep::bridge {
namespace {

using Bytes = std::vector<std::uint8_t>;

MidiAction decode(MidiDecoder& d, const Bytes& b) {
    return d.decode(std::span<const std::uint8_t>(b.data(), b.size()));
}

TEST(TriggerMap, DefaultNotesOnEveryChannel) {
    const TriggerMap map = TriggerMap::defaults();
    MidiDecoder d(map);
    for (unsigned ch = 0; ch < 16; ++ch) {
        for (unsigned i = 0; i < 4; ++i) {
            const auto status = static_cast<std::uint8_t>(0x90 | ch);
            const MidiAction a = decode(d, {status, static_cast<std::uint8_t>(36 + i), 100});
            ASSERT_EQ(a.kind, MidiKind::trigger) << ch << " " << i;
            EXPECT_EQ(a.outputs, 1U << i);
            EXPECT_EQ(a.velocity, 100);
        }
        // Neighbours of the default range trigger nothing.
        EXPECT_EQ(decode(d, {static_cast<std::uint8_t>(0x90 | ch), 35, 100}).kind, MidiKind::none);
        EXPECT_EQ(decode(d, {static_cast<std::uint8_t>(0x90 | ch), 40, 100}).kind, MidiKind::none);
    }
    EXPECT_EQ(d.counts().triggers, 64U);
    EXPECT_EQ(d.counts().ignored, 32U);
    EXPECT_EQ(d.counts().malformed, 0U);
    EXPECT_EQ(map.to_string(), "36=1,37=2,38=3,39=4");
}

TEST(TriggerMap, DefaultsRespectFewerOutputs) {
    const TriggerMap map = TriggerMap::defaults(2);
    EXPECT_EQ(map.outputs(9, 37), 2U);
    EXPECT_EQ(map.outputs(9, 38), 0U);
}

TEST(TriggerMap, NoteOffAndVelocityZeroAreIgnored) {
    const TriggerMap map = TriggerMap::defaults();
    MidiDecoder d(map);
    EXPECT_EQ(decode(d, {0x99, 36, 0}).kind, MidiKind::none);   // note-on velocity 0 = off
    EXPECT_EQ(decode(d, {0x89, 36, 64}).kind, MidiKind::none);  // note-off
    EXPECT_EQ(decode(d, {0xB9, 36, 127}).kind, MidiKind::none); // a controller
    EXPECT_EQ(decode(d, {0xF8}).kind, MidiKind::none);          // clock
    EXPECT_EQ(decode(d, {0xC0, 5}).kind, MidiKind::none);       // program change
    EXPECT_EQ(d.counts().ignored, 5U);
    EXPECT_EQ(d.counts().triggers, 0U);
    EXPECT_EQ(d.counts().malformed, 0U);
}

TEST(TriggerMap, EveryEventMustBeACompleteMessage) {
    // JACK MIDI has no running status: data bytes without a status byte are malformed.
    const TriggerMap map = TriggerMap::defaults();
    MidiDecoder d(map);
    const std::vector<Bytes> bad = {
        {},                 // empty
        {36, 100},          // running-status continuation
        {0x99},             // truncated note-on
        {0x99, 36},         // truncated note-on
        {0x99, 36, 100, 0}, // too long
        {0x99, 36, 0x80},   // status byte as velocity
        {0x99, 0xA4, 100},
        {0xC0},       // truncated program change
        {0xF8, 0x00}, // real-time message with data
        {0xF7},       // end of SysEx alone
        {0xF4},       // undefined
        {0xF2, 1},    // truncated song position
    };
    for (const Bytes& b : bad) {
        EXPECT_EQ(decode(d, b).kind, MidiKind::none);
    }
    EXPECT_EQ(d.counts().malformed, bad.size());
    EXPECT_EQ(d.counts().triggers, 0U);
}

TEST(TriggerMap, SyncStepAndStop) {
    const TriggerMap map = TriggerMap::defaults();
    MidiDecoder d(map);
    // Pattern 5, step 15, tracks 1, 8, 15, 22, 29 and 35 (the top bit of the 5th group).
    const MidiAction a = decode(d, {0xF0, 0x7D, 0x01, 5, 15, 0x01, 0x01, 0x01, 0x01, 0x41, 0xF7});
    ASSERT_EQ(a.kind, MidiKind::step);
    EXPECT_EQ(a.pattern, 5);
    EXPECT_EQ(a.step, 15);
    const std::uint64_t expected =
        (1ULL << 0) | (1ULL << 7) | (1ULL << 14) | (1ULL << 21) | (1ULL << 28) | (1ULL << 34);
    EXPECT_EQ(a.track_mask, expected);
    // All 35 bits.
    const MidiAction all = decode(d, {0xF0, 0x7D, 0x01, 63, 0, 0x7F, 0x7F, 0x7F, 0x7F, 0x7F, 0xF7});
    EXPECT_EQ(all.track_mask, (1ULL << 35) - 1);
    EXPECT_EQ(decode(d, {0xF0, 0x7D, 0x02, 0xF7}).kind, MidiKind::stop);
    EXPECT_EQ(d.counts().steps, 2U);
    EXPECT_EQ(d.counts().stops, 1U);
    EXPECT_EQ(d.counts().malformed, 0U);
}

TEST(TriggerMap, EveryTruncationOfTheSyncSysExIsMalformed) {
    const TriggerMap map = TriggerMap::defaults();
    MidiDecoder d(map);
    const Bytes step = {0xF0, 0x7D, 0x01, 5, 15, 1, 2, 3, 4, 5, 0xF7};
    const Bytes stop = {0xF0, 0x7D, 0x02, 0xF7};
    std::uint64_t expected = 0;
    for (const Bytes& full : {step, stop}) {
        for (std::size_t n = 0; n < full.size(); ++n) {
            // Cut at n bytes, with and without a closing F7 put back.
            Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
            EXPECT_EQ(decode(d, cut).kind, MidiKind::none) << n;
            ++expected;
            if (n >= 1 && n + 1 < full.size()) {
                cut.push_back(0xF7);
                const MidiAction a = decode(d, cut);
                EXPECT_EQ(a.kind, MidiKind::none) << n;
                ++expected;
            }
        }
    }
    // F0 F7 alone, F0 7D F7 (no type), and a too-long step and stop.
    for (const Bytes& b : {Bytes{0xF0, 0xF7}, Bytes{0xF0, 0x7D, 0xF7},
                           Bytes{0xF0, 0x7D, 0x01, 5, 15, 1, 2, 3, 4, 5, 6, 0xF7},
                           Bytes{0xF0, 0x7D, 0x02, 0x00, 0xF7}}) {
        EXPECT_EQ(decode(d, b).kind, MidiKind::none);
        ++expected;
    }
    // A data byte with the top bit set inside the SysEx.
    EXPECT_EQ(decode(d, {0xF0, 0x7D, 0x01, 5, 0x8F, 1, 2, 3, 4, 5, 0xF7}).kind, MidiKind::none);
    ++expected;
    EXPECT_EQ(d.counts().malformed, expected);
    EXPECT_EQ(d.counts().steps, 0U);
    EXPECT_EQ(d.counts().stops, 0U);
}

TEST(TriggerMap, OtherSysExIsForeignNotMalformed) {
    const TriggerMap map = TriggerMap::defaults();
    MidiDecoder d(map);
    EXPECT_EQ(decode(d, {0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7}).kind, MidiKind::none);
    EXPECT_EQ(decode(d, {0xF0, 0x00, 0x20, 0x29, 0x01, 0xF7}).kind, MidiKind::none);
    EXPECT_EQ(decode(d, {0xF0, 0x7D, 0x10, 0x01, 0xF7}).kind, MidiKind::none); // other 7D type
    EXPECT_EQ(d.counts().foreign_sysex, 3U);
    EXPECT_EQ(d.counts().malformed, 0U);
}

TEST(TriggerMap, ParsesGoodMaps) {
    TriggerMap m;
    std::string err;
    ASSERT_TRUE(m.parse("36=1,37=2,38=3,39=4", 4, err)) << err;
    EXPECT_EQ(m, TriggerMap::defaults());

    ASSERT_TRUE(m.parse("ch10:36=1,37=2", 4, err)) << err;
    EXPECT_EQ(m.outputs(9, 36), 1U);
    EXPECT_EQ(m.outputs(9, 37), 2U);
    EXPECT_EQ(m.outputs(0, 36), 0U); // channel filter
    EXPECT_EQ(m.to_string(), "ch10:36=1,37=2");

    ASSERT_TRUE(m.parse("36=1+2,ch1:60=3,any:40=4,ch16:40=1", 4, err)) << err;
    EXPECT_EQ(m.outputs(5, 36), 3U);
    EXPECT_EQ(m.outputs(0, 60), 4U);
    EXPECT_EQ(m.outputs(1, 60), 0U);
    EXPECT_EQ(m.outputs(3, 40), 8U);
    EXPECT_EQ(m.outputs(15, 40), 9U); // any-channel and channel items add up
    TriggerMap again;
    ASSERT_TRUE(again.parse(m.to_string(), 4, err)) << m.to_string() << ": " << err;
    EXPECT_EQ(again, m);

    ASSERT_TRUE(m.parse("0=16,127=1", 16, err)) << err;
    EXPECT_EQ(m.outputs(3, 0), 0x8000U);
    EXPECT_EQ(m.outputs(3, 127), 1U);

    ASSERT_TRUE(m.parse("none", 4, err));
    EXPECT_EQ(m, TriggerMap{});
    EXPECT_EQ(m.to_string(), "none");
}

TEST(TriggerMap, RejectsBadMapsWithAClearMessage) {
    struct Case {
        const char* text;
        const char* message;
    };
    const Case cases[] = {
        {"36=1,,37=2", "--map item 2 \"\": empty item (expected NOTE=OUTPUT, e.g. 36=1)"},
        {"36=1,", "--map item 2 \"\": empty item (expected NOTE=OUTPUT, e.g. 36=1)"},
        {"36", "--map item 1 \"36\": expected NOTE=OUTPUT, e.g. 36=1"},
        {"128=1", "--map item 1 \"128=1\": note must be a number 0..127"},
        {"-1=1", "--map item 1 \"-1=1\": note must be a number 0..127"},
        {"36=5", "--map item 1 \"36=5\": output must be a number 1..4"},
        {"36=0", "--map item 1 \"36=0\": output must be a number 1..4"},
        {"36=x", "--map item 1 \"36=x\": output must be a number 1..4"},
        {"36=1+", "--map item 1 \"36=1+\": output must be a number 1..4"},
        {"36=1 ", "--map item 1 \"36=1 \": output must be a number 1..4"},
        {" 36=1", "--map item 1 \" 36=1\": note must be a number 0..127"},
        {"36=1,36=2", "--map item 2 \"36=2\": note 36 is mapped twice"},
        {"ch10:36=1,37=2,36=3", "--map item 3 \"36=3\": note 36 is mapped twice on channel 10"},
        {"ch17:36=1", "--map item 1 \"ch17:36=1\": channel must be ch1..ch16"},
        {"ch0:36=1", "--map item 1 \"ch0:36=1\": channel must be ch1..ch16"},
        {"chan10:36=1", "--map item 1 \"chan10:36=1\": channel must be ch1..ch16"},
        {"x:36=1", "--map item 1 \"x:36=1\": unknown scope (expected chN: with N 1..16, or any:)"},
        {"ch10:", "--map item 1 \"ch10:\": expected NOTE=OUTPUT, e.g. 36=1"},
        {"0036=1", "--map item 1 \"0036=1\": note must be a number 0..127"},
    };
    for (const Case& c : cases) {
        TriggerMap m = TriggerMap::defaults();
        std::string err;
        EXPECT_FALSE(m.parse(c.text, 4, err)) << c.text;
        EXPECT_EQ(err, c.message) << c.text;
        EXPECT_EQ(m, TriggerMap::defaults()) << "a failed parse must leave the map alone";
    }
    TriggerMap m;
    std::string err;
    EXPECT_FALSE(m.parse("36=1", 0, err));
    EXPECT_FALSE(m.parse("36=1", 17, err));
}

TEST(TriggerMap, ChannelFilterAppliesToDecoding) {
    TriggerMap map;
    std::string err;
    ASSERT_TRUE(map.parse("ch10:36=1", 4, err)) << err;
    MidiDecoder d(map);
    EXPECT_EQ(decode(d, {0x99, 36, 1}).kind, MidiKind::trigger);
    EXPECT_EQ(decode(d, {0x90, 36, 1}).kind, MidiKind::none);
}

TEST(TriggerMap, DecodingNeverAllocates) {
    const TriggerMap map = TriggerMap::defaults();
    MidiDecoder d(map);
    const Bytes note = {0x99, 36, 100};
    const Bytes step = {0xF0, 0x7D, 0x01, 5, 15, 1, 2, 3, 4, 5, 0xF7};
    const Bytes bad = {0xF0, 0x7D, 0x01, 5};
    LOCKSTEP_EXPECT_NO_ALLOC(decode(d, note); decode(d, step); decode(d, bad));
}

} // namespace
} // namespace lockstep::bridge
