// The adapter's frame bookkeeping: JACK's 32-bit cycle-start readings become Cycle::start,
// 64-bit and never going back (docs/timing.md, time/frame_clock.hpp):
// - on a running server Cycle::start is JACK's counter unwrapped, forward jumps included
//   (PipeWire moves its counter ahead when the buffer size changes);
// - when the counter goes back (a new server after a reconnection; jackd2 shrinking the
//   period moves it back by the difference; PipeWire's freewheel driver counts from its own
//   origin, so entering and leaving freewheel moves it back) the cycle starts where the
//   last one ended: the music just continues. Clients that ran the same cycles before such
//   a step keep agreeing on frames; one that joins later may not.
// Thread: the process thread (RT) only.
#pragma once

#include "rt/rt.hpp"
#include "time/frame_clock.hpp"

#include <cstdint>

namespace lockstep::jack {

class CycleFrames {
public:
    // RT: the next reading comes from a new connection to a (restarted) server.
    void new_session() noexcept RT_NONBLOCKING { new_session_ = true; }

    // RT: the start frame of a cycle of `nframes` whose start JACK reports as `reading`.
    Frame start(std::uint32_t reading, std::uint32_t nframes) noexcept RT_NONBLOCKING {
        if (clock_.started()) {
            // Before the previous cycle's end on the same server, or anything after a new
            // session: continue at the previous end. (FrameClock alone would only notice
            // a step back of 2^31 frames or more.)
            const bool back = reading - end_reading_ >= (std::uint32_t{1} << 31); // mod 2^32
            if (new_session_ || back) {
                clock_.rebase(end_);
            }
        }
        new_session_ = false;
        end_reading_ = reading + nframes;
        const Frame start = clock_.update(reading);
        if (started_ && start != end_) {
            ++jumps_;
        }
        started_ = true;
        end_ = start + nframes;
        return start;
    }

    // RT: end of the last cycle (0 before the first).
    Frame end() const noexcept RT_NONBLOCKING { return end_; }
    // RT: cycles that did not start where the previous one ended (all forward).
    std::uint64_t jumps() const noexcept RT_NONBLOCKING { return jumps_; }

private:
    FrameClock clock_;
    std::uint32_t end_reading_ = 0; // the previous cycle's end as JACK counts (mod 2^32)
    Frame end_ = 0;
    std::uint64_t jumps_ = 0;
    bool started_ = false;
    bool new_session_ = false;
};

} // namespace lockstep::jack
