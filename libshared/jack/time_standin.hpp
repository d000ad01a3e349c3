// TEMPORARY stand-in for time/frame_clock.hpp and time/clock_map.hpp (branch h/time),
// removed when that branch is merged.
#pragma once

#include "jack/cycle.hpp"
#include "rt/rt.hpp"

#include <cstdint>

namespace lockstep {

class FrameClock {
public:
    Frame unwrap(std::uint32_t jack_frame) noexcept RT_NONBLOCKING {
        if (!started_) {
            started_ = true;
            last_ = jack_frame;
            value_ = jack_frame;
            return value_;
        }
        const auto delta = static_cast<std::int32_t>(jack_frame - last_);
        value_ += delta;
        last_ = jack_frame;
        return value_;
    }

private:
    bool started_ = false;
    std::uint32_t last_ = 0;
    Frame value_ = 0;
};

struct CycleTiming {
    Frame frame;
    std::uint64_t usecs;
    std::uint64_t next_usecs;
    std::uint32_t nframes;
    std::uint32_t rate;
};

} // namespace lockstep
