// The trigger scheduler: pulses never stretch one another, late triggers are dropped and
// counted, a full queue refuses and counts.
#include "core/sequencer.hpp"
#include "core/trigger_scheduler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <numeric>
#include <random>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using lockstep::fw::DeviceTime;
using lockstep::fw::outputs;
using lockstep::fw::Sequencer;
using lockstep::fw::StepEvent;
using lockstep::fw::TriggerScheduler;

constexpr DeviceTime ms = 1'000'000;
constexpr DeviceTime us = 1'000;
constexpr std::uint16_t all_outputs = static_cast<std::uint16_t>((1U << outputs) - 1U);

struct Edge {
    unsigned output;
    bool level;
    DeviceTime due;
    bool operator==(const Edge&) const = default;
};

struct Pulse {
    DeviceTime rise;
    DeviceTime fall;
    bool operator==(const Pulse&) const = default;
};

struct EdgeLog {
    std::vector<Edge> edges;
    static void hook(void* self, unsigned output, bool level, DeviceTime due) {
        static_cast<EdgeLog*>(self)->edges.push_back(Edge{output, level, due});
    }
    void attach(TriggerScheduler& s) { s.set_edge_hook(&EdgeLog::hook, this); }

    // Pulses per output; fails the test on a rise while high or a fall while low.
    std::vector<std::vector<Pulse>> pulses() const {
        std::vector<std::vector<Pulse>> out(outputs);
        std::vector<bool> high(outputs, false);
        DeviceTime previous = 0;
        for (const Edge& e : edges) {
            EXPECT_LT(e.output, outputs);
            EXPECT_GE(e.due, previous) << "edges out of time order";
            previous = e.due;
            EXPECT_NE(high[e.output], e.level) << "output " << e.output << " at " << e.due;
            high[e.output] = e.level;
            if (e.level) {
                out[e.output].push_back(Pulse{e.due, 0});
            } else if (!out[e.output].empty()) {
                out[e.output].back().fall = e.due;
            }
        }
        return out;
    }
};

// The ideal level of an output at t from its pulses.
bool ideal_level(const std::vector<Pulse>& pulses, DeviceTime t) {
    return std::any_of(pulses.begin(), pulses.end(),
                       [&](const Pulse& p) { return p.rise <= t && t < p.fall; });
}

// Sequencer -> scheduler -> outputs, the main loop ticking every `tick` and the ISR either
// exactly at every edge (poll == 0) or polling every `poll`.
struct Rig {
    Sequencer seq;
    TriggerScheduler sched;
    EdgeLog log;
    std::vector<StepEvent> steps;
    std::vector<std::pair<DeviceTime, std::uint16_t>> polled; // (time, levels) when polling

    explicit Rig(TriggerScheduler::Config config) : sched(config) { log.attach(sched); }

    void run(DeviceTime start, DeviceTime end, DeviceTime tick, DeviceTime poll) {
        DeviceTime next_poll = start;
        for (DeviceTime main = start; main < end; main += tick) {
            if (poll == 0) {
                for (DeviceTime e = sched.next_edge(); e <= main; e = sched.next_edge()) {
                    sched.advance(e);
                }
            } else {
                for (; next_poll <= main; next_poll += poll) {
                    polled.emplace_back(next_poll, sched.advance(next_poll));
                }
            }
            seq.tick(main, [&](const StepEvent& e) {
                steps.push_back(e);
                if (e.mask != 0) {
                    ASSERT_TRUE(sched.schedule(e.at, e.mask, 0));
                }
            });
        }
        // The sequencer stops; the ISR finishes what was scheduled.
        for (DeviceTime e = sched.next_edge(); e != TriggerScheduler::never;
             e = sched.next_edge()) {
            sched.advance(e);
        }
    }
};

void fill_patterns(Sequencer& seq, std::mt19937_64& rng, bool all_on) {
    for (unsigned p = 0; p < 4; ++p) {
        for (unsigned t = 0; t < outputs; ++t) {
            for (unsigned k = 0; k < 16; ++k) {
                seq.set_step(p, t, k, all_on || (rng() % 3) != 0);
            }
        }
    }
}

void check_steps_against_pulses(const Rig& rig, DeviceTime width) {
    const auto pulses = rig.log.pulses();
    std::vector<std::vector<DeviceTime>> expected(outputs);
    for (const StepEvent& e : rig.steps) {
        for (unsigned o = 0; o < outputs; ++o) {
            if ((e.mask >> o) & 1U) {
                expected[o].push_back(e.at);
            }
        }
    }
    for (unsigned o = 0; o < outputs; ++o) {
        // Every step fired, at its time exactly; the last pulses may still be running.
        ASSERT_EQ(pulses[o].size(), expected[o].size()) << "output " << o;
        for (std::size_t i = 0; i < pulses[o].size(); ++i) {
            ASSERT_EQ(pulses[o][i].rise, expected[o][i]) << "output " << o << " pulse " << i;
            if (pulses[o][i].fall != 0) {
                ASSERT_EQ(pulses[o][i].fall - pulses[o][i].rise, width)
                    << "output " << o << " pulse " << i;
            }
        }
    }
}

class PulsesAt300Bpm : public ::testing::TestWithParam<std::tuple<unsigned, bool, bool>> {};

TEST_P(PulsesAt300Bpm, NeverStretchWithSwingAndAllOutputs) {
    const auto [swing, all_on, polling] = GetParam();
    TriggerScheduler::Config config;
    if (polling) {
        config.late_tolerance_ns = 2 * ms; // a coarse 997 us poll must not count as late
    }
    Rig rig(config);
    std::mt19937_64 rng(swing + (all_on ? 1 : 0));
    fill_patterns(rig.seq, rng, all_on);
    ASSERT_TRUE(rig.seq.set_tempo(30000));
    ASSERT_TRUE(rig.seq.set_swing(static_cast<std::uint16_t>(swing)));
    rig.seq.set_song_mode(true);
    ASSERT_TRUE(rig.seq.set_chain_slot(0, 0, 2));
    ASSERT_TRUE(rig.seq.set_chain_slot(1, 1, 1));
    ASSERT_TRUE(rig.seq.set_chain_slot(2, 2, 3));
    const DeviceTime start = 1'000 * ms + 123;
    ASSERT_TRUE(rig.seq.play(start));
    const DeviceTime end = start + 60'000 * ms; // a minute: 1200 steps
    rig.run(start - ms, end, 1 * ms, polling ? 997 * us : 0);

    ASSERT_GE(rig.steps.size(), 1199U);
    check_steps_against_pulses(rig, 15 * ms);
    const auto c = rig.sched.counters();
    EXPECT_EQ(c.late, 0U);
    EXPECT_EQ(c.dropped, 0U);
    EXPECT_EQ(c.merged, 0U);
    EXPECT_EQ(c.shortened, 0U);
    EXPECT_EQ(c.scheduled, c.fired);
    if (polling) {
        // Every poll sees exactly the ideal levels at its moment.
        const auto pulses = rig.log.pulses();
        for (const auto& [t, levels] : rig.polled) {
            for (unsigned o = 0; o < outputs; ++o) {
                ASSERT_EQ(((levels >> o) & 1U) != 0, ideal_level(pulses[o], t))
                    << "output " << o << " at " << t;
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(SwingAllOnPolling, PulsesAt300Bpm,
                         ::testing::Combine(::testing::Values(0U, 500U, 1000U), ::testing::Bool(),
                                            ::testing::Bool()));

// Per-output reference: triggers of one output in time order (ties in schedule order).
std::vector<Pulse> reference_pulses(std::vector<std::pair<DeviceTime, DeviceTime>> triggers,
                                    DeviceTime gap) {
    // A stable sort by index (std::stable_sort trips clang-22 over libstdc++ 12's deprecated
    // get_temporary_buffer).
    std::vector<std::size_t> order(triggers.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return std::tie(triggers[a].first, a) < std::tie(triggers[b].first, b);
    });
    std::vector<std::pair<DeviceTime, DeviceTime>> accepted;
    for (const std::size_t i : order) {
        const auto& t = triggers[i];
        if (!accepted.empty() && t.first <= accepted.back().first + gap) {
            continue; // merged
        }
        accepted.push_back(t);
    }
    std::vector<Pulse> out;
    for (std::size_t i = 0; i < accepted.size(); ++i) {
        DeviceTime fall = accepted[i].first + accepted[i].second;
        if (i + 1 < accepted.size()) {
            fall = std::min(fall, accepted[i + 1].first - gap);
        }
        out.push_back(Pulse{accepted[i].first, fall});
    }
    return out;
}

struct Planned {
    DeviceTime at;
    DeviceTime arrive; // when the main loop schedules it
    std::uint16_t mask;
    std::uint32_t width_us;
};

std::vector<Planned> in_arrival_order(const std::vector<Planned>& plan) {
    std::vector<std::size_t> order(plan.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return std::tie(plan[a].arrive, a) < std::tie(plan[b].arrive, b);
    });
    std::vector<Planned> out;
    for (const std::size_t i : order) {
        out.push_back(plan[i]);
    }
    return out;
}

// Drives a scheduler with planned triggers; the ISR runs at every edge and right after
// every schedule() (the main loop pends it).
EdgeLog drive(const std::vector<Planned>& plan, TriggerScheduler& sched) {
    EdgeLog log;
    log.attach(sched);
    const std::vector<Planned> by_arrival = in_arrival_order(plan);
    std::size_t i = 0;
    for (;;) {
        const DeviceTime edge = sched.next_edge();
        if (i < by_arrival.size() && by_arrival[i].arrive <= edge) {
            EXPECT_TRUE(
                sched.schedule(by_arrival[i].at, by_arrival[i].mask, by_arrival[i].width_us));
            sched.advance(by_arrival[i].arrive);
            ++i;
        } else if (edge != TriggerScheduler::never) {
            sched.advance(edge);
        } else {
            break;
        }
    }
    sched.set_edge_hook(nullptr, nullptr);
    return log;
}

TEST(TriggerScheduler, RandomOverlappingTriggersFollowThePerOutputRules) {
    std::mt19937_64 rng(42);
    const TriggerScheduler::Config config;
    std::vector<Planned> plan;
    DeviceTime t = 100 * ms;
    for (int n = 0; n < 3000; ++n) {
        // Mostly spread out, sometimes bunched (retriggers) or identical (merges).
        const unsigned kind = static_cast<unsigned>(rng() % 10);
        t += kind < 2 ? 0 : kind < 5 ? rng() % (2 * ms) : rng() % (20 * ms);
        const auto mask = static_cast<std::uint16_t>(1U + rng() % all_outputs);
        const auto width_us = static_cast<std::uint32_t>(rng() % 4 == 0 ? 0 : 100 + rng() % 40000);
        const DeviceTime lead = 2 * ms + rng() % (20 * ms);
        plan.push_back(Planned{t, t - lead, mask, width_us});
    }
    TriggerScheduler sched(config);
    const EdgeLog log = drive(plan, sched);
    const auto pulses = log.pulses();
    for (unsigned o = 0; o < outputs; ++o) {
        std::vector<std::pair<DeviceTime, DeviceTime>> mine;
        for (const Planned& p : in_arrival_order(plan)) {
            if ((p.mask >> o) & 1U) {
                mine.emplace_back(p.at, DeviceTime{p.width_us == 0 ? 15'000U : p.width_us} * us);
            }
        }
        const auto expected = reference_pulses(mine, config.min_low_ns);
        ASSERT_EQ(pulses[o].size(), expected.size()) << "output " << o;
        for (std::size_t i = 0; i < expected.size(); ++i) {
            ASSERT_EQ(pulses[o][i], expected[i]) << "output " << o << " pulse " << i;
            // Never longer than asked, and at least min_low_ns low before the next rise.
            if (i + 1 < expected.size()) {
                ASSERT_GE(pulses[o][i + 1].rise - pulses[o][i].fall, config.min_low_ns);
            }
        }
    }
    const auto c = sched.counters();
    EXPECT_EQ(c.late, 0U);
    EXPECT_EQ(c.dropped, 0U);
    EXPECT_GT(c.merged, 0U);
    EXPECT_GT(c.shortened, 0U);
    EXPECT_EQ(sched.levels(), 0U);
}

TEST(TriggerScheduler, AnOutputsPulsesDoNotDependOnOtherOutputs) {
    std::mt19937_64 rng(7);
    std::vector<Planned> mine;
    std::vector<Planned> everything;
    for (int n = 0; n < 2000; ++n) {
        const DeviceTime at = 100 * ms + rng() % (20'000 * ms);
        const DeviceTime arrive = at - 2 * ms - rng() % (10 * ms);
        const auto width = static_cast<std::uint32_t>(1000 + rng() % 30000);
        const auto mask = static_cast<std::uint16_t>(1U + rng() % all_outputs);
        everything.push_back(Planned{at, arrive, mask, width});
        if (mask & 1U) {
            mine.push_back(Planned{at, arrive, 1U, width});
        }
    }
    TriggerScheduler alone;
    TriggerScheduler shared;
    const auto a = drive(mine, alone).pulses();
    const auto b = drive(everything, shared).pulses();
    ASSERT_FALSE(a[0].empty());
    EXPECT_EQ(a[0], b[0]);
}

TEST(TriggerScheduler, RetriggerEndsThePulseEarlyAndCloseRisesMerge) {
    if (outputs < 2) {
        GTEST_SKIP() << "needs two outputs";
    }
    TriggerScheduler sched;
    EdgeLog log;
    log.attach(sched);
    ASSERT_TRUE(sched.schedule(100 * ms, 1, 0));            // 15 ms pulse
    ASSERT_TRUE(sched.schedule(105 * ms, 1, 0));            // retrigger while high
    ASSERT_TRUE(sched.schedule(105 * ms + 500 * us, 1, 0)); // within min_low: merged
    ASSERT_TRUE(sched.schedule(102 * ms, 2, 3000));         // another output, untouched
    for (DeviceTime e = sched.next_edge(); e != TriggerScheduler::never; e = sched.next_edge()) {
        sched.advance(e);
    }
    const std::vector<Edge> expected{
        {0, true, 100 * ms},  {1, true, 102 * ms}, {0, false, 104 * ms},
        {1, false, 105 * ms}, {0, true, 105 * ms}, {0, false, 120 * ms},
    };
    EXPECT_EQ(log.edges, expected);
    const auto c = sched.counters();
    EXPECT_EQ(c.shortened, 1U);
    EXPECT_EQ(c.merged, 1U);
    EXPECT_EQ(c.fired, 3U);
}

TEST(TriggerScheduler, QueueFullRefusesAndCounts) {
    TriggerScheduler sched;
    for (std::uint32_t i = 0; i < TriggerScheduler::Capacity; ++i) {
        ASSERT_TRUE(sched.schedule(1000 * ms + i * 20 * ms, 1, 0)) << i;
    }
    EXPECT_FALSE(sched.schedule(5 * ms, 1, 0));
    EXPECT_EQ(sched.counters().dropped, 1U);
    EXPECT_EQ(sched.counters().scheduled, TriggerScheduler::Capacity);
    // Taking them into the ISR's set does not free room; firing does.
    sched.advance(1 * ms);
    EXPECT_FALSE(sched.schedule(5 * ms, 1, 0));
    EXPECT_EQ(sched.counters().dropped, 2U);
    EXPECT_EQ(sched.advance(1000 * ms), 1U);
    EXPECT_TRUE(sched.schedule(3000 * ms, 1, 0));
    EXPECT_EQ(sched.next_edge(), 1000 * ms + 15 * ms);
}

TEST(TriggerScheduler, LateTriggersAreDroppedAndCountedNeverFiredLate) {
    TriggerScheduler::Config config;
    config.late_tolerance_ns = 200 * us;
    TriggerScheduler sched(config);
    EdgeLog log;
    log.attach(sched);
    sched.advance(50 * ms);
    // Due 1 ms ago when scheduled: dropped.
    ASSERT_TRUE(sched.schedule(49 * ms, 1, 0));
    EXPECT_EQ(sched.advance(50 * ms), 0U);
    // The ISR runs 300 us after the due time: dropped.
    ASSERT_TRUE(sched.schedule(60 * ms, 1, 0));
    EXPECT_EQ(sched.advance(60 * ms + 300 * us), 0U);
    // Within the tolerance: fired, the edge at its due time.
    ASSERT_TRUE(sched.schedule(70 * ms, 1, 0));
    EXPECT_NE(sched.advance(70 * ms + 150 * us), 0U);
    const auto c = sched.counters();
    EXPECT_EQ(c.late, 2U);
    EXPECT_EQ(c.fired, 1U);
    ASSERT_EQ(log.edges.size(), 1U);
    EXPECT_EQ(log.edges[0].due, 70 * ms);
    // Late ones released their room.
    for (std::uint32_t i = 0; i + 1 < TriggerScheduler::Capacity; ++i) {
        ASSERT_TRUE(sched.schedule(1000 * ms, 1, 0));
    }
}

TEST(TriggerScheduler, MaskBitsBeyondTheOutputsAreIgnoredAndCounted) {
    TriggerScheduler sched;
    EXPECT_TRUE(sched.schedule(10 * ms, 0xFFFF, 0));
    EXPECT_EQ(sched.advance(10 * ms), all_outputs);
    if (outputs < 16) {
        EXPECT_EQ(sched.counters().bad_mask, 1U);
        EXPECT_FALSE(sched.schedule(20 * ms, static_cast<std::uint16_t>(~all_outputs), 0));
        EXPECT_EQ(sched.counters().bad_mask, 2U);
    }
    EXPECT_FALSE(sched.schedule(20 * ms, 0, 0));
    EXPECT_EQ(sched.advance(25 * ms), 0U);
}

TEST(TriggerScheduler, OutOfOrderArrivalsFireInTimeOrder) {
    TriggerScheduler sched;
    EdgeLog log;
    log.attach(sched);
    for (DeviceTime at : {90, 30, 60, 10, 50}) {
        ASSERT_TRUE(sched.schedule(at * ms, 1, 1000));
    }
    EXPECT_EQ(sched.next_edge(), 10 * ms); // seen in the ring before advance() takes it
    for (DeviceTime e = sched.next_edge(); e != TriggerScheduler::never; e = sched.next_edge()) {
        sched.advance(e);
    }
    std::vector<DeviceTime> rises;
    for (const Edge& e : log.edges) {
        if (e.level) {
            rises.push_back(e.due / ms);
        }
    }
    EXPECT_EQ(rises, (std::vector<DeviceTime>{10, 30, 50, 60, 90}));
}

// The main loop and the ISR on two host threads: whatever the interleaving, every trigger
// is taken exactly once, in time order, and a full queue only makes the producer retry.
TEST(TriggerScheduler, ProducerAndConsumerThreadsHandOffEveryTrigger) {
    TriggerScheduler::Config config;
    config.late_tolerance_ns = TriggerScheduler::never; // the consumer's clock is far ahead
    TriggerScheduler sched(config);
    EdgeLog log;
    log.attach(sched);
    constexpr std::uint32_t count = 50'000;
    std::atomic<bool> done{false};
    std::uint32_t refused = 0;
    std::thread producer([&] {
        for (std::uint32_t i = 0; i < count; ++i) {
            while (!sched.schedule(DeviceTime{i} * 20 * ms, 1, 0)) {
                ++refused;
                std::this_thread::yield();
            }
        }
        done.store(true, std::memory_order_release);
    });
    const DeviceTime far = DeviceTime{count} * 20 * ms + 1000 * ms;
    while (!done.load(std::memory_order_acquire)) {
        sched.advance(far);
    }
    sched.advance(far);
    producer.join();
    const auto c = sched.counters();
    EXPECT_EQ(c.scheduled, count);
    EXPECT_EQ(c.fired, count);
    EXPECT_EQ(c.dropped, refused);
    EXPECT_EQ(c.late, 0U);
    const auto pulses = log.pulses();
    ASSERT_EQ(pulses[0].size(), count);
    for (std::uint32_t i = 0; i < count; ++i) {
        ASSERT_EQ(pulses[0][i].rise, DeviceTime{i} * 20 * ms);
        ASSERT_EQ(pulses[0][i].fall, DeviceTime{i} * 20 * ms + 15 * ms);
    }
}

} // namespace
