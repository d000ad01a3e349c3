#include "clock_fit.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace lockstep::bridge {

namespace {

std::int64_t round_ld(long double v) noexcept RT_NONBLOCKING {
    constexpr long double lim = 9.2e18L;
    if (!(v < lim)) {
        return std::numeric_limits<std::int64_t>::max();
    }
    if (!(v > -lim)) {
        return std::numeric_limits<std::int64_t>::min();
    }
    // Round half away from zero without calling into libm (llroundl is not annotated).
    const long double r = v < 0 ? v - 0.5L : v + 0.5L;
    return static_cast<std::int64_t>(r);
}

} // namespace

DeviceTime ClockLine::to_device(std::int64_t host_ns) const noexcept RT_NONBLOCKING {
    // Integer part exact; only the small correction goes through long double.
    const std::int64_t dx = host_ns - host_anchor;
    const std::int64_t d = device_anchor + dx + round_ld(offset_ns + drift * dx);
    return d < 0 ? DeviceTime{0} : static_cast<DeviceTime>(d);
}

std::int64_t ClockLine::from_device(DeviceTime device_ns) const noexcept RT_NONBLOCKING {
    const std::int64_t e = static_cast<std::int64_t>(device_ns) - device_anchor;
    // e = dx * (1 + drift) + offset  =>  dx = (e - offset) / (1 + drift)
    const long double dx = (static_cast<long double>(e) - offset_ns) / (1.0L + drift);
    return host_anchor + round_ld(dx);
}

long double ClockLine::uncertainty_ns(std::int64_t host_ns) const noexcept RT_NONBLOCKING {
    const long double dx = static_cast<long double>(host_ns - host_anchor);
    const long double v = offset_se_ns * offset_se_ns + drift_se * drift_se * dx * dx;
    // Newton's square root: std::sqrt is not annotated nonblocking under clang.
    if (!(v > 0)) {
        return 0;
    }
    long double r = v > 1 ? v : 1;
    for (int i = 0; i < 80; ++i) {
        const long double next = 0.5L * (r + v / r);
        if (next == r) {
            break;
        }
        r = next;
    }
    return r;
}

ClockFit::ClockFit(const ClockFitConfig& config) noexcept : config_(config) {
    config_.window = std::max(config_.window, 1U);
    config_.lock_points = std::max(config_.lock_points, 3U);
    config_.step_count = std::max(config_.step_count, 1U);
}

void ClockFit::clear() noexcept {
    head_ = 0;
    count_ = 0;
    rtt_next_ = 0;
    rtt_count_ = 0;
    has_candidate_ = false;
    in_window_ = 0;
    inconsistent_run_ = 0;
    line_ = ClockLine{};
    line_fitted_ = false;
    fit_floor_ = 0;
    residual_rms_ = 0;
}

void ClockFit::reset() noexcept {
    clear();
    ++counts_.resets;
}

std::int64_t ClockFit::rtt_floor() const noexcept {
    std::int64_t m = std::numeric_limits<std::int64_t>::max();
    for (std::size_t i = 0; i < rtt_count_; ++i) {
        m = std::min(m, rtts_[i]);
    }
    return m;
}

SampleVerdict ClockFit::add_sample(const ClockSample& s) noexcept {
    ++counts_.samples;
    const std::int64_t host_span = s.host_receive_ns - s.host_send_ns;
    const bool device_order = s.device_send_ns >= s.device_receive_ns;
    const auto turnaround = static_cast<std::int64_t>(s.device_send_ns - s.device_receive_ns);
    constexpr auto max_dev = static_cast<DeviceTime>(std::numeric_limits<std::int64_t>::max() / 2);
    if (host_span < 0 || !device_order || s.device_send_ns > max_dev || turnaround > host_span ||
        s.host_send_ns < 0 || s.host_receive_ns > std::numeric_limits<std::int64_t>::max() / 2) {
        ++counts_.invalid;
        return SampleVerdict::invalid;
    }
    const std::int64_t rtt = host_span - turnaround;
    rtts_[rtt_next_] = rtt;
    rtt_next_ = (rtt_next_ + 1) % rtt_ring;
    rtt_count_ = std::min(rtt_count_ + 1, rtt_ring);

    Point p;
    p.host_mid2 = s.host_send_ns + s.host_receive_ns;
    p.device_mid2 = static_cast<std::int64_t>(s.device_receive_ns + s.device_send_ns);
    p.rtt = rtt;
    if (!has_candidate_ || p.rtt < candidate_.rtt) {
        candidate_ = p;
        has_candidate_ = true;
    }
    ++in_window_;
    const unsigned window = count_ >= config_.acquire_points ? config_.window : 1U;
    if (in_window_ < window) {
        return SampleVerdict::pending;
    }
    return close_window();
}

SampleVerdict ClockFit::close_window() noexcept {
    Point p = candidate_;
    has_candidate_ = false;
    in_window_ = 0;

    if (p.rtt - rtt_floor() > config_.spike_ns) {
        ++counts_.spikes;
        return SampleVerdict::spike;
    }

    SampleVerdict verdict = SampleVerdict::accepted;
    // Gated as soon as there is a line of lock_points points, locked or not: a line still
    // too uncertain to lock must not take in a stepped clock's points either (its own error
    // widens the gate below, so it does not shut out the points that would correct it).
    if (line_fitted_) {
        // The device's stamps must sit inside the host's round trip: allow half of it
        // around the midpoint, plus a margin for the fit's own error.
        const long double host_mid = p.host_mid2 / 2.0L;
        const auto h = static_cast<std::int64_t>(p.host_mid2 / 2);
        const long double predicted =
            static_cast<long double>(line_.to_device(h)) + (host_mid - static_cast<long double>(h));
        const long double residual = p.device_mid2 / 2.0L - predicted;
        // The line's own error counts too: a young line must not shut out the points that
        // would correct it (it would then extrapolate its rough drift further and further).
        // And a line fitted while the round-trip floor was higher (a loaded host delayed
        // one leg of every ping by about the same) sits up to half that excess off: the
        // first good points after the load must correct it, not restart the fit.
        const long double floor_excess =
            static_cast<long double>(std::max<std::int64_t>(fit_floor_ - rtt_floor(), 0)) / 2;
        const long double allowed = p.rtt / 2.0L + static_cast<long double>(config_.gate_ns) +
                                    3 * line_.uncertainty_ns(h) + floor_excess;
        if (residual > allowed || residual < -allowed) {
            ++counts_.inconsistent;
            if (++inconsistent_run_ < config_.step_count) {
                return SampleVerdict::inconsistent;
            }
            // The device clock stepped: start over from this point.
            const std::int64_t keep_rtt = p.rtt;
            clear();
            ++counts_.restarts;
            rtts_[0] = keep_rtt;
            rtt_next_ = 1;
            rtt_count_ = 1;
            verdict = SampleVerdict::restarted;
        } else {
            inconsistent_run_ = 0;
        }
    }

    // Append, dropping the oldest when full or too old.
    if (count_ == capacity) {
        head_ = (head_ + 1) % capacity;
        --count_;
    }
    points_[(head_ + count_) % capacity] = p;
    ++count_;
    while (count_ > 1 && (p.host_mid2 - points_[head_].host_mid2) / 2 > config_.history_ns) {
        head_ = (head_ + 1) % capacity;
        --count_;
    }
    ++counts_.accepted;
    refit();
    return verdict;
}

void ClockFit::refit() noexcept {
    const Point& ref = points_[head_];
    // Reference: the oldest point, so x and o stay small (seconds, and µs..ms).
    const std::int64_t ref_h2 = ref.host_mid2;
    const std::int64_t ref_d2 = ref.device_mid2;
    const auto x_of = [&](const Point& q) { return (q.host_mid2 - ref_h2) / 2.0L; };
    // Offset relative to the reference: (device - host) now minus (device - host) then.
    const auto o_of = [&](const Point& q) {
        return ((q.device_mid2 - ref_d2) - (q.host_mid2 - ref_h2)) / 2.0L;
    };

    // Weights against the current floor: a point taken while the floor was still high (the
    // first pings after a reset) loses its weight once better round trips show up.
    const std::int64_t floor = rtt_floor();
    fit_floor_ = floor;
    std::size_t used = 0;
    for (std::size_t i = 0; i < count_; ++i) {
        Point& q = points_[(head_ + i) % capacity];
        const std::int64_t excess = std::max<std::int64_t>(q.rtt - floor, 0);
        if (excess > config_.spike_ns) {
            q.weight = 0;
            continue;
        }
        const long double scale = static_cast<long double>(config_.sigma_ns) + excess / 2.0L;
        q.weight = static_cast<double>(1.0L / (scale * scale));
        ++used;
    }

    long double sw = 0;
    long double sx = 0;
    long double so = 0;
    for (std::size_t i = 0; i < count_; ++i) {
        const Point& q = points_[(head_ + i) % capacity];
        sw += q.weight;
        sx += q.weight * x_of(q);
        so += q.weight * o_of(q);
    }
    const long double xm = sx / sw;
    const long double om = so / sw;
    long double sxx = 0;
    long double sxo = 0;
    for (std::size_t i = 0; i < count_; ++i) {
        const Point& q = points_[(head_ + i) % capacity];
        const long double dx = x_of(q) - xm;
        sxx += q.weight * dx * dx;
        sxo += q.weight * dx * (o_of(q) - om);
    }
    const long double drift = sxx > 0 ? sxo / sxx : 0.0L;
    long double srr = 0;
    for (std::size_t i = 0; i < count_; ++i) {
        const Point& q = points_[(head_ + i) % capacity];
        const long double r = o_of(q) - om - drift * (x_of(q) - xm);
        srr += q.weight * r * r;
    }
    residual_rms_ = static_cast<double>(std::sqrt(srr / sw));

    // Integer anchor at the centroid; device(h) = ref_d + (h - ref_h) + om + drift*(dx - xm).
    const std::int64_t ref_h = ref_h2 / 2;
    const std::int64_t ref_d = ref_d2 / 2;
    // ref_h2/2 may have dropped a half: fold it (and the device's) into the correction.
    const long double frac = ((ref_d2 - 2 * ref_d) - (ref_h2 - 2 * ref_h)) / 2.0L;
    const long double xm_from_ref_h = xm + (ref_h2 - 2 * ref_h) / 2.0L;
    const std::int64_t anchor_dx = round_ld(xm_from_ref_h);

    ClockLine l;
    l.host_anchor = ref_h + anchor_dx;
    l.device_anchor = ref_d + anchor_dx;
    l.offset_ns = om + frac + drift * (static_cast<long double>(anchor_dx) - xm_from_ref_h);
    l.drift = drift;
    const std::size_t dof = used > 2 ? used - 2 : 1;
    const long double min_s2 = static_cast<long double>(config_.min_scale) * config_.min_scale;
    const long double s2 = std::max(srr / static_cast<long double>(dof), min_s2);
    l.offset_se_ns = std::sqrt(s2 / sw);
    l.drift_se = sxx > 0 ? std::sqrt(s2 / sxx) : 0.0L;
    std::int64_t lo = std::numeric_limits<std::int64_t>::max();
    std::int64_t hi = 0;
    for (std::size_t i = 0; i < rtt_count_; ++i) {
        lo = std::min(lo, rtts_[i]);
        hi = std::max(hi, rtts_[i]);
    }
    l.rtt_min_ns = lo;
    l.rtt_max_ns = hi;
    std::array<std::int64_t, rtt_ring> sorted = rtts_;
    const auto mid = sorted.begin() + static_cast<std::ptrdiff_t>(rtt_count_ / 2);
    std::nth_element(sorted.begin(), mid, sorted.begin() + static_cast<std::ptrdiff_t>(rtt_count_));
    l.rtt_median_ns = *mid;
    const Point& newest = points_[(head_ + count_ - 1) % capacity];
    line_fitted_ = used >= config_.lock_points && sxx > 0;
    l.valid = line_fitted_ && l.uncertainty_ns(newest.host_mid2 / 2 + config_.horizon_ns) <=
                                  static_cast<long double>(config_.lock_se_ns);
    line_ = l;
}

double ClockFit::offset_ns(std::int64_t host_ns) const noexcept {
    if (!line_.valid) {
        return 0;
    }
    const std::int64_t dx = host_ns - line_.host_anchor;
    return static_cast<double>(static_cast<long double>(line_.device_anchor - line_.host_anchor) +
                               line_.offset_ns + line_.drift * dx);
}

ClockStats ClockFit::stats() const noexcept {
    ClockStats s = counts_;
    if (rtt_count_ > 0) {
        std::int64_t lo = std::numeric_limits<std::int64_t>::max();
        std::int64_t hi = 0;
        std::int64_t sum = 0;
        for (std::size_t i = 0; i < rtt_count_; ++i) {
            lo = std::min(lo, rtts_[i]);
            hi = std::max(hi, rtts_[i]);
            sum += rtts_[i];
        }
        s.rtt_min_ns = lo;
        s.rtt_max_ns = hi;
        s.rtt_mean_ns = sum / static_cast<std::int64_t>(rtt_count_);
    }
    s.residual_rms_ns = residual_rms_;
    s.points = count_;
    return s;
}

} // namespace lockstep::bridge
