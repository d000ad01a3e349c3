// Costs of the real-time primitives on the audio thread's side: one push+pop through each
// queue, and one acquire/release of a published snapshot. Single-threaded on purpose:
// it measures the instructions of the operations themselves (./lockstep bench runs the
// suite under valgrind for instruction counts), not cross-core cache traffic.
#include "rt/mpsc_queue.hpp"
#include "rt/publish.hpp"
#include "rt/spsc_queue.hpp"

#include "instructions.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>

namespace {

struct Msg {
    std::uint64_t frame;
    std::uint32_t kind;
    float value;
};

void BM_SpscPushPop(benchmark::State& state) {
    lockstep::SpscQueue<Msg> q(256);
    Msg out{};
    std::uint64_t i = 0;
    lockstep::bench::CountInstructions count;
    for (auto _ : state) {
        q.try_push(Msg{i++, 1, 0.5F});
        q.try_pop(out);
        benchmark::DoNotOptimize(out);
    }
}
BENCHMARK(BM_SpscPushPop)->Iterations(1000000);

void BM_SpscOverflow(benchmark::State& state) {
    lockstep::SpscQueue<Msg> q(1);
    q.try_push(Msg{});
    lockstep::bench::CountInstructions count;
    for (auto _ : state) {
        benchmark::DoNotOptimize(q.try_push(Msg{}));
    }
}
BENCHMARK(BM_SpscOverflow)->Iterations(1000000);

void BM_MpscPushPop(benchmark::State& state) {
    lockstep::MpscQueue<Msg, 256> q(2);
    auto producer = q.make_producer();
    Msg out{};
    std::uint64_t i = 0;
    lockstep::bench::CountInstructions count;
    for (auto _ : state) {
        producer.try_push(Msg{i++, 1, 0.5F});
        q.try_pop(out);
        benchmark::DoNotOptimize(out);
    }
}
BENCHMARK(BM_MpscPushPop)->Iterations(1000000);

void BM_PublishedAcquireRelease(benchmark::State& state) {
    lockstep::Published<Msg> p(std::make_unique<const Msg>(Msg{1, 2, 3.0F}));
    lockstep::bench::CountInstructions count;
    for (auto _ : state) {
        const Msg* m = p.acquire();
        benchmark::DoNotOptimize(m->frame);
        p.release();
    }
}
BENCHMARK(BM_PublishedAcquireRelease)->Iterations(1000000);

} // namespace

BENCHMARK_MAIN();
