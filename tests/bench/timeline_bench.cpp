// Cost of the exact timeline queries the audio thread makes per event (a few hundred per
// cycle): emitted_frame and ideal_frame on tempo maps from trivial to the exactness limit,
// and the per-cycle grid search. Run under valgrind (instruction counts) or natively.
#include "time/timeline.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

namespace lockstep {
namespace {

// One tempo, integer anchor: the common case.
Timeline simple_map() {
    return Timeline(48000, 137, (Frame{1} << 32) - 48000 * 60);
}

// 40 changes of the test generator's kind (quarter, two-decimal and /7 tempos at triplet
// and odd positions): anchors of ~200 bits.
Timeline busy_map() {
    std::mt19937_64 rng(3);
    Timeline t(48000, Bpm(13725, 100));
    Position at = 0;
    for (int i = 0; i < 40; ++i) {
        at = at + Position(1 + static_cast<std::int64_t>(rng() % 4000),
                           1 + static_cast<std::int64_t>(rng() % 7));
        const std::int64_t den = (i % 3 == 0) ? 100 : ((i % 3 == 1) ? 4 : 7);
        (void)t.set_tempo_at(at,
                             Bpm(den * 90 + static_cast<std::int64_t>(rng() % (den * 80)), den));
    }
    return t;
}

// Prime tempo numerators near 2^32 until the next change would be refused: anchors of
// ~500 bits, the most expensive map the timeline accepts.
Timeline limit_map() {
    Timeline t(48000, 120);
    std::int64_t p = 4294967291;
    for (std::int64_t k = 1; k < 64; ++k) {
        if (t.set_tempo_at(k, Bpm(p, 30000000)) != Timeline::Status::ok) {
            break;
        }
        p -= 2 * (1 + k % 5); // distinct odd numerators, mostly coprime
    }
    return t;
}

Position last_segment_start(const Timeline& t) {
    return t.segments().back().start;
}

// 300 events of a cycle: 16ths and 16th triplets with microtiming, after the last change.
// The positions are computed beforehand: only the timeline query is measured.
template <typename Query>
void run_events(benchmark::State& state, const Timeline& t, Query query) {
    const Position base = last_segment_start(t) + Position(1000);
    std::vector<Position> events;
    for (std::int64_t i = 0; i < 300; ++i) {
        events.push_back(base + Position(i, (i % 2 == 0) ? 4 : 6) + Position(i % 7, 960));
    }
    for (auto _ : state) {
        for (const Position& p : events) {
            benchmark::DoNotOptimize(query(t, p));
        }
    }
    state.SetItemsProcessed(state.iterations() * 300);
    state.counters["anchor_bits"] = t.segments().back().anchor_den.bit_length();
}

void BM_EmittedFrame_Simple(benchmark::State& state) {
    run_events(state, simple_map(),
               [](const Timeline& t, Position p) { return t.emitted_frame(p); });
}
void BM_EmittedFrame_Busy(benchmark::State& state) {
    run_events(state, busy_map(), [](const Timeline& t, Position p) { return t.emitted_frame(p); });
}
void BM_EmittedFrame_Limit(benchmark::State& state) {
    run_events(state, limit_map(),
               [](const Timeline& t, Position p) { return t.emitted_frame(p); });
}
void BM_IdealFrame_Busy(benchmark::State& state) {
    run_events(state, busy_map(),
               [](const Timeline& t, Position p) { return t.ideal_frame(p).floor(); });
}
void BM_IdealFrame_Limit(benchmark::State& state) {
    run_events(state, limit_map(),
               [](const Timeline& t, Position p) { return t.ideal_frame(p).floor(); });
}

// Once per cycle per grid: which step is next at or after the cycle's first frame.
void BM_FirstStepAtOrAfter_Busy(benchmark::State& state) {
    const Timeline t = busy_map();
    Frame f = t.emitted_frame(last_segment_start(t) + Position(1000));
    for (auto _ : state) {
        benchmark::DoNotOptimize(t.first_step_at_or_after(f, Position(0), Position(1, 4)));
        f += 256;
    }
    state.counters["anchor_bits"] = t.segments().back().anchor_den.bit_length();
}

BENCHMARK(BM_EmittedFrame_Simple);
BENCHMARK(BM_EmittedFrame_Busy);
BENCHMARK(BM_EmittedFrame_Limit);
BENCHMARK(BM_IdealFrame_Busy);
BENCHMARK(BM_IdealFrame_Limit);
BENCHMARK(BM_FirstStepAtOrAfter_Busy);

} // namespace
} // namespace lockstep

BENCHMARK_MAIN();
