#include "jack/offline.hpp"

#include <gtest/gtest.h>

using lockstep::Frame;
using lockstep::jack::Cycle;
using lockstep::jack::OfflineDriver;
using lockstep::jack::Processor;
using lockstep::jack::TimedMidi;

namespace {

// Echoes every input event one frame later when that frame is in the same cycle, and
// writes the absolute frame's low bits as audio.
class Echo final : public Processor {
public:
    void process(Cycle& c) noexcept RT_NONBLOCKING override {
        ++cycles;
        for (const auto& e : c.midi_in[0]) {
            c.midi_out[0].write(e.offset + 1, e.bytes);
        }
        for (std::uint32_t k = 0; k < c.nframes; ++k) {
            c.audio_out[0][k] = static_cast<float>((c.start + k) % 1000);
        }
    }
    int cycles = 0;
};

TEST(OfflineDriver, DeliversInputAtAbsoluteFramesAndCollectsOutput) {
    OfflineDriver d({.midi_in = 1, .midi_out = 1, .audio_in = 0, .audio_out = 1}, 48000);
    d.add_midi_in(0, 70, {0x90, 2, 2});
    d.add_midi_in(0, 5, {0x90, 1, 1});
    d.add_midi_in(0, 63, {0x90, 3, 3}); // last frame of a cycle: echo would be late
    Echo e;
    const Frame next = d.run(e, 0, 32, 4);
    EXPECT_EQ(next, 128);
    EXPECT_EQ(e.cycles, 4);
    const std::vector<TimedMidi> want{{6, {0x90, 1, 1}}, {71, {0x90, 2, 2}}};
    EXPECT_EQ(d.midi_out(0), want);
    EXPECT_EQ(d.midi_late(), 1U);
    ASSERT_EQ(d.audio_out(0).size(), 128U);
    EXPECT_EQ(d.audio_out(0)[0], 0.0F);
    EXPECT_EQ(d.audio_out(0)[127], 127.0F);
}

TEST(OfflineDriver, StartsAnywhereIncludingPastTheJack32BitWrap) {
    OfflineDriver d({.midi_in = 1, .midi_out = 1, .audio_in = 0, .audio_out = 1}, 48000);
    const Frame start = (Frame{1} << 32) - 16;
    d.add_midi_in(0, start + 20, {0x90, 9, 9});
    Echo e;
    d.run(e, start, 16, 2);
    ASSERT_EQ(d.midi_out(0).size(), 1U);
    EXPECT_EQ(d.midi_out(0)[0].frame, start + 21);
}

} // namespace
