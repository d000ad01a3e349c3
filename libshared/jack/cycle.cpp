#include "jack/cycle.hpp"

#include <cstring>

namespace lockstep::jack {

MidiWriter::MidiWriter(std::size_t max_events, std::size_t max_bytes)
    : events_(max_events), bytes_(max_bytes) {}

void MidiWriter::reset(std::uint32_t nframes) noexcept {
    count_ = 0;
    used_bytes_ = 0;
    nframes_ = nframes;
    late_ = 0;
    overflow_ = 0;
    invalid_ = 0;
    sorted_ = true;
}

bool MidiWriter::write(std::uint32_t offset, std::span<const std::uint8_t> bytes) noexcept {
    if (bytes.empty()) {
        ++invalid_;
        return false;
    }
    if (offset >= nframes_) {
        ++late_;
        return false;
    }
    if (count_ == events_.size() || bytes.size() > bytes_.size() - used_bytes_) {
        ++overflow_;
        return false;
    }
    if (count_ > 0 && offset < events_[count_ - 1].offset) {
        sorted_ = false;
    }
    std::memcpy(bytes_.data() + used_bytes_, bytes.data(), bytes.size());
    events_[count_++] = MidiOutEvent{offset, static_cast<std::uint32_t>(bytes.size()),
                                     static_cast<std::uint32_t>(used_bytes_)};
    used_bytes_ += bytes.size();
    return true;
}

std::span<const MidiOutEvent> MidiWriter::events() noexcept {
    if (!sorted_) {
        // Insertion sort: stable, in place, no allocation, and fast for the nearly sorted
        // sequences engines produce (a few interleaved tracks).
        for (std::size_t i = 1; i < count_; ++i) {
            const MidiOutEvent e = events_[i];
            std::size_t j = i;
            while (j > 0 && events_[j - 1].offset > e.offset) {
                events_[j] = events_[j - 1];
                --j;
            }
            events_[j] = e;
        }
        sorted_ = true;
    }
    return {events_.data(), count_};
}

} // namespace lockstep::jack
