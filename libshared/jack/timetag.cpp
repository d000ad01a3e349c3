#include "jack/timetag.hpp"

#include <jack/jack.h>

#include <ctime>

namespace lockstep::jack {

ClockPair read_clock_pair() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    ClockPair pair;
    pair.jack_usecs = ::jack_get_time();
    pair.realtime_ns = static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
    return pair;
}

std::optional<Frame> frame_at_timetag(const Client& client, std::uint64_t ntp_timetag) noexcept {
    CycleTiming timing{};
    if (!client.timing(timing)) {
        return std::nullopt;
    }
    return lockstep::frame_at_timetag(timing, read_clock_pair(), ntp_timetag);
}

} // namespace lockstep::jack
