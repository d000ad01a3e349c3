// ClockFit against a simulated box on a simulated USB link: skewed crystal, asymmetric and
// quantised delays, heavy-tailed spikes, late host wake-ups.
//
// The bound: the issue asks for p99 <= 100 µs end to end (frame time to trigger edge).
// The fit may take 20 µs of that; the rest is for the device's timer and, in the
// simulator, the host's wake-up jitter (tens of µs on a loaded box). The simulated link's
// fixed asymmetry (outbound minimum 30 µs, inbound 20 µs) is part of the error measured
// here: no two-way exchange can see it.
#include "clock_fit.hpp"
#include "rt/alloc_check.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace lockstep::bridge {
namespace {

constexpr std::int64_t us = 1000;
constexpr std::int64_t ms = 1000 * us;
constexpr std::int64_t sec = 1000 * ms;

__extension__ typedef __int128 i128;

// The box's clock: device(t) = offset + t * (1 + ppb / 1e9), exact (t is true host time).
struct DeviceClock {
    std::int64_t offset = 0;
    std::int64_t ppb = 0;
    std::int64_t since = 0; // host time of boot: device time counts from here
    DeviceTime at(std::int64_t t) const {
        const i128 dt = t - since;
        const i128 scaled = dt * (1'000'000'000 + ppb);
        // floor division (dt >= 0 in use)
        return static_cast<DeviceTime>(offset + static_cast<std::int64_t>(scaled / 1'000'000'000));
    }
};

struct LinkModel {
    std::int64_t out_base = 30 * us;  // fixed minimum host -> device
    std::int64_t in_base = 20 * us;   // fixed minimum device -> host
    std::int64_t out_grid = 125 * us; // USB (micro)frame grid the ping waits for
    std::int64_t in_grid = 125 * us;
    double spike_p = 0.03; // chance of a multi-ms spike on each leg
    std::int64_t spike_max = 8 * ms;
    std::int64_t wake_mean = 15 * us; // host reader's wake-up after the pong arrives
    // false: each packet meets the grid at a random point (host controller scheduling and
    // interrupt moderation are not locked to the ping); true: both grids have a fixed phase,
    // so the shortest round trip is itself asymmetric (a constant, unobservable bias).
    bool fixed_phase = false;
};

class Sim {
public:
    Sim(LinkModel link, DeviceClock dev, std::uint64_t seed)
        : link_(link), dev_(dev), rng_(seed), phase_out_(pick(0, link.out_grid - 1)),
          phase_in_(pick(0, link.in_grid - 1)) {}

    // One ping sent at true host time t1.
    ClockSample ping(std::int64_t t1) {
        const std::int64_t arrive =
            on_grid(t1 + link_.out_base + spike(), link_.out_grid, phase_out_);
        const std::int64_t processed = arrive + pick(2 * us, 30 * us);
        const std::int64_t back =
            on_grid(processed + link_.in_base + spike(), link_.in_grid, phase_in_);
        std::exponential_distribution<double> wake(1.0 / static_cast<double>(link_.wake_mean));
        std::int64_t t4 = back + static_cast<std::int64_t>(wake(rng_));
        if (unit(rng_) < 0.01) {
            t4 += pick(1 * ms, 5 * ms); // the reader thread was preempted
        }
        return ClockSample{t1, dev_.at(arrive), dev_.at(processed), t4};
    }

    std::int64_t pick(std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_);
    }
    DeviceClock& device() { return dev_; }
    LinkModel& link() { return link_; }
    std::mt19937_64& rng() { return rng_; }

private:
    std::int64_t spike() { return unit(rng_) < link_.spike_p ? pick(1 * ms, link_.spike_max) : 0; }
    std::int64_t on_grid(std::int64_t t, std::int64_t grid, std::int64_t phase) {
        if (grid <= 1) {
            return t;
        }
        if (!link_.fixed_phase) {
            phase = pick(0, grid - 1);
        }
        const std::int64_t k = (t - phase + grid - 1) / grid;
        return k * grid + phase;
    }

    LinkModel link_;
    DeviceClock dev_;
    std::mt19937_64 rng_;
    std::uniform_real_distribution<double> unit{0.0, 1.0};
    std::int64_t phase_out_;
    std::int64_t phase_in_;
};

struct RunResult {
    std::vector<double> errors_ns; // |prediction error| after settling
    double max_early_ns = 0;       // max |error| between lock and settling
    double max_first_s_ns = 0;     // ... in the first second after lock
    std::uint64_t samples_to_lock = 0;
    double drift_error_ppm_max = 0; // after settling
    ClockStats stats;
};

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
    return v[i];
}

// Pings every 50..100 ms from `start` for `duration`; after each ping, checks to_device() at
// a host time 0..20 ms ahead (lead plus a period: where triggers land).
RunResult run(Sim& sim, ClockFit& fit, std::int64_t start, std::int64_t duration,
              std::int64_t settle = 30 * sec) {
    RunResult r;
    const double true_ppm = static_cast<double>(sim.device().ppb) / 1000.0;
    std::int64_t t = start;
    std::int64_t locked_at = -1;
    std::uint64_t n = 0;
    while (t < start + duration) {
        const ClockSample s = sim.ping(t);
        fit.add_sample(s);
        ++n;
        const std::int64_t now = std::max(t, s.host_receive_ns);
        if (fit.locked()) {
            if (locked_at < 0) {
                locked_at = now;
                r.samples_to_lock = n;
            }
            const std::int64_t h = now + sim.pick(0, 20 * ms);
            const double err = static_cast<double>(static_cast<std::int64_t>(fit.to_device(h)) -
                                                   static_cast<std::int64_t>(sim.device().at(h)));
            if (now - locked_at >= settle) {
                r.errors_ns.push_back(std::fabs(err));
                r.drift_error_ppm_max =
                    std::max(r.drift_error_ppm_max, std::fabs(fit.drift_ppm() - true_ppm));
            } else {
                r.max_early_ns = std::max(r.max_early_ns, std::fabs(err));
                if (now - locked_at < 1 * sec) {
                    r.max_first_s_ns = std::max(r.max_first_s_ns, std::fabs(err));
                }
            }
        }
        t += sim.pick(50 * ms, 100 * ms);
    }
    r.stats = fit.stats();
    return r;
}

void report(const char* what, const RunResult& r) {
    std::printf(
        "%s: p50 %.2f us, p99 %.2f us, max %.2f us, early max %.2f us (first s %.2f us), drift "
        "max %.3f ppm, lock after %llu samples, rtt min/mean/max %.0f/%.0f/%.0f us, "
        "rms %.2f us, points %zu, spikes %llu\n",
        what, percentile(r.errors_ns, 0.5) / 1e3, percentile(r.errors_ns, 0.99) / 1e3,
        percentile(r.errors_ns, 1.0) / 1e3, r.max_early_ns / 1e3, r.max_first_s_ns / 1e3,
        r.drift_error_ppm_max, static_cast<unsigned long long>(r.samples_to_lock),
        static_cast<double>(r.stats.rtt_min_ns) / 1e3,
        static_cast<double>(r.stats.rtt_mean_ns) / 1e3,
        static_cast<double>(r.stats.rtt_max_ns) / 1e3, r.stats.residual_rms_ns / 1e3,
        r.stats.points, static_cast<unsigned long long>(r.stats.spikes));
}

TEST(ClockFit, TwoHoursAcrossSkewsStaysWithin20us) {
    for (const std::int64_t ppb :
         {-500'000LL, -123'456LL, -20'000LL, 0LL, 20'000LL, 137'300LL, 500'000LL}) {
        SCOPED_TRACE(ppb);
        DeviceClock dev{123'456'789'012, ppb, 0};
        Sim sim(LinkModel{}, dev, 1000 + static_cast<std::uint64_t>(ppb + 1'000'000));
        ClockFit fit;
        const RunResult r = run(sim, fit, 5 * sec, 2 * 3600 * sec);
        char what[64];
        std::snprintf(what, sizeof what, "skew %+.3f ppm", static_cast<double>(ppb) / 1000.0);
        report(what, r);
        EXPECT_LE(r.samples_to_lock, fit.config().lock_points + 2);
        ASSERT_GT(r.errors_ns.size(), 60'000U);
        EXPECT_LT(percentile(r.errors_ns, 1.0), 20.0 * us);
        EXPECT_LT(r.max_early_ns, 100.0 * us);
        EXPECT_LT(r.drift_error_ppm_max, 2.0);
    }
}

TEST(ClockFit, FullSpeedUsbOneMillisecondFrames) {
    // A full-speed link (12 Mbit/s; the Teensy 4.1 is high-speed): both legs wait for 1 ms
    // frames, so few exchanges are fast and the fit needs longer windows and history. The
    // bound is looser: p99 50 µs, max 80 µs.
    ClockFitConfig config;
    config.window = 8;
    config.history_ns = 120 * sec;
    config.spike_ns = 2 * ms;
    LinkModel link;
    link.out_grid = 1 * ms;
    link.in_grid = 1 * ms;
    for (const std::int64_t ppb : {-500'000LL, 20'000LL, 500'000LL}) {
        SCOPED_TRACE(ppb);
        Sim sim(link, DeviceClock{9'000'000'000, ppb, 0},
                77 + static_cast<std::uint64_t>(ppb + 1'000'000));
        ClockFit fit(config);
        const RunResult r = run(sim, fit, 1 * sec, 2 * 3600 * sec, 120 * sec);
        char what[64];
        std::snprintf(what, sizeof what, "1 ms frames, skew %+.3f ppm",
                      static_cast<double>(ppb) / 1000.0);
        report(what, r);
        EXPECT_LT(percentile(r.errors_ns, 0.99), 50.0 * us);
        EXPECT_LT(percentile(r.errors_ns, 1.0), 80.0 * us);
        EXPECT_LT(r.drift_error_ppm_max, 2.0);
    }
}

TEST(ClockFit, FixedFramePhasesGiveAConstantOffsetNotJitter) {
    // When both legs meet their frame grid at a fixed phase, the fastest exchanges are
    // asymmetric by a fixed amount that nothing in the stamps reveals: the fit is off by a
    // constant (half the asymmetry, up to half a frame) but does not wander around it.
    LinkModel link;
    link.fixed_phase = true;
    link.out_grid = 1 * ms;
    link.in_grid = 1 * ms;
    for (const std::uint64_t seed : {1U, 2U, 3U}) {
        SCOPED_TRACE(seed);
        Sim sim(link, DeviceClock{0, 250'000, 0}, seed);
        ClockFitConfig config;
        config.window = 8;
        config.history_ns = 120 * sec;
        config.spike_ns = 2 * ms;
        ClockFit fit(config);
        std::vector<double> signed_errors;
        std::int64_t t = 1 * sec;
        while (t < 1800 * sec) {
            const ClockSample s = sim.ping(t);
            fit.add_sample(s);
            if (fit.locked() && t > 150 * sec) {
                const std::int64_t h = s.host_receive_ns + 10 * ms;
                signed_errors.push_back(
                    static_cast<double>(static_cast<std::int64_t>(fit.to_device(h)) -
                                        static_cast<std::int64_t>(sim.device().at(h))));
            }
            t += sim.pick(50 * ms, 100 * ms);
        }
        const double median = percentile(signed_errors, 0.5);
        std::vector<double> spread;
        for (const double e : signed_errors) {
            spread.push_back(std::fabs(e - median));
        }
        std::printf("fixed 1 ms frame phases (seed %llu): constant offset %.1f us, spread "
                    "around it p99 %.2f us, max %.2f us\n",
                    static_cast<unsigned long long>(seed), median / 1e3,
                    percentile(spread, 0.99) / 1e3, percentile(spread, 1.0) / 1e3);
        EXPECT_LT(std::fabs(median), 500.0 * us + 5.0 * us);
        EXPECT_LT(percentile(spread, 0.99), 20.0 * us);
        EXPECT_LT(percentile(spread, 1.0), 50.0 * us); // the full-speed bound
    }
}

TEST(ClockFit, RemovesTheFreeRunningCrystalError) {
    // A 20 ppm crystal taken at face value (one offset, no drift) is 72 ms off after an hour.
    DeviceClock dev{0, 20'000, 0};
    Sim sim(LinkModel{}, dev, 42);
    ClockFit fit;
    const ClockSample first = sim.ping(1 * sec);
    const std::int64_t naive_offset = static_cast<std::int64_t>(first.device_receive_ns) -
                                      (first.host_send_ns + first.host_receive_ns) / 2;
    fit.add_sample(first);
    run(sim, fit, 1 * sec + 60 * ms, 3600 * sec);
    const std::int64_t h = 3601 * sec;
    const auto truth = static_cast<std::int64_t>(sim.device().at(h));
    const std::int64_t naive_error = h + naive_offset - truth;
    const std::int64_t fit_error = static_cast<std::int64_t>(fit.to_device(h)) - truth;
    std::printf("after 1 h at 20 ppm: naive error %.3f ms, fit error %.3f us, drift %.4f ppm\n",
                static_cast<double>(naive_error) / 1e6, static_cast<double>(fit_error) / 1e3,
                fit.drift_ppm());
    EXPECT_LT(naive_error, -71 * ms); // the device is ahead: the naive host mapping lags
    EXPECT_GT(naive_error, -73 * ms);
    EXPECT_LT(std::llabs(fit_error), 20 * us);
    EXPECT_NEAR(fit.drift_ppm(), 20.0, 1.0);
}

TEST(ClockFit, RebootWithResetRelocksWithinLockPoints) {
    Sim sim(LinkModel{}, DeviceClock{5 * sec, 300'000, 0}, 7);
    ClockFit fit;
    run(sim, fit, 1 * sec, 120 * sec);
    ASSERT_TRUE(fit.locked());
    // The box reboots: its clock restarts from 0 with another crystal error.
    sim.device() = DeviceClock{0, -450'000, 121 * sec};
    fit.reset();
    EXPECT_FALSE(fit.locked());
    const RunResult r = run(sim, fit, 121 * sec + 10 * ms, 120 * sec);
    report("after reboot", r);
    // The lock also waits for the line's error a horizon ahead (ClockFitConfig::lock_se_ns).
    EXPECT_LE(r.samples_to_lock, fit.config().lock_points + 4);
    EXPECT_LT(r.max_early_ns, 100.0 * us);
    EXPECT_LT(percentile(r.errors_ns, 1.0), 20.0 * us);
    EXPECT_EQ(fit.stats().resets, 1U);
    EXPECT_NEAR(fit.drift_ppm(), -450.0, 2.0);
}

TEST(ClockFit, ClockStepWithoutResetRestartsTheFit) {
    Sim sim(LinkModel{}, DeviceClock{5 * sec, 50'000, 0}, 8);
    ClockFit fit;
    run(sim, fit, 1 * sec, 60 * sec);
    ASSERT_TRUE(fit.locked());
    // Nobody noticed the reboot (boot id lost): the samples alone must reveal it.
    sim.device() = DeviceClock{0, -50'000, 61 * sec};
    const RunResult r = run(sim, fit, 61 * sec, 120 * sec);
    EXPECT_EQ(fit.stats().restarts, 1U);
    EXPECT_GE(fit.stats().inconsistent, fit.config().step_count);
    EXPECT_LT(percentile(r.errors_ns, 1.0), 20.0 * us);
    EXPECT_NEAR(fit.drift_ppm(), -50.0, 2.0);
}

TEST(ClockFit, AnUnlockedLineStillGatesAClockStep) {
    Sim sim(LinkModel{}, DeviceClock{5 * sec, 50'000, 0}, 9);
    ClockFitConfig config;
    config.lock_se_ns = 0; // never vouched for: the line is fitted but never locked
    ClockFit fit(config);
    run(sim, fit, 1 * sec, 30 * sec);
    ASSERT_FALSE(fit.locked());
    ASSERT_GE(fit.stats().points, config.lock_points);
    // The box's clock steps (a reboot nobody told the fit about): its points must not be
    // averaged into the old line's, locked or not.
    sim.device() = DeviceClock{0, -50'000, 31 * sec};
    run(sim, fit, 31 * sec, 30 * sec);
    EXPECT_EQ(fit.stats().restarts, 1U);
    EXPECT_GE(fit.stats().inconsistent, config.step_count);
}

TEST(ClockFit, GoodPointsAfterALoadedStartCorrectTheLineInsteadOfRestartingIt) {
    // A loaded host reads every pong ~1.5 ms late while the fit acquires: its young line
    // sits ~0.75 ms off. When the load ends, the first good points must be taken in.
    LinkModel loaded;
    loaded.spike_p = 0;
    loaded.in_base += 1500 * us;
    Sim sim(loaded, DeviceClock{5 * sec, 100'000, 0}, 10);
    ClockFit fit;
    run(sim, fit, 1 * sec, 2 * sec);
    ASSERT_GE(fit.stats().points, fit.config().lock_points);
    sim.link().in_base -= 1500 * us;
    const RunResult r = run(sim, fit, 3 * sec, 60 * sec, 20 * sec);
    EXPECT_EQ(fit.stats().restarts, 0U);
    EXPECT_TRUE(fit.locked());
    ASSERT_FALSE(r.errors_ns.empty());
    EXPECT_LT(percentile(r.errors_ns, 1.0), 20.0 * us);
}

TEST(ClockFitConfig, TheLockHorizonCoversTheLead) {
    ClockFitConfig config;
    const std::int64_t standard = config.horizon_ns;
    config.cover_lead(10 * ms, 50 * ms); // the default lead: the default horizon covers it
    EXPECT_EQ(config.horizon_ns, standard);
    config.cover_lead(1 * sec, 50 * ms); // --lead 1000: a second plus one window of pings
    EXPECT_EQ(config.horizon_ns, 1 * sec + config.window * 50 * ms);
    config.cover_lead(10 * ms, 50 * ms); // never narrows
    EXPECT_EQ(config.horizon_ns, 1 * sec + config.window * 50 * ms);
}

bool same_line(const ClockLine& a, const ClockLine& b) {
    return a.valid == b.valid && a.host_anchor == b.host_anchor &&
           a.device_anchor == b.device_anchor && a.offset_ns == b.offset_ns && a.drift == b.drift;
}

TEST(ClockFit, OutliersDoNotMoveTheFit) {
    LinkModel link;
    link.spike_p = 0;
    Sim sim(link, DeviceClock{1 * sec, 100'000, 0}, 9);
    ClockFit fit;
    run(sim, fit, 1 * sec, 60 * sec);
    ASSERT_TRUE(fit.locked());
    std::int64_t t = 62 * sec;
    // Finish the current window so the next samples form windows of their own.
    while (fit.add_sample(sim.ping(t)) == SampleVerdict::pending) {
        t += 75 * ms;
    }
    const ClockLine before = fit.line();
    const ClockStats stats_before = fit.stats();
    const unsigned window = fit.config().window;

    // A window of pure spikes: 5 ms round trips, device stamps consistent with them.
    for (unsigned i = 0; i < window; ++i) {
        t += 75 * ms;
        ClockSample s = sim.ping(t);
        s.host_receive_ns += 5 * ms;
        const SampleVerdict v = fit.add_sample(s);
        EXPECT_EQ(v, i + 1 < window ? SampleVerdict::pending : SampleVerdict::spike);
    }
    EXPECT_TRUE(same_line(before, fit.line()));
    EXPECT_EQ(fit.stats().spikes, stats_before.spikes + 1);

    // A window whose best ping has a normal round trip but device stamps 3 ms off (a corrupt
    // or misattributed pong): inconsistent with the fit, rejected.
    for (unsigned i = 0; i < window; ++i) {
        t += 75 * ms;
        ClockSample s = sim.ping(t);
        s.device_receive_ns += 3 * ms;
        s.device_send_ns += 3 * ms;
        const SampleVerdict v = fit.add_sample(s);
        EXPECT_EQ(v, i + 1 < window ? SampleVerdict::pending : SampleVerdict::inconsistent);
    }
    EXPECT_TRUE(same_line(before, fit.line()));
    EXPECT_EQ(fit.stats().inconsistent, stats_before.inconsistent + 1);

    // Good samples again: accepted, and the error stays small.
    for (unsigned i = 0; i < window; ++i) {
        t += 75 * ms;
        fit.add_sample(sim.ping(t));
    }
    EXPECT_EQ(fit.stats().accepted, stats_before.accepted + 1);
    const std::int64_t h = t + 10 * ms;
    EXPECT_LT(std::llabs(static_cast<std::int64_t>(fit.to_device(h)) -
                         static_cast<std::int64_t>(sim.device().at(h))),
              20 * us);
}

TEST(ClockFit, ImpossibleSamplesAreCountedNotUsed) {
    ClockFit fit;
    EXPECT_EQ(fit.add_sample({100, 50, 60, 90}), SampleVerdict::invalid);  // t4 < t1
    EXPECT_EQ(fit.add_sample({100, 60, 50, 200}), SampleVerdict::invalid); // t3 < t2
    EXPECT_EQ(fit.add_sample({100, 0, 500, 200}), SampleVerdict::invalid); // turnaround > trip
    EXPECT_EQ(fit.add_sample({-5, 0, 1, 200}), SampleVerdict::invalid);
    EXPECT_EQ(fit.add_sample({0, 0, ~DeviceTime{0}, 200}), SampleVerdict::invalid);
    EXPECT_EQ(fit.stats().invalid, 5U);
    EXPECT_EQ(fit.stats().accepted, 0U);
    EXPECT_FALSE(fit.locked());
}

TEST(ClockFit, LargeAbsoluteTimesKeepNanosecondPrecision) {
    // A host up for 3 years and a device clock near 2^61 ns: still within the bound.
    const std::int64_t start = 3LL * 365 * 24 * 3600 * sec;
    Sim sim(LinkModel{}, DeviceClock{std::int64_t{1} << 61, -321'000, 0}, 10);
    ClockFit fit;
    const RunResult r = run(sim, fit, start, 600 * sec);
    report("large times", r);
    EXPECT_LT(percentile(r.errors_ns, 1.0), 20.0 * us);
}

TEST(ClockFit, FromDeviceInvertsToDevice) {
    Sim sim(LinkModel{}, DeviceClock{777 * sec, 499'000, 0}, 11);
    ClockFit fit;
    run(sim, fit, 1 * sec, 60 * sec);
    ASSERT_TRUE(fit.locked());
    for (std::int64_t h = 0; h < 3600 * sec; h += 7 * sec + 123'457) {
        const DeviceTime d = fit.to_device(h);
        EXPECT_LE(std::llabs(fit.from_device(d) - h), 1) << h;
    }
    // The line's own uncertainty estimate is small near now and grows with distance.
    const long double near = fit.line().uncertainty_ns(61 * sec);
    const long double far = fit.line().uncertainty_ns(3600 * sec);
    EXPECT_LT(near, 10'000.0L);
    EXPECT_GT(far, near);
}

TEST(ClockFit, RoundTripStatisticsFollowTheRecentPings) {
    LinkModel link;
    link.spike_p = 0;
    Sim sim(link, DeviceClock{1 * sec, 0, 0}, 13);
    ClockFit fit;
    std::int64_t t = 1 * sec;
    for (int i = 0; i < 200; ++i, t += 75 * ms) {
        fit.add_sample(sim.ping(t));
    }
    const ClockLine calm = fit.line();
    EXPECT_LE(calm.rtt_min_ns, calm.rtt_median_ns);
    EXPECT_LE(calm.rtt_median_ns, calm.rtt_max_ns);
    EXPECT_LT(calm.rtt_max_ns, 7 * ms); // reader preemptions of up to 5 ms happen
    // One 9 ms round trip: the maximum shows it, the median (used for lateness) does not move
    // by more than the spread of normal pings.
    ClockSample spike = sim.ping(t);
    spike.host_receive_ns += 9 * ms;
    fit.add_sample(spike);
    for (int i = 0; i < 3; ++i) {
        t += 75 * ms;
        fit.add_sample(sim.ping(t));
    }
    EXPECT_GE(fit.line().rtt_max_ns, 9 * ms);
    EXPECT_LT(std::llabs(fit.line().rtt_median_ns - calm.rtt_median_ns), 200 * us);
    EXPECT_GE(fit.stats().rtt_max_ns, 9 * ms);
    EXPECT_GT(fit.stats().rtt_mean_ns, calm.rtt_min_ns);
}

TEST(ClockFit, UnlockedLineIsInvalid) {
    ClockFit fit;
    EXPECT_FALSE(fit.locked());
    EXPECT_FALSE(fit.line().valid);
    EXPECT_EQ(fit.offset_ns(0), 0.0);
}

TEST(ClockFit, FeedingSamplesNeverAllocates) {
    Sim sim(LinkModel{}, DeviceClock{1 * sec, 100'000, 0}, 12);
    std::vector<ClockSample> samples;
    for (std::int64_t t = 1 * sec; t < 120 * sec; t += 75 * ms) {
        samples.push_back(sim.ping(t));
    }
    ClockFit fit;
    LOCKSTEP_EXPECT_NO_ALLOC(for (const ClockSample& s
                                  : samples) { fit.add_sample(s); } fit.reset();
                             fit.add_sample(samples.front()));
    EXPECT_EQ(fit.stats().resets, 1U);
    EXPECT_EQ(fit.stats().points, 1U);
}

// A pseudo-terminal on a loaded host (the lockstep-bridge/fwsim integration test on a shared
// 2-core machine): no bus grid, but the threads on both sides wake late by 1-2 ms, on one leg
// of a quarter (or half) of the exchanges. Right after a (re)lock the fit has a few points
// 50 ms apart, and triggers are scheduled a lead (here up to 600 ms) ahead of them. Whenever
// the fit says it is locked, that prediction must be within 250 us (the integration test's
// bound). Before the lock gate on the line's standard error, the young drift of 6 such points
// put it 1.4 ms (a quarter) and 15 ms (half) off; the integration test saw an edge 5.6 ms early.
TEST(ClockFit, YoungFitOnALoadedHostIsNeverTrustedBeyondItsError) {
    for (const double p : {0.25, 0.5}) {
        LinkModel loaded;
        loaded.out_base = 20 * us;
        loaded.in_base = 20 * us;
        loaded.out_grid = 1;
        loaded.in_grid = 1;
        loaded.spike_p = p;
        loaded.spike_max = 2 * ms;
        loaded.wake_mean = 60 * us;
        double worst = 0;
        std::int64_t slowest_lock = 0;
        for (std::uint64_t seed = 1; seed <= 200; ++seed) {
            Sim sim(loaded, DeviceClock{0, 150'000, 5 * sec}, seed);
            ClockFit fit;
            std::int64_t locked_at = -1;
            for (std::int64_t t = 5 * sec; t < 10 * sec; t += 50 * ms) {
                const ClockSample s = sim.ping(t);
                fit.add_sample(s);
                if (!fit.locked()) {
                    continue;
                }
                if (locked_at < 0) {
                    locked_at = t - 5 * sec;
                }
                for (const std::int64_t ahead : {10 * ms, 100 * ms, 600 * ms}) {
                    const std::int64_t h = s.host_receive_ns + ahead;
                    const double e = static_cast<double>(fit.to_device(h)) -
                                     static_cast<double>(sim.device().at(h));
                    worst = std::max(worst, std::fabs(e));
                    ASSERT_LE(std::fabs(e), 250.0 * us)
                        << "p " << p << ", seed " << seed << ", " << (t - 5 * sec) / ms
                        << " ms after start, " << ahead / ms << " ms ahead";
                }
            }
            ASSERT_GE(locked_at, 0) << "p " << p << ", seed " << seed;
            slowest_lock = std::max(slowest_lock, locked_at);
        }
        std::printf("loaded pty, %.0f%% of legs late: worst %.1f us while locked, slowest lock "
                    "%lld ms\n",
                    p * 100, worst / 1000, static_cast<long long>(slowest_lock / ms));
        // A quarter late: about as fast as before the gate (1.05 s, from exchanges with a spike
        // beyond 1 ms that are dropped); half late: it waits for enough points (2.9 s).
        EXPECT_LE(slowest_lock, p < 0.3 ? 1500 * ms : 4 * sec);
    }
}
} // namespace
} // namespace lockstep::bridge
