// The exact musical timeline: musical positions to frames, and back, with no rounding
// anywhere except the single ceil that picks the emitted frame (docs/timing.md).
//
// A Timeline is a tempo map: a list of segments, each starting at an exact musical
// Position (beats) with an exact rational tempo (BPM), anchored at the exact rational
// ideal frame of its start. The ideal frame of a position p in segment i is
//
//     ideal(p) = anchor_i + (p - start_i) * 60 * rate / bpm_i        (exact rational)
//
// and the emitted frame is ceil(ideal(p)). Every value is computed from its segment's
// anchor, never by adding rounded intervals, so nothing drifts however long the run.
//
// Exactness limit. Anchors are exact rationals whose denominators grow with the tempo
// changes: roughly the lcm of the (reduced) tempo numerators and position denominators used
// so far. Anchors live in fixed-size non-allocating integers; an anchor whose reduced
// fractional denominator would need more than max_anchor_bits (512) bits is refused by
// set_tempo_at() with Status::not_exact, and the map stays as it was. Nothing is ever rounded
// to make it fit. Tempo numerators and denominators must be below 2^32, the rate at most
// 2^20 Hz, positions are 64-bit rationals (Rational).
//
// Threads: build and change a Timeline on a control thread (set_tempo_at allocates), then
// publish it to the audio thread by pointer (an immutable snapshot). All const queries are
// RT_NONBLOCKING: no allocation, no locks, no exceptions; any thread may call them on a
// Timeline that no thread is changing.
#pragma once

#include "rt/rt.hpp"
#include "time/fixed_uint.hpp"
#include "time/frame_clock.hpp"
#include "time/rational.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace lockstep {

// Working width of the timeline's exact arithmetic: 1024 bits, enough for every product of
// a 512-bit anchor with 64-bit positions and tempos (the bounds are worked out in
// timeline.cpp). Small values only touch the limbs they use.
using WideUint = FixedUint<16>;

// The exact ideal frame of a position: floor() + fraction_num() / fraction_den(), with
// 0 <= fraction_num < fraction_den. The fraction is exact but not necessarily reduced.
class IdealFrame {
public:
    // Thread: any.
    Frame floor() const noexcept RT_NONBLOCKING { return floor_; }
    // ceil(ideal): the frame the event is emitted on.
    Frame emitted() const noexcept RT_NONBLOCKING {
        return (num_.is_zero() || saturated_) ? floor_ : floor_ + 1;
    }
    // True when the ideal frame is a whole frame (then floor() == emitted()).
    bool on_frame() const noexcept RT_NONBLOCKING { return num_.is_zero(); }
    // ideal - floor, in [0, 1): exact numerator and denominator.
    const WideUint& fraction_num() const noexcept RT_NONBLOCKING { return num_; }
    const WideUint& fraction_den() const noexcept RT_NONBLOCKING { return den_; }
    // emitted - ideal, in [0, 1): how far the ideal instant lies before the emitted frame
    // (the sub-frame remainder, e.g. for a fractional-delay start). Numerator over
    // fraction_den().
    WideUint lead_num() const noexcept RT_NONBLOCKING {
        WideUint r;
        if (!num_.is_zero()) {
            WideUint::sub(r, den_, num_);
        }
        return r;
    }
    // Approximations for DSP and display (the timing itself never uses them).
    double fraction() const noexcept RT_NONBLOCKING { return ratio(num_); }
    double lead() const noexcept RT_NONBLOCKING { return ratio(lead_num()); }
    // True when the value does not fit a Frame; floor() is then the nearest Frame limit and
    // the fraction is 0. Only for positions millions of years away.
    bool saturated() const noexcept RT_NONBLOCKING { return saturated_; }

private:
    friend class Timeline;
    Frame floor_ = 0;
    WideUint num_;
    WideUint den_{1};
    bool saturated_ = false;

    double ratio(const WideUint& n) const noexcept RT_NONBLOCKING;
};

// An exact position in beats with a wide numerator and denominator (the inverse mapping
// produces denominators far beyond 64 bits). value = (negative ? -1 : 1) * num / den.
class ExactPosition {
public:
    // Thread: any. Exact comparison with a Position: -1, 0 or 1.
    int compare(Position p) const noexcept RT_NONBLOCKING;
    friend bool operator==(const ExactPosition& a, Position p) noexcept RT_NONBLOCKING {
        return a.compare(p) == 0;
    }
    bool negative() const noexcept RT_NONBLOCKING { return negative_; }
    const WideUint& num() const noexcept RT_NONBLOCKING { return num_; }
    const WideUint& den() const noexcept RT_NONBLOCKING { return den_; }
    double to_double() const noexcept RT_NONBLOCKING;

private:
    friend class Timeline;
    bool negative_ = false;
    WideUint num_;
    WideUint den_{1};
};

namespace detail {
// emitted_frame's fast filter, exposed for its tests. For a in (0, 1) with
// a64 = floor(2^64 * a) and 0 <= rem < big_y < 2^64: 1 when a + rem / big_y > 1 for
// certain, 0 when it is < 1 for certain, -1 when 64-bit fractions cannot tell (then the
// caller uses exact arithmetic). Thread: any.
int fraction_sum_carry(std::uint64_t a64, u128 rem, u128 big_y) noexcept RT_NONBLOCKING;
} // namespace detail

class Timeline {
public:
    static constexpr int max_anchor_bits = 512;
    static constexpr std::uint32_t max_rate = std::uint32_t{1} << 20;
    static constexpr std::int64_t max_tempo_term = (std::int64_t{1} << 32) - 1;

    // One tempo segment: from `start` on (until the next segment), `bpm` applies, and
    // `start`'s ideal frame is anchor_floor + anchor_num / anchor_den exactly (reduced).
    struct Segment {
        Position start;
        Bpm bpm;
        Frame anchor_floor = 0;
        WideUint anchor_num;
        WideUint anchor_den{1};
        // floor(2^64 * anchor_num / anchor_den): a fast, conservative first look at the
        // anchor's fraction (emitted_frame falls back to exact maths when it is not enough).
        std::uint64_t anchor_frac64 = 0;
        // Frames per beat, 60 * rate * bpm.den / bpm.num, reduced.
        std::uint64_t fpb_num = 0;
        std::uint64_t fpb_den = 1;
    };

    enum class Status {
        ok,
        bad_tempo,          // not in (0, ...], or a term >= 2^32
        before_last_change, // tempo changes are never retroactive
        not_exact,          // the new anchor would exceed max_anchor_bits: refused
        out_of_range,       // the anchor's frame does not fit a Frame
        full,               // set_tempo_at_rt: no reserved room left (see reserve())
    };
    static const char* describe(Status s) noexcept;

    // Control thread. Position `origin_position` (default 0) sits exactly on frame `origin`
    // and `bpm` holds from there (and before it). Throws std::invalid_argument for a rate of
    // 0 or above max_rate, or a bad tempo.
    Timeline(std::uint32_t rate, Bpm bpm, Frame origin = 0, Position origin_position = 0);

    // Control thread (allocates). A fresh single-segment timeline in which position `at`
    // sits on frame emitted_frame(at), with the tempo in force at `at`. Use it when
    // set_tempo_at() returns not_exact and the client prefers to go on: from `at` on every
    // event moves later by the same fraction of a frame (ideal_frame(at).lead(), < 1 frame),
    // once and explicitly, and the full exactness budget is available again. Positions
    // before `at` are not meaningful in the result.
    Timeline rebased_at(Position at) const;

    // Control thread (allocates). From position `at` on, play at `bpm`; everything before
    // `at` keeps its frames. `at` must not lie before the last change (before_last_change);
    // a change exactly at the last change's position replaces that tempo. A change to the
    // tempo already in force adds nothing. On any error the map is unchanged.
    Status set_tempo_at(Position at, Bpm bpm);

    // Control thread. Drop segments that end at or before `p` (the one containing p stays),
    // so a long-running map does not grow. Queries before the new first segment then
    // extrapolate its tempo backwards.
    void forget_before(Position p) { forget_before_rt(p); }

    // ---- changes on the audio thread: only within room reserved beforehand ----------
    // Control thread (allocates): room for `segments` segments in all, so that the _rt
    // changes below never allocate. Copies keep the reserved room.
    void reserve(std::size_t segments);
    // RT: set_tempo_at without allocating; Status::full when the reserved room is used up
    // (the map is then unchanged).
    Status set_tempo_at_rt(Position at, Bpm bpm) noexcept RT_NONBLOCKING;
    // RT: forget_before without allocating.
    void forget_before_rt(Position p) noexcept RT_NONBLOCKING;
    // RT: *this = rebased_at(at), without allocating.
    void rebase_at_rt(Position at) noexcept RT_NONBLOCKING;
    // RT: *this = Timeline(rate, bpm, origin, origin_position) without allocating (keeps
    // the reserved room). Returns bad_tempo (rate or tempo invalid; map unchanged) or ok.
    Status reset_rt(std::uint32_t rate, Bpm bpm, Frame origin,
                    Position origin_position = 0) noexcept RT_NONBLOCKING;
    // RT: drops the changes at or after `p` (never the first segment), e.g. to insert a
    // change before changes already scheduled and re-apply those after it. Everything
    // before `p` keeps its frames.
    void truncate_from_rt(Position p) noexcept RT_NONBLOCKING;

    // ---- queries: any thread, RT_NONBLOCKING, no allocation -------------------------
    // The exact ideal frame of a position.
    IdealFrame ideal_frame(Position p) const noexcept RT_NONBLOCKING;
    // ceil(ideal_frame(p)): the frame an event at p is emitted on.
    Frame emitted_frame(Position p) const noexcept RT_NONBLOCKING;
    // The exact position whose ideal frame is `f` (inverse of ideal_frame on whole frames).
    ExactPosition position_at_frame(Frame f) const noexcept RT_NONBLOCKING;
    // The smallest n with emitted_frame(start + n * step) >= f, i.e. the first grid step
    // that is not yet due before frame f ("what is the next event at or after f").
    // Requires step > 0 (traps otherwise). Saturates at the int64 range.
    std::int64_t first_step_at_or_after(Frame f, Position start,
                                        Position step) const noexcept RT_NONBLOCKING;
    // The tempo in force at p.
    Bpm tempo_at(Position p) const noexcept RT_NONBLOCKING;

    std::uint32_t rate() const noexcept RT_NONBLOCKING { return rate_; }
    std::span<const Segment> segments() const noexcept RT_NONBLOCKING {
        return {segments_.data(), count_};
    }

private:
    std::uint32_t rate_;
    // The first count_ entries are the map (never empty; starts strictly increasing); the
    // rest is reserved room for the _rt changes.
    std::vector<Segment> segments_;
    std::size_t count_ = 1;

    const Segment& segment_for(Position p) const noexcept RT_NONBLOCKING;
    static bool make_segment(std::uint32_t rate, Bpm bpm, Segment& out) noexcept RT_NONBLOCKING;
    // The new segment for a change at `at` (set_tempo_at's checks and exact maths); ok
    // with `append` false when the change only replaces the last tempo or changes nothing.
    Status prepare_change(Position at, Bpm bpm, Segment& out, bool& append) noexcept RT_NONBLOCKING;
};

} // namespace lockstep
