#include "jack/cycle.hpp"

#include <gtest/gtest.h>

#include <vector>

using lockstep::jack::MidiWriter;

namespace {

std::vector<std::pair<std::uint32_t, std::vector<std::uint8_t>>> drain(MidiWriter& w) {
    std::vector<std::pair<std::uint32_t, std::vector<std::uint8_t>>> out;
    for (const auto& e : w.events()) {
        auto b = w.bytes(e);
        out.emplace_back(e.offset, std::vector<std::uint8_t>(b.begin(), b.end()));
    }
    return out;
}

TEST(MidiWriter, KeepsEventsAndBytesInOrder) {
    MidiWriter w(8, 64);
    w.reset(128);
    EXPECT_TRUE(w.write(0, {0x90, 60, 100}));
    EXPECT_TRUE(w.write(5, {0x80, 60, 0}));
    EXPECT_TRUE(w.write(127, {0xF0, 0x7D, 1, 2, 0xF7}));
    const auto ev = drain(w);
    ASSERT_EQ(ev.size(), 3U);
    EXPECT_EQ(ev[0].first, 0U);
    EXPECT_EQ(ev[0].second, (std::vector<std::uint8_t>{0x90, 60, 100}));
    EXPECT_EQ(ev[1].first, 5U);
    EXPECT_EQ(ev[2].first, 127U);
    EXPECT_EQ(ev[2].second, (std::vector<std::uint8_t>{0xF0, 0x7D, 1, 2, 0xF7}));
    EXPECT_EQ(w.late() + w.overflow() + w.invalid(), 0U);
}

TEST(MidiWriter, SortsOutOfOrderWritesStably) {
    MidiWriter w(16, 64);
    w.reset(64);
    // Two "tracks" written one after the other, interleaving in time.
    ASSERT_TRUE(w.write(10, {0x90, 36, 1}));
    ASSERT_TRUE(w.write(30, {0x90, 36, 2}));
    ASSERT_TRUE(w.write(5, {0x90, 37, 3}));
    ASSERT_TRUE(w.write(30, {0x90, 37, 4}));
    ASSERT_TRUE(w.write(0, {0x90, 37, 5}));
    const auto ev = drain(w);
    ASSERT_EQ(ev.size(), 5U);
    const std::vector<std::uint32_t> offsets{0, 5, 10, 30, 30};
    const std::vector<std::uint8_t> tags{5, 3, 1, 2, 4}; // equal offsets keep write order
    for (std::size_t i = 0; i < ev.size(); ++i) {
        EXPECT_EQ(ev[i].first, offsets[i]) << i;
        EXPECT_EQ(ev[i].second[2], tags[i]) << i;
    }
}

TEST(MidiWriter, CountsLateOverflowAndInvalidWrites) {
    MidiWriter w(2, 8);
    w.reset(32);
    EXPECT_FALSE(w.write(32, {0x90, 1, 1})); // first frame of the next cycle
    EXPECT_FALSE(w.write(1000, {0x90, 1, 1}));
    EXPECT_EQ(w.late(), 2U);
    EXPECT_FALSE(w.write(0, std::span<const std::uint8_t>{}));
    EXPECT_EQ(w.invalid(), 1U);
    EXPECT_TRUE(w.write(0, {0x90, 1, 1}));
    EXPECT_FALSE(w.write(1, {0xF0, 1, 2, 3, 4, 5, 0xF7})); // 3 + 7 bytes > 8
    EXPECT_EQ(w.overflow(), 1U);
    EXPECT_TRUE(w.write(1, {0x80, 1, 0}));
    EXPECT_FALSE(w.write(2, {0x80, 1})); // no event slot left
    EXPECT_EQ(w.overflow(), 2U);
    EXPECT_EQ(drain(w).size(), 2U);

    w.reset(32); // a new cycle starts empty, with fresh counts
    EXPECT_EQ(w.events().size(), 0U);
    EXPECT_EQ(w.late() + w.overflow() + w.invalid(), 0U);
    EXPECT_TRUE(w.write(31, {0x90, 1, 1}));
    EXPECT_EQ(w.nframes(), 32U);
}

TEST(Cycle, CanBeBuiltByHandForOfflineTests) {
    const std::uint8_t note[] = {0x90, 60, 100};
    const std::vector<lockstep::jack::MidiEvent> in{{3, note}};
    const std::span<const lockstep::jack::MidiEvent> ports[] = {in};
    std::vector<MidiWriter> outs;
    outs.emplace_back(4, 16);
    outs[0].reset(16);
    lockstep::jack::Cycle c;
    c.start = (std::int64_t{1} << 32) + 5;
    c.nframes = 16;
    c.rate = 48000;
    c.midi_in = ports;
    c.midi_out = outs;
    EXPECT_EQ(c.end(), c.start + 16);
    EXPECT_EQ(c.midi_in[0][0].bytes[1], 60);
    EXPECT_TRUE(c.midi_out[0].write(15, {0x80, 60, 0}));
}

} // namespace
