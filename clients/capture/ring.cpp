#include "ring.hpp"

#include <algorithm>
#include <cstring>

namespace lockstep::capture {

AudioRing::AudioRing(std::uint32_t channels, std::uint64_t capacity)
    : channels_(channels), capacity_(capacity < 1 ? 1 : capacity),
      data_(static_cast<std::size_t>(channels) * capacity_, 0.0F) {
    // The compiler may turn the zero-filled allocation into calloc, whose fresh pages are
    // not touched yet: touch one float per page so the audio thread never faults on them.
    volatile float* p = data_.data();
    for (std::size_t i = 0; i < data_.size(); i += 1024) {
        p[i] = 0.0F;
    }
}

void AudioRing::write(std::span<const std::span<const float>> in, std::uint32_t offset,
                      std::uint32_t n) noexcept {
    const std::uint64_t at = w_ % capacity_;
    const std::uint64_t first = std::min<std::uint64_t>(n, capacity_ - at);
    for (std::uint32_t c = 0; c < channels_; ++c) {
        float* base = data_.data() + static_cast<std::size_t>(c) * capacity_;
        if (c < in.size() && in[c].size() >= offset + n) {
            const float* src = in[c].data() + offset;
            std::memcpy(base + at, src, first * sizeof(float));
            std::memcpy(base, src + first, (n - first) * sizeof(float));
        } else {
            std::memset(base + at, 0, first * sizeof(float));
            std::memset(base, 0, (n - first) * sizeof(float));
        }
    }
    w_ += n;
    published_.store(w_, std::memory_order_release);
}

std::span<const float> AudioRing::read(std::uint32_t c, std::uint64_t pos,
                                       std::uint64_t n) const noexcept {
    const std::uint64_t at = pos % capacity_;
    const std::uint64_t len = std::min(n, capacity_ - at);
    return {data_.data() + static_cast<std::size_t>(c) * capacity_ + at,
            static_cast<std::size_t>(len)};
}

} // namespace lockstep::capture
