#include "kit.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace lockstep::sampler {

std::uint64_t SampleData::memory_bytes() const {
    return sizeof(SampleData) + storage.capacity() * sizeof(float) + path.capacity();
}

std::shared_ptr<SampleData> SampleData::make(std::span<const float> interleaved,
                                             std::uint32_t channels, std::string path) {
    auto s = std::make_shared<SampleData>();
    s->channels = channels;
    s->frames = interleaved.size() / channels;
    s->path = std::move(path);
    const std::size_t total = static_cast<std::size_t>(pad_front + s->frames + pad_back) * channels;
    s->storage.reserve(total); // exact: the kit's memory stays within a few bytes of its audio
    s->storage.assign(static_cast<std::size_t>(pad_front) * channels, 0.0F);
    s->storage.insert(s->storage.end(), interleaved.begin(),
                      interleaved.begin() + static_cast<std::ptrdiff_t>(s->frames * channels));
    s->storage.resize(total, 0.0F);
    return s;
}

void Kit::index() {
    bool slot_for[128] = {};
    for (const Region& r : regions) {
        if (r.slot >= 0 && r.slot < 128) {
            slot_for[r.slot] = true;
        }
    }
    note_regions.clear();
    for (std::uint32_t n = 0; n < 128; ++n) {
        note_begin[n] = static_cast<std::uint32_t>(note_regions.size());
        for (std::uint32_t i = 0; i < regions.size(); ++i) {
            const Region& r = regions[i];
            if (n < r.lokey || n > r.hikey) {
                continue;
            }
            if (slot_for[n] && r.slot < 0) {
                continue;
            }
            note_regions.push_back(i);
        }
    }
    note_begin[128] = static_cast<std::uint32_t>(note_regions.size());
    note_regions.shrink_to_fit();
}

std::uint64_t Kit::sample_bytes() const {
    std::uint64_t total = 0;
    for (const auto& s : samples) {
        total += s->audio_bytes();
    }
    return total;
}

std::uint64_t Kit::memory_bytes() const {
    std::uint64_t total = sizeof(Kit) + source.capacity() + regions.capacity() * sizeof(Region) +
                          samples.capacity() * sizeof(samples[0]) +
                          note_regions.capacity() * sizeof(std::uint32_t);
    for (const auto& s : samples) {
        total += s->memory_bytes() + 32; // + the shared_ptr control block (make_shared: ~16-32 B)
    }
    return total;
}

void pan_gains(double pan, float& left, float& right) {
    const double p = std::clamp(pan, -100.0, 100.0);
    const double theta = (p + 100.0) / 200.0 * (std::numbers::pi / 2.0);
    left = static_cast<float>(std::numbers::sqrt2 * std::cos(theta));
    right = static_cast<float>(std::numbers::sqrt2 * std::sin(theta));
    if (p == 0.0) {
        left = right = 1.0F; // exactly unity at the centre
    }
}

} // namespace lockstep::sampler
