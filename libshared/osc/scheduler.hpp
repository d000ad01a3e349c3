// The endpoint's bounded queue of timetagged messages: future bundles wait here, sorted
// by timetag (arrival order among equals), and are released `lookahead` before they are
// due so there is time to hand them to the audio thread with the exact frame.
// Time is passed in by the caller, so tests drive it without a clock.
// Thread: one control thread (the endpoint's); not synchronised. Allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <utility>

namespace lockstep::osc {

template <typename T>
class Scheduler {
public:
    struct Entry {
        std::uint64_t timetag;
        T value;
    };

    // `lookahead` in NTP units (2^-32 s).
    Scheduler(std::size_t capacity, std::uint64_t lookahead)
        : capacity_(capacity), lookahead_(lookahead) {}

    std::size_t size() const noexcept { return queue_.size(); }
    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t free() const noexcept { return capacity_ - queue_.size(); }
    std::uint64_t lookahead() const noexcept { return lookahead_; }

    // True when a message due at `timetag` can be released at `now` without queueing.
    bool releasable(std::uint64_t timetag, std::uint64_t now) const noexcept {
        return timetag <= saturating_add(now, lookahead_);
    }

    // Queues `value`; false (and nothing queued) when full.
    bool push(std::uint64_t timetag, T value) {
        if (queue_.size() >= capacity_) {
            return false;
        }
        // multimap inserts equal keys at the end of their range: arrival order is kept.
        queue_.emplace(timetag, std::move(value));
        return true;
    }

    // Removes and returns the earliest entry if it is releasable at `now`.
    std::optional<Entry> pop_ready(std::uint64_t now) {
        if (queue_.empty() || !releasable(queue_.begin()->first, now)) {
            return std::nullopt;
        }
        const auto first = queue_.begin();
        Entry entry{first->first, std::move(first->second)};
        queue_.erase(first);
        return entry;
    }

    // When the earliest entry becomes releasable (its timetag minus lookahead), if any.
    std::optional<std::uint64_t> next_release() const noexcept {
        if (queue_.empty()) {
            return std::nullopt;
        }
        const std::uint64_t t = queue_.begin()->first;
        return t > lookahead_ ? t - lookahead_ : 0;
    }

    void clear() noexcept { queue_.clear(); }

private:
    static std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) noexcept {
        return a > std::numeric_limits<std::uint64_t>::max() - b
                   ? std::numeric_limits<std::uint64_t>::max()
                   : a + b;
    }

    std::size_t capacity_;
    std::uint64_t lookahead_;
    std::multimap<std::uint64_t, T> queue_;
};

} // namespace lockstep::osc
