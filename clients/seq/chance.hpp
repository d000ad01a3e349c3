// The one random decision lockstep-seq makes: whether a step with probability < 100 fires.
// It is a pure function of the seed and the step's musical identity, never of time or of
// buffer sizes, so a given --seed reproduces a performance exactly (docs/seq.md).
//
// Thread: any (pure, RT_NONBLOCKING).
#pragma once

#include "rt/rt.hpp"

#include <cstdint>

namespace lockstep::seq {

constexpr std::uint64_t splitmix64(std::uint64_t z) noexcept RT_NONBLOCKING {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// True when the step fires. `instance` counts pattern instances since play started (0 for
// the first pattern played), `step` is the step index in its pattern.
constexpr bool step_fires(std::uint64_t seed, int track, std::uint64_t instance, int step,
                          int probability) noexcept RT_NONBLOCKING {
    if (probability >= 100) {
        return true;
    }
    std::uint64_t h = splitmix64(seed);
    h = splitmix64(h ^ static_cast<std::uint64_t>(track));
    h = splitmix64(h ^ instance);
    h = splitmix64(h ^ static_cast<std::uint64_t>(step));
    return static_cast<int>(h % 100) < probability;
}

} // namespace lockstep::seq
