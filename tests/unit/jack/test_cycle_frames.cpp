#include "jack/cycle_frames.hpp"

#include <gtest/gtest.h>

#include <cstdint>

using lockstep::Frame;
using lockstep::jack::CycleFrames;

namespace {

constexpr Frame epoch = CycleFrames::epoch;

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

TEST(CycleFrames, AForwardJumpIsTakenOneCycleLate) {
    CycleFrames f;
    f.start(9728, 256);                    // ends at 9984
    EXPECT_EQ(f.start(10112, 128), 9984);  // PipeWire: next multiple of the new period
    EXPECT_EQ(f.start(10240, 128), 10240); // where JACK says from here on
    EXPECT_EQ(f.start(10368, 128), 10368);
    EXPECT_EQ(f.jumps(), 1U);
}

TEST(CycleFrames, AReadAheadFromPipewireLeavesNoTrace) {
    CycleFrames a;
    CycleFrames b;
    a.start(4096, 4096);
    b.start(4096, 4096);
    EXPECT_EQ(a.start(8192, 4096), 8192);
    EXPECT_EQ(b.start(12288, 4096), 8192); // b was handed the next cycle's position
    for (std::uint32_t r = 12288; r < 40960; r += 4096) {
        EXPECT_EQ(a.start(r, 4096), r);
        EXPECT_EQ(b.start(r, 4096), r); // then the right one again: still in step with a
    }
    EXPECT_EQ(b.jumps(), 0U);
}

TEST(CycleFrames, Jackd2GoesBackOnAShrinkAndWeFollowAnEpochOn) {
    CycleFrames f;
    f.start(46336, 256); // ends at 46592
    // jackd2 reports 46464, back by 128: held one cycle, then JACK's counter + 2^32.
    EXPECT_EQ(f.start(46464, 128), 46592);
    EXPECT_EQ(f.start(46592, 128), 46592 + epoch);
    EXPECT_EQ(f.start(46720, 128), 46720 + epoch);
    EXPECT_EQ(f.steps_back(), 1U);
    EXPECT_EQ(f.jumps(), 1U);
}

// Around PipeWire's switch to freewheel, clients see different cycles of the old driver;
// they agree on every frame of the new one after its first cycle.
TEST(CycleFrames, ClientsAgreeAfterAStepBackWhateverCyclesTheySawBeforeIt) {
    CycleFrames a;
    CycleFrames b;
    a.start(49152, 4096);
    b.start(49152, 4096);
    b.start(53248, 4096); // one more cycle of the old driver for b
    b.start(61440, 4096); // and a skipped one
    a.start(4096, 4096);  // the freewheel driver's counter
    b.start(4096, 4096);
    for (std::uint32_t r = 8192; r < 40960; r += 4096) {
        EXPECT_EQ(a.start(r, 4096), r + epoch) << r;
        EXPECT_EQ(b.start(r, 4096), r + epoch) << r;
    }
    // Leaving freewheel: back again, both move on to the next epoch.
    a.start(20480, 4096);
    b.start(20480, 4096);
    EXPECT_EQ(a.start(24576, 4096), 24576 + 2 * epoch);
    EXPECT_EQ(b.start(24576, 4096), 24576 + 2 * epoch);
}

TEST(CycleFrames, ARepeatedPositionStartsWhereTheLastCycleEnded) {
    CycleFrames f;
    f.start(8192, 4096);
    EXPECT_EQ(f.start(8192, 4096), 12288);
    EXPECT_EQ(f.start(16384, 4096), 16384);
    EXPECT_EQ(f.steps_back(), 0U);
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
