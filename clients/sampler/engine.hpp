// lockstep-sampler's engine: MIDI notes in, stereo audio out, from the published kit.
// Plain C++: no JACK or liblo header; tests drive it offline with jack::OfflineDriver.
//
// The promise: sample frame k of a note whose note-on is at frame F sounds at frame F + k,
// exactly, across cycle boundaries (no repeated or skipped frame). Voices that are stolen
// or choked fade out over 1-5 ms; nothing is ever cut hard.
//
// Threads: process() runs on the audio thread (RT_NONBLOCKING: no allocation, lock, log or
// I/O). The constructor and destructor run on the control thread while process() does not.
// counters() may be called from any thread.
#pragma once

#include "jack/cycle.hpp"
#include "kit.hpp"
#include "rt/publish.hpp"
#include "rt/rt.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace lockstep::sampler {

// Ports, in the order the JACK adapter registers them.
inline constexpr std::size_t port_midi_in = 0; // Cycle::midi_in: `in`
inline constexpr std::size_t port_out_l = 0;   // Cycle::audio_out: `out_L`
inline constexpr std::size_t port_out_r = 1;   // `out_R`
// Group pair k (1..group_outs) follows the main pair: `out_k_L`, `out_k_R`.
inline constexpr std::size_t max_group_outs = 16;
constexpr std::size_t port_group_l(std::size_t k) noexcept {
    return 2 * k;
}
constexpr std::size_t port_group_r(std::size_t k) noexcept {
    return 2 * k + 1;
}

struct EngineOptions {
    std::size_t voices = 256;       // notes sounding at once before the oldest is stolen
    double fade_ms = 2.0;           // steal/choke fade and shortest release (clamped to 1..5)
    std::uint64_t seed = 1;         // lorand/hirand draws (reproducible for a seed)
    std::size_t max_regions = 4096; // round-robin counters kept (SfzLimits::max_regions)
    // Stereo group pairs after the main one (0..max_group_outs). A region with output K in
    // 1..group_outs plays only on pair K; 0 or beyond group_outs, only on the main pair.
    std::size_t group_outs = 0;
};

struct EngineCounters {
    std::uint64_t cycles = 0;
    std::uint64_t notes = 0;         // voices started
    std::uint64_t steals = 0;        // voices faded because the pool was full
    std::uint64_t chokes = 0;        // voices faded by a choke group (off_by)
    std::uint64_t dropped = 0;       // voices not started: every slot busy, even fading ones
    std::uint64_t rate_mismatch = 0; // note-ons ignored: the kit was built for another rate
    std::uint32_t active = 0;        // voices sounding at the last cycle's end (fading ones too)
    std::uint32_t peak = 0;          // most voices sounding at a cycle's end
};

// Velocity curve: gain = (velocity / 127)^2 (velocity 64 is about -12 dB).
float velocity_gain(std::uint8_t velocity) noexcept RT_NONBLOCKING;

class Engine final : public jack::Processor {
public:
    // Control thread. `kits` (KitStore::published()) must outlive the engine. Allocates
    // the voice pool and every table process() uses.
    Engine(EngineOptions options, Published<KitRef>& kits);
    ~Engine() override;
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // RT: one cycle. Handles MIDI in at its frame offsets and writes every frame of
    // out_L/out_R and of each group pair present (zeros when no voice plays on it).
    void process(jack::Cycle& cycle) noexcept RT_NONBLOCKING override;

    // Any thread.
    EngineCounters counters() const noexcept;
    const EngineOptions& options() const noexcept { return options_; }

private:
    struct Impl; // audio-thread state (engine.cpp)
    EngineOptions options_;
    Published<KitRef>& kits_;
    std::unique_ptr<Impl> impl_;

    std::atomic<std::uint64_t> cycles_{0}, notes_{0}, steals_{0}, chokes_{0}, dropped_{0},
        rate_mismatch_{0};
    std::atomic<std::uint32_t> active_{0}, peak_{0};
};

} // namespace lockstep::sampler
