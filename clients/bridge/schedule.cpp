#include "schedule.hpp"

#include "time/int128.hpp"

#include <limits>

namespace lockstep::bridge {

namespace {

// floor(n / d) for d > 0.
i128 floor_div(i128 n, i128 d) noexcept RT_NONBLOCKING {
    const i128 q = n / d;
    return (n % d != 0 && n < 0) ? q - 1 : q;
}

std::int64_t saturate(i128 v) noexcept RT_NONBLOCKING {
    if (v > std::numeric_limits<std::int64_t>::max()) {
        return std::numeric_limits<std::int64_t>::max();
    }
    if (v < std::numeric_limits<std::int64_t>::min()) {
        return std::numeric_limits<std::int64_t>::min();
    }
    return static_cast<std::int64_t>(v);
}

} // namespace

std::int64_t host_ns_at_frame(const CycleTiming& cycle, Frame f) noexcept RT_NONBLOCKING {
    const i128 start_ns = static_cast<i128>(cycle.usecs) * 1000 + cycle.raw_offset_ns;
    const i128 df = static_cast<i128>(f) - cycle.frame;
    i128 num = 0;
    i128 den = 1;
    if (cycle.next_usecs > cycle.usecs && cycle.nframes > 0) {
        num = df * static_cast<i128>(cycle.next_usecs - cycle.usecs) * 1000;
        den = cycle.nframes;
    } else if (cycle.rate > 0) {
        num = df * 1'000'000'000;
        den = cycle.rate;
    }
    // Nearest ns, halves up: floor((2 num + den) / 2 den).
    return saturate(start_ns + floor_div(2 * num + den, 2 * den));
}

ScheduledTrigger Scheduler::schedule(const CycleTiming& cycle, Frame f, const ClockLine& line,
                                     std::int64_t now_ns) noexcept RT_NONBLOCKING {
    ScheduledTrigger t;
    t.host_ns = host_ns_at_frame(cycle, f);
    if (!line.valid) {
        t.verdict = ScheduleVerdict::unsynced;
        ++counts_.unsynced;
        return t;
    }
    // The lead is host time: mapping host + lead (not adding lead to a device time) keeps
    // the device's rate error out of it (10 ms at 500 ppm would be 5 µs).
    const std::int64_t fire_host = t.host_ns + config_.lead_ns;
    t.device_ns = line.to_device(fire_host);
    // The smallest recent round trip, not the median: it is what the link can do. On a
    // loaded host the median grows with the host's own wake-ups (the serial thread stamps
    // a pong when it gets to read it), which delay pongs but not a trigger already written,
    // and with the median such a host dropped triggers that still had most of their lead.
    // A whole minimum round trip is more than a one-way trip needs (conservative: some
    // triggers dropped here would have made it); what arrives late after all the box drops
    // and counts (never fires late).
    t.slack_ns = fire_host - (now_ns + line.rtt_min_ns + config_.send_margin_ns);
    if (t.slack_ns < 0) {
        t.verdict = ScheduleVerdict::late;
        ++counts_.late;
        return t;
    }
    t.verdict = ScheduleVerdict::send;
    if (counts_.sent == 0 || t.slack_ns < counts_.min_slack_ns) {
        counts_.min_slack_ns = t.slack_ns;
    }
    ++counts_.sent;
    return t;
}

} // namespace lockstep::bridge
