// A kit as the audio thread sees it: regions ready to play and their decoded samples at
// the JACK rate, immutable once built. Built off the audio thread (loader.hpp), published
// whole (rt/publish.hpp) and freed off the audio thread once no voice plays from it.
//
// Threads: built and destroyed on the control thread; after publication the audio thread
// only reads it, except `voices` (an atomic count of voices playing from this kit, which
// the audio thread changes and the control thread reads before freeing the kit).
#pragma once

#include "rt/rt.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace lockstep::sampler {

// Silent frames stored around every sample: the cubic interpolator reads one frame before
// and two after the current one, so it never needs a bounds check.
inline constexpr std::uint32_t pad_front = 1;
inline constexpr std::uint32_t pad_back = 3;

// One decoded sample, interleaved float at the kit's rate.
struct SampleData {
    std::vector<float> storage; // (pad_front + frames + pad_back) * channels, exactly sized
    std::uint32_t channels = 1; // 1 or 2
    std::uint64_t frames = 0;
    std::string path;

    // RT: the first real frame (frame k's channel c is frame0()[k * channels + c]).
    const float* frame0() const noexcept RT_NONBLOCKING {
        return storage.data() + static_cast<std::size_t>(pad_front) * channels;
    }
    // Control thread: bytes of audio proper, and bytes this object holds.
    std::uint64_t audio_bytes() const { return frames * channels * sizeof(float); }
    std::uint64_t memory_bytes() const;

    // Control thread: a padded copy of `interleaved` (frames * channels floats).
    static std::shared_ptr<SampleData> make(std::span<const float> interleaved,
                                            std::uint32_t channels, std::string path);
};

// One playable region: everything converted to what the engine multiplies and counts.
struct Region {
    const SampleData* data = nullptr; // owned by Kit::samples
    std::uint8_t lokey = 0, hikey = 127;
    std::uint8_t lovel = 0, hivel = 127;
    std::uint8_t keycenter = 60;
    bool one_shot = false;
    std::int16_t slot = -1; // >= 0: a single-sample slot (answers note `slot`)
    std::uint16_t seq_length = 1, seq_position = 1;
    float lorand = 0.0F, hirand = 1.0F;
    std::int64_t group = 0, off_by = 0;
    float gain_l = 1.0F, gain_r = 1.0F;               // volume and pan (pan law in docs/kits.md)
    std::int32_t cents = 0;                           // tune + 100 * transpose
    std::uint32_t attack = 0, decay = 0, release = 0; // frames
    float sustain = 1.0F;                             // 0..1
    std::uint8_t output = 0; // 0: main pair; K: group pair K (the main pair if K > group_outs)
};

struct Kit {
    std::uint32_t rate = 0; // JACK rate its samples were converted to
    std::string source;     // the SFZ path ("" when only slots)
    std::vector<Region> regions;
    std::vector<std::shared_ptr<const SampleData>> samples; // unique
    // Regions that may answer note n: note_regions[note_begin[n] .. note_begin[n + 1]).
    std::array<std::uint32_t, 129> note_begin{};
    std::vector<std::uint32_t> note_regions;
    // Voices playing from this kit (audio thread writes, control thread reads).
    mutable std::atomic<std::uint32_t> voices{0};

    // Control thread, once regions are final: builds the note lookup. A note that a loaded
    // slot answers plays only the slot (a slot overrides the SFZ for its note).
    void index();

    // Control thread: audio data of the unique samples, and everything the kit holds.
    std::uint64_t sample_bytes() const;
    std::uint64_t memory_bytes() const;
};

// What Published<> carries: the audio thread reads `kit`; `owner` keeps it alive while
// it is the current kit (KitStore keeps it alive afterwards while voices use it).
struct KitRef {
    const Kit* kit = nullptr;
    std::shared_ptr<const Kit> owner;
};

// Pan law: constant power, unity at the centre (-100 = left, 100 = right).
void pan_gains(double pan, float& left, float& right);

} // namespace lockstep::sampler
