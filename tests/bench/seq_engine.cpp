// lockstep-seq engine: instructions per 64-frame cycle with 32 tracks playing 64-step
// patterns (every step on, ratchets 2-4, two layers on some tracks) at a fast tempo, the
// busiest ordinary load. One iteration = one cycle (MIDI writer resets included, as the JACK
// adapter does them). Target: at most 20,000 instructions per cycle.
#include "engine.hpp"
#include "instructions.hpp"

#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

namespace lockstep::seq {
namespace {

Model busy_model() {
    Model m = default_model();
    m.tracks = max_tracks;
    Pattern& p = m.pattern[0];
    p.steps = max_steps;
    p.swing = 250;
    for (int t = 0; t < max_tracks; ++t) {
        for (int k = 0; k < max_steps; ++k) {
            Step& s = p.grid[static_cast<std::size_t>(t)][static_cast<std::size_t>(k)];
            s.on = true;
            s.ratchet = static_cast<std::uint8_t>(2 + (t + k) % 3);
            s.micro = static_cast<std::int8_t>((t * 5 + k * 3) % 41 - 20);
            s.velocity = static_cast<std::uint8_t>(40 + k);
        }
    }
    return m;
}

void run(benchmark::State& state, Bpm bpm) {
    Published<Model> model(std::make_unique<const Model>(busy_model()));
    EngineOptions o;
    o.tempo = bpm;
    Engine engine(o, model);
    std::vector<jack::MidiWriter> writers;
    for (std::size_t i = 0; i < port_track0; ++i) {
        writers.emplace_back(4096, 4096 * 12);
    }
    jack::Cycle c;
    c.nframes = 64;
    c.rate = 48000;
    c.midi_out = writers;
    c.start = (Frame{1} << 32) - 48000; // across the 32-bit wrap, as a long-running rig
    ToEngine play;
    play.kind = ToEngineKind::play;
    engine.send(play);
    const auto cycle = [&] {
        for (auto& w : writers) {
            w.reset(c.nframes);
        }
        engine.process(c);
        c.start += c.nframes;
    };
    for (int i = 0; i < 2000; ++i) { // steady state: a few bars in
        cycle();
    }
    const std::uint64_t notes_before = engine.counters().notes;
    bench::CountInstructions count;
    for (auto _ : state) {
        cycle();
    }
    state.counters["notes_per_cycle"] =
        static_cast<double>(engine.counters().notes - notes_before) /
        static_cast<double>(state.iterations());
}

// 180 BPM: 64 steps over 4 beats = 1000 frames per step; ~6 notes per 64-frame cycle.
void BM_SeqEngine_32Tracks64StepsRatchets_180Bpm(benchmark::State& state) {
    run(state, Bpm(180));
}
// Same at 1373/10 BPM: step frames are not whole numbers (the general case).
void BM_SeqEngine_32Tracks64StepsRatchets_137_3Bpm(benchmark::State& state) {
    run(state, Bpm(1373, 10));
}
BENCHMARK(BM_SeqEngine_32Tracks64StepsRatchets_180Bpm)->Iterations(20000);
BENCHMARK(BM_SeqEngine_32Tracks64StepsRatchets_137_3Bpm)->Iterations(20000);

} // namespace
} // namespace lockstep::seq

BENCHMARK_MAIN();
