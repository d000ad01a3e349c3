#include "jack/offline.hpp"

#include <gtest/gtest.h>

#include <array>

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

// Records the transport each cycle saw.
class TransportSeen final : public Processor {
public:
    void process(Cycle& c) noexcept RT_NONBLOCKING override {
        if (n < seen.size()) {
            seen[n++] = c.transport;
        }
    }
    std::array<lockstep::jack::Transport, 16> seen{};
    std::size_t n = 0;
};

lockstep::jack::Transport transport(lockstep::jack::TransportState state, std::uint32_t frame) {
    lockstep::jack::Transport t;
    t.valid = true;
    t.state = state;
    t.frame = frame;
    return t;
}

TEST(OfflineDriver, TransportIsInvalidUnlessSetAndRollsWithTheCycles) {
    using lockstep::jack::TransportState;
    OfflineDriver d({.midi_in = 0, .midi_out = 0, .audio_in = 0, .audio_out = 0}, 48000);
    TransportSeen p;
    d.run_cycle(p, 0, 64);
    EXPECT_FALSE(p.seen[0].valid);

    d.set_transport(transport(TransportState::stopped, 1000));
    d.run(p, 64, 64, 2); // stopped: the transport frame stays
    EXPECT_TRUE(p.seen[1].valid);
    EXPECT_EQ(p.seen[1].frame, 1000U);
    EXPECT_EQ(p.seen[2].frame, 1000U);

    d.set_transport(transport(TransportState::rolling, 1000));
    d.run_cycle(p, 192, 64);
    d.run_cycle(p, 256, 32); // cycle lengths may change: each adds its own
    d.run_cycle(p, 288, 64);
    EXPECT_EQ(p.seen[3].state, TransportState::rolling);
    EXPECT_EQ(p.seen[3].frame, 1000U);
    EXPECT_EQ(p.seen[4].frame, 1064U);
    EXPECT_EQ(p.seen[5].frame, 1096U);
    EXPECT_EQ(d.transport().frame, 1160U);

    // The 32-bit transport frame wraps like JACK's.
    d.set_transport(transport(TransportState::rolling, 0xFFFFFFF0U));
    d.run(p, 352, 32, 2);
    EXPECT_EQ(p.seen[6].frame, 0xFFFFFFF0U);
    EXPECT_EQ(p.seen[7].frame, 0x10U);
}

} // namespace
