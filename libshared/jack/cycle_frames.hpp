// The adapter's frame bookkeeping: JACK's 32-bit cycle-start readings become Cycle::start,
// 64-bit, never going back, and (on a running server) agreeing between clients:
// - Cycle::start follows JACK's counter, unwrapped (time/frame_clock.hpp).
// - When the counter steps back on a running server (jackd2 shrinking the period moves it
//   back by the difference; PipeWire's freewheel driver counts from its own origin, so
//   entering and leaving freewheel moves it back), it is followed one 2^32 epoch on: the
//   low 32 bits stay JACK's counter, so clients that saw the step agree on frames, whatever
//   cycles the server ran for each around it.
// - A forward jump is taken one cycle late: that cycle starts where the last one ended and
//   the next one where JACK says. PipeWire 0.3.65 now and then hands a client the next
//   cycle's position and then the right one again; held back like this, that client stays
//   on the same frames as the others. A real jump (PipeWire's counter moves ahead when the
//   buffer size changes) shows one cycle later.
// - A cycle JACK puts before the previous one's end for any other reason (a repeated
//   position) starts where the last one ended.
// - A new server (after a reconnection) counts from 0: the cycle starts where the last one
//   ended, the music continues and the time without a server is not counted
//   (docs/timing.md).
// Thread: the process thread (RT) only.
#pragma once

#include "rt/rt.hpp"
#include "time/frame_clock.hpp"

#include <cstdint>

namespace lockstep::jack {

class CycleFrames {
public:
    static constexpr Frame epoch = Frame{1} << 32;

    // RT: the next reading comes from a new connection to a (restarted) server.
    void new_session() noexcept RT_NONBLOCKING { new_session_ = true; }

    // RT: the start frame of a cycle of `nframes` whose start JACK reports as `reading`.
    Frame start(std::uint32_t reading, std::uint32_t nframes) noexcept RT_NONBLOCKING {
        constexpr std::uint32_t half = std::uint32_t{1} << 31;
        if (clock_.started()) {
            const std::uint32_t back = end_reading_ - reading; // mod 2^32
            if (new_session_) {
                clock_.rebase(end_);
            } else if (reading != last_reading_ && back != 0 && back < half) {
                clock_.rebase(jack_end_ - back + epoch);
                ++steps_back_;
            }
        }
        const Frame jack = clock_.update(reading); // where JACK's counter puts the cycle
        Frame start = jack;
        if (started_ && !new_session_) {
            if (jack > end_ && !held_) {
                start = end_;
                held_ = true;
            } else {
                held_ = false;
                start = jack < end_ ? end_ : jack;
            }
            if (start != end_) {
                ++jumps_;
            }
        }
        new_session_ = false;
        started_ = true;
        last_reading_ = reading;
        end_reading_ = reading + nframes;
        jack_end_ = jack + nframes;
        end_ = start + nframes;
        return start;
    }

    // RT: end of the last cycle (0 before the first).
    Frame end() const noexcept RT_NONBLOCKING { return end_; }
    // RT: cycles that did not start where the previous one ended (all forward).
    std::uint64_t jumps() const noexcept RT_NONBLOCKING { return jumps_; }
    // RT: times JACK's counter stepped back on a running server.
    std::uint64_t steps_back() const noexcept RT_NONBLOCKING { return steps_back_; }

private:
    FrameClock clock_;
    std::uint32_t last_reading_ = 0;
    std::uint32_t end_reading_ = 0; // the last cycle's end as JACK counts (mod 2^32)
    Frame jack_end_ = 0;            // ... on JACK's unwrapped counter
    Frame end_ = 0;                 // ... as we numbered it
    std::uint64_t jumps_ = 0;
    std::uint64_t steps_back_ = 0;
    bool started_ = false;
    bool held_ = false;
    bool new_session_ = false;
};

} // namespace lockstep::jack
