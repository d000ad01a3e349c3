#include "jack/reconnect.hpp"

namespace lockstep::jack {

std::chrono::milliseconds reconnect_delay(std::uint32_t attempt) noexcept {
    auto d = reconnect_first_delay;
    for (std::uint32_t i = 0; i < attempt && d < reconnect_max_delay; ++i) {
        d *= 2;
    }
    return d < reconnect_max_delay ? d : reconnect_max_delay;
}

} // namespace lockstep::jack
