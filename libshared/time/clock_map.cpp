#include "time/clock_map.hpp"

#include "time/int128.hpp"

#include <limits>

namespace lockstep {

namespace {

constexpr i128 ns_per_s = 1'000'000'000;
constexpr i128 us_per_s = 1'000'000;
constexpr i128 two32 = i128{1} << 32;
// Seconds from 1900-01-01 (NTP epoch) to 1970-01-01 (Unix epoch).
constexpr i128 ntp_unix_offset_s = 2'208'988'800;
// One JACK microsecond in timetag-derived units: time_scaled / scale == microseconds.
constexpr i128 tt_us_scale = 1000 * two32;

// floor(a / b) and ceil(a / b) for b > 0.
constexpr i128 floor_div(i128 a, i128 b) noexcept RT_NONBLOCKING {
    const i128 q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}
constexpr i128 ceil_div(i128 a, i128 b) noexcept RT_NONBLOCKING {
    const i128 q = a / b;
    return (a % b != 0 && a > 0) ? q + 1 : q;
}

constexpr Frame saturate_frame(i128 v) noexcept RT_NONBLOCKING {
    if (v > std::numeric_limits<Frame>::max()) {
        return std::numeric_limits<Frame>::max();
    }
    if (v < std::numeric_limits<Frame>::min()) {
        return std::numeric_limits<Frame>::min();
    }
    return static_cast<Frame>(v);
}

// Seconds since 1900 of a timetag's seconds field, with the RFC 4330 era rule.
constexpr i128 ntp_seconds(std::uint64_t timetag) noexcept RT_NONBLOCKING {
    const auto s = static_cast<i128>(timetag >> 32);
    return s < (i128{1} << 31) ? s + two32 : s;
}

// The timetag's Unix time in units of 2^-32 ns (exact).
constexpr i128 unix_time_scaled(std::uint64_t timetag) noexcept RT_NONBLOCKING {
    const auto frac = static_cast<i128>(timetag & 0xffff'ffffU);
    return (ntp_seconds(timetag) - ntp_unix_offset_s) * ns_per_s * two32 + frac * ns_per_s;
}

// The first frame starting at or after time t = t_scaled / scale JACK microseconds.
Frame frame_at_scaled_time(const CycleTiming& c, i128 t_scaled,
                           i128 scale) noexcept RT_NONBLOCKING {
    const i128 offset = t_scaled - static_cast<i128>(c.usecs) * scale; // (t - usecs) * scale
    i128 num = 0;
    i128 den = 0;
    if (c.next_usecs > c.usecs && c.nframes > 0) {
        // Frames per microsecond = nframes / (next_usecs - usecs).
        if (__builtin_mul_overflow(offset, static_cast<i128>(c.nframes), &num)) {
            return offset > 0 ? std::numeric_limits<Frame>::max()
                              : std::numeric_limits<Frame>::min();
        }
        den = static_cast<i128>(c.next_usecs - c.usecs) * scale;
    } else if (c.rate > 0) {
        if (__builtin_mul_overflow(offset, static_cast<i128>(c.rate), &num)) {
            return offset > 0 ? std::numeric_limits<Frame>::max()
                              : std::numeric_limits<Frame>::min();
        }
        den = us_per_s * scale;
    } else {
        return c.frame;
    }
    return saturate_frame(static_cast<i128>(c.frame) + ceil_div(num, den));
}

// The timetag's instant on JACK's clock, in units of 1 / tt_us_scale microseconds.
constexpr i128 jack_time_scaled(std::uint64_t timetag,
                                const ClockPair& pair) noexcept RT_NONBLOCKING {
    return static_cast<i128>(pair.jack_usecs) * tt_us_scale + unix_time_scaled(timetag) -
           static_cast<i128>(pair.realtime_ns) * two32;
}

} // namespace

Frame frame_at_jack_time(const CycleTiming& cycle,
                         std::uint64_t jack_usecs) noexcept RT_NONBLOCKING {
    return frame_at_scaled_time(cycle, static_cast<i128>(jack_usecs), 1);
}

std::int64_t unix_ns_from_timetag(std::uint64_t timetag) noexcept RT_NONBLOCKING {
    // Round half up: floor(x + 1/2) with x in 2^-32 ns units.
    return static_cast<std::int64_t>(floor_div(unix_time_scaled(timetag) + two32 / 2, two32));
}

std::uint64_t timetag_from_unix_ns(std::int64_t unix_ns) noexcept RT_NONBLOCKING {
    // Units of 2^-32 s since 1900, rounded to nearest (halves up).
    i128 units = floor_div(static_cast<i128>(unix_ns) * two32 + ns_per_s / 2, ns_per_s);
    units += ntp_unix_offset_s * two32;
    // Clamp to the span the era rule can express (1968-01-20 .. 2104-02-26).
    const i128 lo = (i128{1} << 31) * two32;
    const i128 hi = (two32 + (i128{1} << 31)) * two32 - 1;
    if (units < lo) {
        units = lo;
    } else if (units > hi) {
        units = hi;
    }
    return static_cast<std::uint64_t>(units & ((i128{1} << 64) - 1));
}

std::uint64_t jack_usecs_at_timetag(std::uint64_t timetag,
                                    const ClockPair& pair) noexcept RT_NONBLOCKING {
    if (is_immediate(timetag)) {
        return 0;
    }
    const i128 us = ceil_div(jack_time_scaled(timetag, pair), tt_us_scale);
    if (us < 0) {
        return 0;
    }
    if (us > static_cast<i128>(std::numeric_limits<std::uint64_t>::max())) {
        return std::numeric_limits<std::uint64_t>::max();
    }
    return static_cast<std::uint64_t>(us);
}

Frame frame_at_timetag(const CycleTiming& cycle, const ClockPair& pair,
                       std::uint64_t timetag) noexcept RT_NONBLOCKING {
    if (is_immediate(timetag)) {
        return std::numeric_limits<Frame>::min();
    }
    return frame_at_scaled_time(cycle, jack_time_scaled(timetag, pair), tt_us_scale);
}

} // namespace lockstep
