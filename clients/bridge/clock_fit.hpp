// The bridge's continuous clock fit: device time as a straight line of host time.
//
// The host pings the box; each ping gives four stamps: host send (t1), device receive (t2),
// device send (t3), host receive (t4). Host stamps count CLOCK_MONOTONIC_RAW in ns, the
// clock JACK2's jack_get_time() reads on Linux; device stamps count the box's own clock,
// whose crystal runs some ppm off. A sample says "device time (t2+t3)/2 happened at host
// time (t1+t4)/2, give or take half its round trip" (NTP's reasoning).
//
// Filtering (docs/bridge.md, "Clock sync"): USB delays are quantised to bus frames and
// have heavy-tailed spikes, so only the lowest-round-trip sample of each window of pings
// becomes a fit point, points whose round trip is far above the recent minimum are
// dropped, and each point is weighted by how close its round trip is to that minimum.
// Offset and drift then come from weighted least squares over a sliding history,
// recomputed from scratch (two-pass, centred, long double) on every new point, so no
// rounding error accumulates over days. A point that contradicts the fit by more than its
// round trip allows is rejected; several in a row mean the device clock stepped, and the
// fit starts over.
//
// What no two-way exchange can see: a constant difference between the outbound and the
// inbound minimum delay shifts every point by half that difference. It is the same for
// every trigger, a few µs on USB, and ends up in the end-to-end error.
#pragma once

#include "core/config.hpp" // lockstep::fw::DeviceTime
#include "rt/rt.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace lockstep::bridge {

using DeviceTime = fw::DeviceTime;

// One ping exchange. Host times: CLOCK_MONOTONIC_RAW ns; device times: device ns.
struct ClockSample {
    std::int64_t host_send_ns = 0;    // t1, just before the ping is written
    DeviceTime device_receive_ns = 0; // t2, when the device saw the ping
    DeviceTime device_send_ns = 0;    // t3, when the device sent its pong
    std::int64_t host_receive_ns = 0; // t4, when the pong was read
};

// A fitted line, small and trivially copyable: the serial thread publishes it (e.g. through
// a seqlock) and the process thread maps times with it.
//   device(h) = device_anchor + (h - host_anchor) + offset_ns + drift * (h - host_anchor)
// Thread: any; the mapping functions are pure and RT_NONBLOCKING.
struct ClockLine {
    bool valid = false;             // false until the fit is locked
    std::int64_t host_anchor = 0;   // host ns near the centre of the fitted points
    std::int64_t device_anchor = 0; // device ns, = host_anchor + (device - host) at reference
    long double offset_ns = 0;      // fractional correction at host_anchor
    long double drift = 0;          // (device rate / host rate) - 1, e.g. 20e-6 for +20 ppm
    long double offset_se_ns = 0;   // standard error of the line at host_anchor
    long double drift_se = 0;       // standard error of drift
    std::int64_t rtt_min_ns = 0;    // smallest round trip among the recent pings
    std::int64_t rtt_median_ns = 0; // their median: the typical trip, one spike does not move it
    std::int64_t rtt_max_ns = 0;    // largest round trip among the recent pings

    // Device time at host time h (ns, rounded to nearest). Clamped at 0.
    DeviceTime to_device(std::int64_t host_ns) const noexcept RT_NONBLOCKING;
    // Host time at which the device clock reads d (ns, rounded to nearest).
    std::int64_t from_device(DeviceTime device_ns) const noexcept RT_NONBLOCKING;
    // One standard error of to_device(h) in ns (grows away from the anchor). Does not include
    // the unobservable delay asymmetry described above.
    long double uncertainty_ns(std::int64_t host_ns) const noexcept RT_NONBLOCKING;
    double drift_ppm() const noexcept RT_NONBLOCKING { return static_cast<double>(drift * 1e6L); }
};
static_assert(std::is_trivially_copyable_v<ClockLine>);

struct ClockFitConfig {
    // Pings per window: only the lowest round trip of each becomes a fit point. Until the
    // fit has `acquire_points` points every ping is its own window, so a (re)lock takes
    // lock_points pings and the young fit, whose drift is still rough, gets points quickly.
    unsigned window = 4;
    unsigned lock_points = 6;                 // fit points needed to lock (>= 3)
    unsigned acquire_points = 20;             // fit points taken one ping each after a (re)start
    std::int64_t history_ns = 30'000'000'000; // points older than this (before the newest) go
    std::int64_t spike_ns = 1'000'000;        // candidates this far above the floor are dropped
    std::int64_t sigma_ns = 20'000;           // weight = 1 / (sigma + excess/2)^2
    std::int64_t gate_ns = 200'000;           // inconsistent: |residual| > rtt/2 + gate
    unsigned step_count = 4;                  // consecutive inconsistent points => start over
    // The line is only locked (valid) while one standard error of its prediction at
    // `horizon_ns` after the newest point is at most `lock_se_ns`: a young fit of a few noisy
    // points (a loaded host delays one leg of some pings by a ms or two) extrapolates its
    // rough drift to ms errors a lead ahead. The horizon must cover the lead plus the time
    // between fit points (cover_lead() widens it); 500 ms covers the default 10 ms lead.
    std::int64_t horizon_ns = 500'000'000;
    std::int64_t lock_se_ns = 60'000;
    // The residual scale is taken as at least this fraction of sigma_ns: a few points that
    // happen to lie on a line must not claim more precision than the link can give.
    double min_scale = 0.5;

    // Widens horizon_ns so that the lock vouches for every trigger time the line is used
    // for: up to `lead_ns` after a cycle, which is up to one window of pings (every
    // `ping_ns`) after the newest point. Never narrows it.
    void cover_lead(std::int64_t lead_ns, std::int64_t ping_ns) noexcept {
        horizon_ns = std::max(horizon_ns, lead_ns + static_cast<std::int64_t>(window) * ping_ns);
    }
};

// What add_sample() did with a sample.
enum class SampleVerdict : std::uint8_t {
    pending,      // kept as the window's candidate (or beaten by an earlier one)
    accepted,     // a window closed and its best sample became a fit point
    spike,        // a window closed and its best sample was far above the round-trip floor
    inconsistent, // a window closed and its best sample contradicted the fit
    restarted,    // ... and that was one too many in a row: the fit started over from it
    invalid,      // stamps impossible (time going backwards, negative round trip)
};

struct ClockStats {
    std::uint64_t samples = 0; // add_sample() calls since construction
    std::uint64_t invalid = 0;
    std::uint64_t accepted = 0; // fit points
    std::uint64_t spikes = 0;
    std::uint64_t inconsistent = 0;
    std::uint64_t restarts = 0;  // automatic restarts after a clock step
    std::uint64_t resets = 0;    // reset() calls (device reboots)
    std::int64_t rtt_min_ns = 0; // over the last `rtt_ring` valid samples
    std::int64_t rtt_mean_ns = 0;
    std::int64_t rtt_max_ns = 0;
    double residual_rms_ns = 0; // weighted RMS of the fit points around the line
    std::size_t points = 0;     // fit points in the history
};

// Thread: the bridge's serial thread only (the one that writes pings and reads pongs).
// Not RT-constrained, but it never allocates: memory is fixed rings inside the object.
class ClockFit {
public:
    static constexpr std::size_t capacity = 1024; // fit points kept at most
    static constexpr std::size_t rtt_ring = 64;   // recent round trips (floor and statistics)

    explicit ClockFit(const ClockFitConfig& config = {}) noexcept;

    // Feeds one ping exchange (in the order the pongs arrive).
    SampleVerdict add_sample(const ClockSample& s) noexcept;
    // Forgets everything but the cumulative counters: the device rebooted (new boot id).
    void reset() noexcept;

    bool locked() const noexcept { return line_.valid; }
    // The current line (valid == locked()). Copy it to publish it.
    const ClockLine& line() const noexcept { return line_; }
    DeviceTime to_device(std::int64_t host_ns) const noexcept { return line_.to_device(host_ns); }
    std::int64_t from_device(DeviceTime d) const noexcept { return line_.from_device(d); }
    double drift_ppm() const noexcept { return line_.drift_ppm(); }
    // Device minus host at host time h, ns (what /bridge/status reports as the offset).
    double offset_ns(std::int64_t host_ns) const noexcept;
    ClockStats stats() const noexcept;
    const ClockFitConfig& config() const noexcept { return config_; }

private:
    struct Point {
        std::int64_t host_mid2 = 0;   // t1 + t4
        std::int64_t device_mid2 = 0; // t2 + t3
        std::int64_t rtt = 0;
        double weight = 0;
    };

    void clear() noexcept;
    SampleVerdict close_window() noexcept;
    void refit() noexcept;
    std::int64_t rtt_floor() const noexcept;

    ClockFitConfig config_;
    std::array<Point, capacity> points_{};
    std::size_t head_ = 0; // index of the oldest point
    std::size_t count_ = 0;
    std::array<std::int64_t, rtt_ring> rtts_{};
    std::size_t rtt_next_ = 0;
    std::size_t rtt_count_ = 0;
    Point candidate_{};
    bool has_candidate_ = false;
    unsigned in_window_ = 0;
    unsigned inconsistent_run_ = 0;
    ClockLine line_{};
    bool line_fitted_ = false;   // line_ rests on lock_points points (valid or not)
    std::int64_t fit_floor_ = 0; // the round-trip floor line_ was fitted against
    double residual_rms_ = 0;
    ClockStats counts_{};
};

} // namespace lockstep::bridge
