// lockstep-sampler's engine cost: instructions per voice-frame with 1,024 simultaneous
// stereo voices at 64-frame cycles, at ratio 1 (frames copied) and with cubic
// interpolation; and the memory of a loaded kit against its sample data. One iteration is
// one 64-frame cycle of 1,024 voices = 65,536 voice-frames: divide tests/bench/run's
// instructions/iteration by 65,536 (the `voice_frames` counter). The GroupPair16 case runs
// the same voices on the last of 16 group pairs (--group-outs 16): the main pair and 15
// group pairs are written with zeros.
#include "engine.hpp"
#include "instructions.hpp"
#include "loader.hpp"

#include <benchmark/benchmark.h>

#include <array>
#include <cmath>
#include <memory>
#include <vector>

namespace lockstep::sampler {
namespace {

constexpr std::uint32_t rate = 48000;
constexpr std::uint32_t period = 64;
constexpr std::size_t voices = 1024;

std::shared_ptr<Kit> stereo_kit(std::size_t frames, std::uint8_t output = 0) {
    std::vector<float> x(frames * 2);
    for (std::size_t i = 0; i < x.size(); ++i) {
        x[i] = static_cast<float>(std::sin(0.001 * static_cast<double>(i))) * 0.001F;
    }
    auto kit = std::make_shared<Kit>();
    kit->rate = rate;
    auto sample = SampleData::make(x, 2, "bench");
    Region r;
    r.lokey = 0;
    r.hikey = 127;
    r.keycenter = 60;
    r.output = output;
    r.data = sample.get();
    kit->regions.push_back(r);
    kit->samples.push_back(sample);
    return kit;
}

void run_voices(benchmark::State& state, std::uint8_t note, std::size_t group_outs = 0) {
    KitStore store(rate, {}, static_cast<int>(group_outs));
    store.publish(stereo_kit(16384, static_cast<std::uint8_t>(group_outs)));
    EngineOptions options;
    options.voices = voices;
    options.group_outs = group_outs;
    Engine engine(options, store.published());
    std::vector<std::vector<float>> bufs(2 + 2 * group_outs, std::vector<float>(period));
    const std::vector<std::span<float>> outs(bufs.begin(), bufs.end());
    float* l = bufs.back().data();
    std::vector<std::array<std::uint8_t, 3>> bytes(voices, {0x90, note, 127});
    std::vector<jack::MidiEvent> starts;
    for (const auto& b : bytes) {
        starts.push_back({0, b});
    }
    std::span<const jack::MidiEvent> midi[1] = {starts};
    jack::Cycle cycle;
    cycle.nframes = period;
    cycle.rate = rate;
    cycle.midi_in = midi;
    cycle.audio_out = outs;
    engine.process(cycle); // starts the 1,024 voices
    midi[0] = {};
    cycle.start += period;
    {
        bench::CountInstructions count;
        for (auto _ : state) {
            engine.process(cycle);
            benchmark::DoNotOptimize(l);
            cycle.start += period;
        }
    }
    if (engine.counters().active != voices) {
        state.SkipWithError("voices ended during the benchmark");
    }
    state.counters["voice_frames"] = static_cast<double>(voices * period);
}

void BM_Voices1024_Ratio1(benchmark::State& state) {
    run_voices(state, 60);
}
void BM_Voices1024_Interpolated(benchmark::State& state) {
    run_voices(state, 62); // two semitones up: ratio 1.1225, cubic Hermite
}
void BM_Voices1024_Ratio1_GroupPair16(benchmark::State& state) {
    run_voices(state, 60, max_group_outs);
}

// Memory a loaded kit holds against the decoded audio it carries (target: within 5%).
void BM_KitMemory(benchmark::State& state) {
    KitStore store(rate);
    auto kit = std::make_shared<Kit>();
    kit->rate = rate;
    // A drum kit's shape: 16 one-shot samples of 0.1-1.6 s, mono and stereo.
    for (int i = 0; i < 16; ++i) {
        const std::uint32_t channels = i % 2 == 0 ? 1 : 2;
        std::vector<float> x(static_cast<std::size_t>(4800 * (i + 1)) * channels, 0.1F);
        auto s = SampleData::make(x, channels, "drum" + std::to_string(i) + ".wav");
        Region r;
        r.lokey = r.hikey = r.keycenter = static_cast<std::uint8_t>(36 + i);
        r.data = s.get();
        kit->regions.push_back(r);
        kit->samples.push_back(s);
    }
    store.publish(kit);
    for (auto _ : state) {
        benchmark::DoNotOptimize(store.current()->memory_bytes());
    }
    const auto current = store.current();
    state.counters["sample_bytes"] = static_cast<double>(current->sample_bytes());
    state.counters["kit_bytes"] = static_cast<double>(current->memory_bytes());
    state.counters["overhead_pct"] =
        100.0 * (static_cast<double>(current->memory_bytes()) / current->sample_bytes() - 1.0);
}

BENCHMARK(BM_Voices1024_Ratio1)->Iterations(100);
BENCHMARK(BM_Voices1024_Interpolated)->Iterations(100);
BENCHMARK(BM_Voices1024_Ratio1_GroupPair16)->Iterations(100);
BENCHMARK(BM_KitMemory)->Iterations(1);

} // namespace
} // namespace lockstep::sampler

BENCHMARK_MAIN();
