#include "jack/reconnect.hpp"

namespace lockstep::jack {

std::chrono::milliseconds reconnect_delay(std::uint32_t attempt) noexcept {
    auto d = reconnect_first_delay;
    for (std::uint32_t i = 0; i < attempt && d < reconnect_max_delay; ++i) {
        d *= 2;
    }
    return d < reconnect_max_delay ? d : reconnect_max_delay;
}

Frame session_offset(Frame previous_end, Frame first_unwrapped) noexcept {
    constexpr Frame epoch = Frame{1} << 32;
    if (first_unwrapped >= previous_end) {
        return 0;
    }
    const Frame gap = previous_end - first_unwrapped;
    return (gap + epoch - 1) / epoch * epoch;
}

Frame monotonic_offset(Frame offset, Frame unwrapped, Frame previous_end) noexcept {
    return unwrapped + offset < previous_end ? previous_end - unwrapped : offset;
}

} // namespace lockstep::jack
