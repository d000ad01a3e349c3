// Loading kits off the audio thread: read a file whole, check its bytes (sample_check.hpp),
// decode exactly those bytes with libsndfile, convert to the JACK rate with libsoxr (high
// quality), build an immutable Kit and publish it whole. A load that fails changes
// nothing: the current kit keeps playing and the report says why.
//
// Threads: KitStore belongs to ONE control thread (loads block on disk and CPU); the audio
// thread only reads store.published() through the engine. The free functions may run on
// any non-RT thread.
#pragma once

#include "kit.hpp"
#include "rt/publish.hpp"
#include "sample_check.hpp"
#include "sfz.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace lockstep::sampler {

struct LoadLimits {
    SfzLimits sfz;
    SampleLimits sample;
    std::uint64_t max_kit_bytes = 2ULL << 30; // decoded audio of one kit (2 GiB)
};

struct LoadReport {
    bool ok = false;
    std::string error;                 // one line: what failed and why
    std::vector<std::string> warnings; // e.g. unsupported SFZ opcodes (each once)
    std::size_t regions = 0;
    std::size_t samples = 0;
    std::uint64_t sample_bytes = 0; // decoded audio of the new kit
    std::uint64_t kit_bytes = 0;    // everything the new kit holds
};

struct DecodedSample {
    bool ok = false;
    std::string error;
    SampleInfo info; // of the file as stored
    std::shared_ptr<SampleData> sample;
    std::size_t non_finite = 0; // NaN/Inf samples replaced by 0 (float files)
};

// Checks and decodes a file's bytes, converting to `rate` (0 = keep the file's rate).
DecodedSample decode_sample(std::span<const std::uint8_t> bytes, std::uint32_t rate,
                            const SampleLimits& limits, std::string name);
// Reads `path` (refusing files over the size limit before reading them) and decodes it.
DecodedSample load_sample_file(const std::filesystem::path& path, std::uint32_t rate,
                               const SampleLimits& limits);

// Per-slot settings (OSC /sampler/gain and friends).
struct SlotSettings {
    double gain_db = 0.0;
    double pan = 0.0;       // -100 .. 100
    int tune = 0;           // cents
    std::int64_t choke = 0; // group and off_by: slots with the same choke cut each other
    bool one_shot = true;   // drum hits ring out; false = gated by note-off
    int output = 0;         // 0: main pair; K: group pair K (0..max_sfz_output)
};

inline constexpr int slot_count = 128;

class KitStore {
public:
    // Control thread. `rate` is the JACK sample rate kits are converted to. `group_outs`
    // is the engine's number of group pairs (--group-outs): a load whose regions route
    // beyond it says once, in its warnings, that they play on the main pair.
    explicit KitStore(std::uint32_t rate, LoadLimits limits = {}, int group_outs = 0);
    ~KitStore();
    KitStore(const KitStore&) = delete;
    KitStore& operator=(const KitStore&) = delete;

    // Control thread: loads an SFZ kit (keeping the loaded slots) and publishes it.
    LoadReport load_kit(const std::filesystem::path& sfz);
    // Control thread: loads one file into slot 0..127 (it answers that note on every
    // channel) and publishes the kit with it.
    LoadReport load_slot(int slot, const std::filesystem::path& file);
    LoadReport clear_slot(int slot);
    LoadReport set_slot(int slot, const SlotSettings& settings);
    // Control thread: drops the SFZ part (the slots stay) and publishes.
    LoadReport clear_kit();
    // Control thread: converts what is loaded from now on to `rate` and reloads the current
    // kit's files (SFZ and slots) at it, publishing once. A slot whose file cannot be read
    // again is dropped (named in the report's warnings); when the SFZ fails, nothing is
    // published and the old kit stays current (the engine refuses to play a kit built for
    // another rate, so it is silent until a load succeeds). Rate 0 keeps files' own rates.
    LoadReport set_rate(std::uint32_t rate);
    // Control thread: publishes a kit built elsewhere (tests, benchmarks). Its rate must be
    // rate(); it replaces the SFZ part and the slots are dropped.
    void publish(std::shared_ptr<Kit> kit);

    // Control thread: frees kits that are neither current nor played by any voice.
    // Call it periodically (e.g. from the main loop). Returns how many were freed.
    std::size_t collect();
    // Control thread: kits held (current + those still sounding or not collected yet).
    std::size_t alive() const { return alive_.size(); }
    std::shared_ptr<const Kit> current() const { return current_; }
    bool has_slot(int slot) const {
        return slot >= 0 && slot < slot_count && slots_[static_cast<std::size_t>(slot)].sample;
    }
    std::uint32_t rate() const { return rate_; }
    int group_outs() const { return group_outs_; }

    // The audio thread's view (the engine's constructor takes it).
    Published<KitRef>& published() { return published_; }

private:
    struct Slot {
        std::shared_ptr<const SampleData> sample;
        SlotSettings settings;
    };
    LoadReport load_kit_with(const std::filesystem::path& sfz,
                             const std::array<Slot, slot_count>& slots);
    LoadReport build_and_publish(std::vector<Region> sfz_regions,
                                 std::vector<std::shared_ptr<const SampleData>> sfz_samples,
                                 const std::array<Slot, slot_count>& slots, std::string source);

    std::uint32_t rate_;
    LoadLimits limits_;
    int group_outs_;
    Published<KitRef> published_;
    std::shared_ptr<const Kit> current_;
    std::vector<std::shared_ptr<const Kit>> alive_;
    // What the current kit was built from, to rebuild it when a slot changes.
    std::vector<Region> sfz_regions_;
    std::vector<std::shared_ptr<const SampleData>> sfz_samples_;
    std::string source_;
    std::array<Slot, slot_count> slots_;
};

// Converts one parsed SFZ region to a playable Region at `rate` (data left null).
Region make_region(const SfzRegion& r, std::uint32_t rate);

} // namespace lockstep::sampler
