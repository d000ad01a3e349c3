#include "jack/cycle_frames.hpp"

#include <gtest/gtest.h>

#include <cstdint>

using lockstep::Frame;
using lockstep::jack::CycleFrames;

namespace {

constexpr Frame epoch = Frame{1} << 32;

TEST(CycleFrames, FollowsJackOnARunningServer) {
    CycleFrames f;
    EXPECT_EQ(f.start(123456, 256), 123456); // the first reading maps to itself
    EXPECT_EQ(f.start(123456 + 256, 256), 123456 + 256);
    EXPECT_EQ(f.end(), 123456 + 512);
    EXPECT_EQ(f.jumps(), 0U);
}

TEST(CycleFrames, UnwrapsJacks32BitCounter) {
    CycleFrames f;
    std::uint32_t r = 0xFFFFFF00U;
    Frame want = r;
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(f.start(r, 128), want);
        r += 128; // wraps after the second cycle
        want += 128;
    }
    EXPECT_GT(f.end(), epoch);
    EXPECT_EQ(f.jumps(), 0U);
}

TEST(CycleFrames, PipewireJumpsAheadOnABufferSizeChangeAndWeFollow) {
    CycleFrames f;
    f.start(9728, 256);                    // ends at 9984
    EXPECT_EQ(f.start(10112, 128), 10112); // PipeWire: next multiple of the new period
    EXPECT_EQ(f.jumps(), 1U);
    EXPECT_EQ(f.start(10240, 128), 10240);
}

TEST(CycleFrames, Jackd2GoesBackOnAShrinkAndWeContinueInstead) {
    CycleFrames f;
    f.start(46336, 256);                   // ends at 46592
    EXPECT_EQ(f.start(46464, 128), 46592); // jackd2 reports 46464: back by 128
    EXPECT_EQ(f.start(46592, 128), 46720); // and keeps that offset, contiguous
    EXPECT_EQ(f.jumps(), 0U);
}

TEST(CycleFrames, ANewServerCountingFromZeroContinuesTheMusic) {
    CycleFrames f;
    f.start(1'000'000, 256);
    f.start(1'000'256, 256); // ends at 1'000'512
    f.new_session();
    EXPECT_EQ(f.start(512, 256), 1'000'512); // new server at 512: no gap, no going back
    EXPECT_EQ(f.start(768, 256), 1'000'768);
    EXPECT_EQ(f.jumps(), 0U);
}

TEST(CycleFrames, ANewSessionAfterTheWrapStaysMonotonic) {
    CycleFrames f;
    f.start(0xFFFFFF00U, 256); // ends at 2^32
    f.new_session();
    EXPECT_EQ(f.start(0, 256), epoch);
    f.new_session(); // the new server is ahead of us: still continue, never jump back
    EXPECT_EQ(f.start(0x7000'0000U, 256), epoch + 256);
}

} // namespace
