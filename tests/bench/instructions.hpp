// Brackets a benchmark's measured loop for instruction counting: under callgrind
// (--instr-atstart=no, as tests/bench/run starts it) only what runs while a
// CountInstructions is alive is counted; natively it costs nothing measurable.
//
//   void BM_x(benchmark::State& state) {
//       ...setup...
//       lockstep::bench::CountInstructions count;
//       for (auto _ : state) { ... }
//   }
#pragma once

namespace lockstep::bench {

void start_counting() noexcept;
void stop_counting() noexcept;

struct CountInstructions {
    CountInstructions() noexcept { start_counting(); }
    ~CountInstructions() { stop_counting(); }
    CountInstructions(const CountInstructions&) = delete;
    CountInstructions& operator=(const CountInstructions&) = delete;
};

} // namespace lockstep::bench
