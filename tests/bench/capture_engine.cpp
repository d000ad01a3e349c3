// lockstep-capture: instructions per sample-channel, 256 channels, 256-frame cycles.
//  - BM_CaptureAudioThread: Engine::process while a take runs (copy into the ring, meters);
//    the ring is released after each cycle as the disk thread would (counted too: a few
//    instructions).
//  - BM_CaptureDiskThread: the disk thread's share per cycle: DiskWriter::step() reading
//    the ring, interleaving and writing the WAV file through libsndfile (to a file in
//    $TMPDIR; the kernel's part of write(2) is not counted by callgrind).
// Divide instructions/iteration by 256 * 256 = 65536 for instructions per sample-channel;
// the sum of both is the recorder's total per sample-channel.
#include "disk.hpp"
#include "engine.hpp"
#include "instructions.hpp"

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

namespace lockstep::capture {
namespace {

constexpr std::uint32_t channels = 256;
constexpr std::uint32_t period = 256;

struct Inputs {
    std::vector<std::vector<float>> data;
    std::vector<std::span<const float>> spans;
    Inputs() {
        data.assign(channels, std::vector<float>(period));
        for (std::uint32_t c = 0; c < channels; ++c) {
            for (std::uint32_t i = 0; i < period; ++i) {
                data[c][i] = static_cast<float>(c * period + i) * 1e-6F;
            }
            spans.emplace_back(data[c].data(), period);
        }
    }
};

EngineOptions options() {
    EngineOptions o;
    o.channels = channels;
    o.buffer = 48000 / 2;
    o.meter_window = 2400;
    return o;
}

void BM_CaptureAudioThread(benchmark::State& state) {
    Engine engine(options());
    Inputs in;
    jack::Cycle cycle;
    cycle.nframes = period;
    cycle.rate = 48000;
    cycle.audio_in = in.spans;
    engine.send({ToEngineKind::start, asap});
    Frame start = 0;
    Mark m;
    lockstep::bench::CountInstructions count;
    for (auto _ : state) {
        cycle.start = start;
        engine.process(cycle);
        start += period;
        engine.ring().release(engine.ring().published());
        while (engine.marks().try_pop(m)) {
        }
    }
    benchmark::DoNotOptimize(engine.counters().overruns);
}
BENCHMARK(BM_CaptureAudioThread)->Iterations(2000);

void BM_CaptureDiskThread(benchmark::State& state) {
    char tmpl[] = "/tmp/capture-bench-XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    Engine engine(options());
    DiskOptions d;
    d.dir = dir;
    d.name_template = "bench{n}";
    d.writer.rate = 48000;
    DiskWriter disk(d, engine);
    Inputs in;
    jack::Cycle cycle;
    cycle.nframes = period;
    cycle.rate = 48000;
    cycle.audio_in = in.spans;
    engine.send({ToEngineKind::start, asap});
    cycle.start = 0;
    engine.process(cycle);
    disk.step(); // opens the file
    Frame start = period;
    for (auto _ : state) {
        state.PauseTiming();
        cycle.start = start;
        engine.process(cycle); // not counted: only the disk thread's share
        start += period;
        state.ResumeTiming();
        lockstep::bench::start_counting();
        disk.step();
        lockstep::bench::stop_counting();
    }
    disk.finish();
    std::system((std::string("rm -rf ") + dir).c_str());
}
BENCHMARK(BM_CaptureDiskThread)->Iterations(2000);

} // namespace
} // namespace lockstep::capture

BENCHMARK_MAIN();
