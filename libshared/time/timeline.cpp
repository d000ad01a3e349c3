#include "time/timeline.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

// Bit budget of the exact arithmetic (WideUint holds 1024 bits). With positions a/b
// (|a|, b < 2^63), tempo terms < 2^32, rate <= 2^20, frames per beat kn/kd has
// kn < 60 * 2^20 * 2^32 < 2^58 and kd < 2^32; anchor denominators D < 2^512.
// - ideal_frame: |x| = |p - start| * y with y = b * start.den < 2^126, so |x| < 2^127;
//   X = |x| * kn < 2^185, Y = y * kd < 2^158; fraction numerator r * Y + S * D < 2^671
//   and denominator D * Y < 2^670.
// - position_at_frame: (f - anchor) * D < 2^578, times start.den * kd < 2^673; the
//   denominator start.den * D * kn < 2^633.
// - first_step_at_or_after: multiplies those by two more 63-bit terms: < 2^801.
// Every multiplication still checks its capacity; the budget says it never runs out.

namespace lockstep {

namespace {

using W = WideUint;

constexpr i128 frame_max = std::numeric_limits<Frame>::max();
constexpr i128 frame_min = std::numeric_limits<Frame>::min();

// A signed wide value: sign and magnitude (zero is never negative).
struct Signed {
    bool negative = false;
    W mag;
};

bool signed_add(const Signed& a, const Signed& b, Signed& r) noexcept RT_NONBLOCKING {
    if (a.negative == b.negative) {
        r.negative = a.negative;
        if (!W::add(r.mag, a.mag, b.mag)) {
            return false;
        }
    } else if (W::compare(a.mag, b.mag) >= 0) {
        r.negative = a.negative;
        W::sub(r.mag, a.mag, b.mag);
    } else {
        r.negative = b.negative;
        W::sub(r.mag, b.mag, a.mag);
    }
    if (r.mag.is_zero()) {
        r.negative = false;
    }
    return true;
}

Signed from_i128(i128 v) noexcept RT_NONBLOCKING {
    Signed s;
    s.negative = v < 0;
    s.mag = W(s.negative ? static_cast<u128>(-(v + 1)) + 1 : static_cast<u128>(v));
    return s;
}

// a * b with signs.
bool signed_mul(const Signed& a, const Signed& b, Signed& r) noexcept RT_NONBLOCKING {
    if (!W::mul(r.mag, a.mag, b.mag)) {
        return false;
    }
    r.negative = !r.mag.is_zero() && (a.negative != b.negative);
    return true;
}

// floor(a / b) for b > 0, as i128; false when it does not fit 126 bits.
bool signed_floor_div(const Signed& a, const W& b, i128& out) noexcept RT_NONBLOCKING {
    W q;
    W r;
    W::divmod(q, r, a.mag, b);
    u128 q128 = 0;
    if (!q.to_u128(q128) || q128 >= (u128{1} << 126)) {
        return false;
    }
    const auto qi = static_cast<i128>(q128);
    out = a.negative ? -qi - (r.is_zero() ? 0 : 1) : qi;
    return true;
}

int bit_length(u128 v) noexcept RT_NONBLOCKING {
    const auto hi = static_cast<std::uint64_t>(v >> 64);
    if (hi != 0) {
        return 128 - __builtin_clzll(hi);
    }
    const auto lo = static_cast<std::uint64_t>(v);
    return lo == 0 ? 0 : 64 - __builtin_clzll(lo);
}

// The exact ideal frame of p computed from segment s: floor + num / den, 0 <= num < den.
struct Exact {
    i128 floor = 0;
    W num;
    W den;
};

enum class Outcome { ok, saturated_high, saturated_low, overflow };

// (p - start) * frames per beat = q + rem / big_y, 0 <= rem < big_y, in 128-bit integers.
// Available when Y = p.den * start.den * kd fits 64 bits and X = |p - start| * y * kn fits
// 128 (short, musical denominators: nearly always); false otherwise.
struct NarrowSplit {
    i128 q = 0;
    u128 rem = 0;
    u128 big_y = 1; // < 2^64
};

bool narrow_split(const Timeline::Segment& s, Position p,
                  NarrowSplit& out) noexcept RT_NONBLOCKING {
    const u128 y = static_cast<u128>(p.den()) * static_cast<u128>(s.start.den());
    if ((y >> 64) != 0) {
        return false;
    }
    const u128 big_y = y * s.fpb_den; // < 2^96
    if ((big_y >> 64) != 0) {
        return false;
    }
    const i128 x =
        static_cast<i128>(p.num()) * s.start.den() - static_cast<i128>(s.start.num()) * p.den();
    const bool negative = x < 0;
    const u128 ax = negative ? static_cast<u128>(-x) : static_cast<u128>(x);
    if (bit_length(ax) + bit_length(s.fpb_num) > 128) {
        return false;
    }
    const u128 big_x = ax * s.fpb_num;
    const u128 q = big_x / big_y;
    u128 rem = big_x % big_y;
    if (q >= (u128{1} << 120)) {
        return false; // let the wide path saturate
    }
    auto qi = static_cast<i128>(q);
    if (negative) {
        // floor of a negative quotient
        if (rem != 0) {
            qi += 1;
            rem = big_y - rem;
        }
        qi = -qi;
    }
    out.q = qi;
    out.rem = rem;
    out.big_y = big_y;
    return true;
}

// The exact ideal frame in 128-bit integers, when the anchor's denominator D also fits 64
// bits: every product below is then < 2^128.
struct NarrowExact {
    i128 floor = 0;
    u128 num = 0;
    u128 den = 1;
};

NarrowExact narrow_exact(const Timeline::Segment& s, const NarrowSplit& n) noexcept RT_NONBLOCKING {
    NarrowExact out;
    const u128 d = s.anchor_den.limb(0);
    const u128 r = s.anchor_num.limb(0);
    // r/D + rem/Y carries into the next frame when rem * D >= (D - r) * Y.
    const u128 rem_d = n.rem * d;
    const u128 need = (d - r) * n.big_y;
    i128 q = n.q;
    if (rem_d >= need) {
        q += 1;
        out.num = rem_d - need;
    } else {
        out.num = r * n.big_y + rem_d;
    }
    out.den = d * n.big_y;
    out.floor = static_cast<i128>(s.anchor_floor) + q;
    return out;
}

// Wide anchor (D >= 2^64, so 0 < r/D < 1), narrow split: the fast filter decides whether
// the fraction r/D + rem/Y carries; it can never be exactly 1 here (rem/Y's reduced
// denominator is < 2^64 <= D), so the fraction left is non-zero and the emitted frame is one
// past the floor.
bool emitted_by_filter(const Timeline::Segment& s, const NarrowSplit& n,
                       i128& emitted) noexcept RT_NONBLOCKING {
    const int carry = detail::fraction_sum_carry(s.anchor_frac64, n.rem, n.big_y);
    if (carry < 0) {
        return false;
    }
    emitted = static_cast<i128>(s.anchor_floor) + n.q + carry + 1;
    return true;
}

} // namespace

int detail::fraction_sum_carry(std::uint64_t a64, u128 rem, u128 big_y) noexcept RT_NONBLOCKING {
    // With a in [a64, a64 + 1) * 2^-64 and fb = floor(2^64 rem / Y), the sum lies in
    // [a64 + fb, a64 + fb + 2) * 2^-64: decided unless that interval contains 1.
    const u128 fb = (rem << 64) / big_y; // rem < Y < 2^64
    const u128 t = static_cast<u128>(a64) + fb;
    const u128 one = u128{1} << 64;
    if (t == one - 1 || t == one) {
        return -1;
    }
    return t > one ? 1 : 0;
}

namespace {

Outcome ideal_in_segment(const Timeline::Segment& s, Position p,
                         Exact& out) noexcept RT_NONBLOCKING {
    // p - start = x / y
    const i128 x =
        static_cast<i128>(p.num()) * s.start.den() - static_cast<i128>(s.start.num()) * p.den();
    const u128 y = static_cast<u128>(p.den()) * static_cast<u128>(s.start.den());
    const bool negative = x < 0;
    const u128 ax = negative ? static_cast<u128>(-x) : static_cast<u128>(x);

    // (p - start) * frames per beat = X / Y = Q + S / Y with 0 <= S < Y.
    W quot;
    W rem;
    W big_y;
    if (!W::mul(big_y, W(y), W(static_cast<u128>(s.fpb_den)))) {
        return Outcome::overflow;
    }
    u128 y128 = 0;
    if (big_y.to_u128(y128) && bit_length(ax) + bit_length(s.fpb_num) <= 128) {
        // Common case: the product fits, native 128-bit division.
        const u128 x128 = ax * s.fpb_num;
        quot = W(x128 / y128);
        rem = W(x128 % y128);
    } else {
        W big_x;
        if (!W::mul(big_x, W(ax), W(static_cast<u128>(s.fpb_num)))) {
            return Outcome::overflow;
        }
        W::divmod(quot, rem, big_x, big_y);
    }
    u128 q128 = 0;
    if (!quot.to_u128(q128) || q128 >= (u128{1} << 120)) {
        return negative ? Outcome::saturated_low : Outcome::saturated_high;
    }
    auto q = static_cast<i128>(q128);
    if (negative) {
        // floor of a negative quotient
        if (!rem.is_zero()) {
            q += 1;
            W::sub(rem, big_y, rem);
        }
        q = -q;
    }

    // Add the anchor: ideal = anchor_floor + q + (r / D + S / Y).
    if (s.anchor_num.is_zero()) {
        out.num = rem;
        out.den = big_y;
    } else {
        W t1;
        W t2;
        if (!W::mul(t1, s.anchor_num, big_y) || !W::mul(t2, rem, s.anchor_den) ||
            !W::add(out.num, t1, t2) || !W::mul(out.den, s.anchor_den, big_y)) {
            return Outcome::overflow;
        }
        if (W::compare(out.num, out.den) >= 0) {
            W::sub(out.num, out.num, out.den);
            q += 1;
        }
    }
    out.floor = static_cast<i128>(s.anchor_floor) + q;
    if (out.floor > frame_max) {
        return Outcome::saturated_high;
    }
    if (out.floor < frame_min) {
        return Outcome::saturated_low;
    }
    return Outcome::ok;
}

} // namespace

// ---- IdealFrame / ExactPosition ------------------------------------------------------

double IdealFrame::ratio(const WideUint& n) const noexcept RT_NONBLOCKING {
    return n.to_double() / den_.to_double();
}

int ExactPosition::compare(Position p) const noexcept RT_NONBLOCKING {
    // sign(this) * num * p.den  vs  p.num * den
    Signed lhs;
    Signed rhs;
    const Signed pden = from_i128(p.den());
    const Signed pnum = from_i128(p.num());
    Signed self;
    self.negative = negative_;
    self.mag = num_;
    Signed d;
    d.mag = den_;
    if (!signed_mul(self, pden, lhs) || !signed_mul(pnum, d, rhs)) {
        // Outside the bit budget: cannot happen for values position_at_frame returns.
        __builtin_trap();
    }
    if (lhs.negative != rhs.negative) {
        return lhs.negative ? -1 : 1;
    }
    const int c = W::compare(lhs.mag, rhs.mag);
    return lhs.negative ? -c : c;
}

double ExactPosition::to_double() const noexcept RT_NONBLOCKING {
    const double v = num_.to_double() / den_.to_double();
    return negative_ ? -v : v;
}

// ---- Timeline ------------------------------------------------------------------------

const char* Timeline::describe(Status s) noexcept {
    switch (s) {
    case Status::ok:
        return "ok";
    case Status::bad_tempo:
        return "tempo must be a positive rational with numerator and denominator below 2^32";
    case Status::before_last_change:
        return "tempo change before the last change: changes are never retroactive";
    case Status::not_exact:
        return "tempo change refused: its exact anchor would exceed the timeline's 512-bit "
               "limit (too many unrelated tempos or position denominators)";
    case Status::out_of_range:
        return "tempo change position lies outside the 64-bit frame range";
    case Status::full:
        return "tempo change refused: the tempo map's reserved room is used up";
    }
    return "unknown";
}

bool Timeline::make_segment(std::uint32_t rate, Bpm bpm, Segment& out) noexcept RT_NONBLOCKING {
    if (bpm.num() <= 0 || bpm.num() > max_tempo_term || bpm.den() > max_tempo_term) {
        return false;
    }
    const std::uint64_t n = std::uint64_t{60} * rate * static_cast<std::uint64_t>(bpm.den());
    const auto d = static_cast<std::uint64_t>(bpm.num());
    std::uint64_t a = n;
    std::uint64_t b = d;
    while (b != 0) {
        const std::uint64_t t = a % b;
        a = b;
        b = t;
    }
    out.bpm = bpm;
    out.fpb_num = n / a;
    out.fpb_den = d / a;
    return true;
}

Timeline::Timeline(std::uint32_t rate, Bpm bpm, Frame origin, Position origin_position)
    : rate_(rate) {
    if (rate == 0 || rate > max_rate) {
        throw std::invalid_argument("timeline: sample rate must be 1 .. 2^20 Hz");
    }
    Segment s;
    if (!make_segment(rate, bpm, s)) {
        throw std::invalid_argument(std::string("timeline: ") + describe(Status::bad_tempo));
    }
    s.start = origin_position;
    s.anchor_floor = origin;
    segments_.push_back(s);
}

Timeline Timeline::rebased_at(Position at) const {
    return Timeline(rate_, tempo_at(at), emitted_frame(at), at);
}

Timeline::Status Timeline::prepare_change(Position at, Bpm bpm, Segment& s,
                                          bool& append) noexcept RT_NONBLOCKING {
    append = false;
    if (!make_segment(rate_, bpm, s)) {
        return Status::bad_tempo;
    }
    Segment& last = segments_[count_ - 1];
    if (at < last.start) {
        return Status::before_last_change;
    }
    if (at == last.start) {
        // Same anchor, new tempo (a later change at the same position wins).
        last.bpm = s.bpm;
        last.fpb_num = s.fpb_num;
        last.fpb_den = s.fpb_den;
        return Status::ok;
    }
    if (bpm == last.bpm) {
        return Status::ok; // the map would be identical
    }
    Exact e;
    switch (ideal_in_segment(last, at, e)) {
    case Outcome::ok:
        break;
    case Outcome::overflow:
        return Status::not_exact;
    case Outcome::saturated_high:
    case Outcome::saturated_low:
        return Status::out_of_range;
    }
    const W g = W::gcd(e.num, e.den);
    W rem;
    W::divmod(s.anchor_num, rem, e.num, g);
    W::divmod(s.anchor_den, rem, e.den, g);
    if (s.anchor_den.bit_length() > max_anchor_bits) {
        return Status::not_exact;
    }
    // floor(2^64 * r / D) for emitted_frame's fast filter.
    W scaled;
    W frac;
    if (!W::mul(scaled, s.anchor_num, W(u128{1} << 64))) {
        return Status::not_exact; // r < D <= 2^512: cannot happen
    }
    W::divmod(frac, rem, scaled, s.anchor_den);
    s.anchor_frac64 = frac.limb(0);
    s.start = at;
    s.anchor_floor = static_cast<Frame>(e.floor);
    append = true;
    return Status::ok;
}

Timeline::Status Timeline::set_tempo_at(Position at, Bpm bpm) {
    if (count_ == segments_.size()) {
        segments_.emplace_back(); // room first, so the change itself cannot fail half-way
    }
    return set_tempo_at_rt(at, bpm);
}

Timeline::Status Timeline::set_tempo_at_rt(Position at, Bpm bpm) noexcept RT_NONBLOCKING {
    Segment s;
    bool append = false;
    const Status st = prepare_change(at, bpm, s, append);
    if (st != Status::ok || !append) {
        return st;
    }
    if (count_ == segments_.size()) {
        return Status::full;
    }
    segments_[count_] = s;
    ++count_;
    return Status::ok;
}

void Timeline::reserve(std::size_t segments) {
    if (segments > segments_.size()) {
        segments_.resize(segments);
    }
}

void Timeline::forget_before_rt(Position p) noexcept RT_NONBLOCKING {
    const auto keep = static_cast<std::size_t>(&segment_for(p) - segments_.data());
    for (std::size_t i = keep; i < count_; ++i) {
        segments_[i - keep] = segments_[i];
    }
    count_ -= keep;
}

void Timeline::rebase_at_rt(Position at) noexcept RT_NONBLOCKING {
    Segment s;
    const Bpm bpm = tempo_at(at);
    const Frame f = emitted_frame(at);
    make_segment(rate_, bpm, s); // bpm is already in the map: always valid
    s.start = at;
    s.anchor_floor = f;
    segments_[0] = s;
    count_ = 1;
}

Timeline::Status Timeline::reset_rt(std::uint32_t rate, Bpm bpm, Frame origin,
                                    Position origin_position) noexcept RT_NONBLOCKING {
    Segment s;
    if (rate == 0 || rate > max_rate || !make_segment(rate, bpm, s)) {
        return Status::bad_tempo;
    }
    s.start = origin_position;
    s.anchor_floor = origin;
    rate_ = rate;
    segments_[0] = s;
    count_ = 1;
    return Status::ok;
}

void Timeline::truncate_from_rt(Position p) noexcept RT_NONBLOCKING {
    while (count_ > 1 && segments_[count_ - 1].start >= p) {
        --count_;
    }
}

const Timeline::Segment& Timeline::segment_for(Position p) const noexcept RT_NONBLOCKING {
    // The last segment starting at or before p; the first one also covers everything before.
    std::size_t lo = 0;
    std::size_t hi = count_;
    while (hi - lo > 1) {
        const std::size_t mid = lo + (hi - lo) / 2;
        if (segments_[mid].start <= p) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return segments_[lo];
}

Bpm Timeline::tempo_at(Position p) const noexcept RT_NONBLOCKING {
    return segment_for(p).bpm;
}

IdealFrame Timeline::ideal_frame(Position p) const noexcept RT_NONBLOCKING {
    IdealFrame r;
    const Segment& s = segment_for(p);
    NarrowSplit n;
    if (s.anchor_den.size() <= 1 && narrow_split(s, p, n)) {
        const NarrowExact e = narrow_exact(s, n);
        if (e.floor <= frame_max && e.floor >= frame_min) {
            r.floor_ = static_cast<Frame>(e.floor);
            r.num_ = WideUint(e.num);
            r.den_ = WideUint(e.den);
            return r;
        }
    }
    Exact e;
    switch (ideal_in_segment(s, p, e)) {
    case Outcome::ok:
        r.floor_ = static_cast<Frame>(e.floor);
        r.num_ = e.num;
        r.den_ = e.den;
        break;
    case Outcome::saturated_low:
        r.floor_ = std::numeric_limits<Frame>::min();
        r.saturated_ = true;
        break;
    case Outcome::saturated_high:
    case Outcome::overflow: // outside the bit budget: cannot happen (see the top of this file)
        r.floor_ = std::numeric_limits<Frame>::max();
        r.saturated_ = true;
        break;
    }
    return r;
}

Frame Timeline::emitted_frame(Position p) const noexcept RT_NONBLOCKING {
    const Segment& s = segment_for(p);
    NarrowSplit n;
    if (narrow_split(s, p, n)) {
        i128 e = 0;
        bool decided = false;
        if (s.anchor_den.size() <= 1) {
            const NarrowExact x = narrow_exact(s, n);
            e = x.floor + (x.num != 0 ? 1 : 0);
            decided = true;
        } else {
            decided = emitted_by_filter(s, n, e);
        }
        if (decided && e <= frame_max && e >= frame_min) {
            return static_cast<Frame>(e);
        }
    }
    return ideal_frame(p).emitted();
}

namespace {

// The exact position of ideal frame f (as i128 so that f - 1 never overflows).
bool position_at(std::span<const Timeline::Segment> segs, i128 f, Signed& num,
                 W& den) noexcept RT_NONBLOCKING {
    // The last segment whose anchor lies at or before f: anchor <= f <=> ceil(anchor) <= f,
    // and ceil(anchor) never decreases along the map.
    std::size_t lo = 0;
    std::size_t hi = segs.size();
    while (hi - lo > 1) {
        const std::size_t mid = lo + (hi - lo) / 2;
        const Timeline::Segment& m = segs[mid];
        const i128 ceil_anchor =
            static_cast<i128>(m.anchor_floor) + (m.anchor_num.is_zero() ? 0 : 1);
        if (ceil_anchor <= f) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    const Timeline::Segment& s = segs[lo];
    // f - anchor = n1 / D with n1 = (f - anchor_floor) * D - r.
    Signed n1;
    Signed r;
    r.negative = !s.anchor_num.is_zero();
    r.mag = s.anchor_num;
    Signed d;
    d.mag = s.anchor_den;
    Signed df_d;
    if (!signed_mul(from_i128(f - s.anchor_floor), d, df_d) || !signed_add(df_d, r, n1)) {
        return false;
    }
    // p = start + n1 * kd / (D * kn) = (start.num * D * kn + start.den * n1 * kd) / (start.den * D
    // * kn)
    Signed t1;
    Signed t2;
    Signed dkn;
    if (!signed_mul(d, from_i128(static_cast<i128>(s.fpb_num)), dkn) ||
        !signed_mul(from_i128(s.start.num()), dkn, t1) ||
        !signed_mul(from_i128(static_cast<i128>(s.start.den()) * static_cast<i128>(s.fpb_den)), n1,
                    t2) ||
        !signed_add(t1, t2, num) || !W::mul(den, dkn.mag, W(static_cast<u128>(s.start.den())))) {
        return false;
    }
    return true;
}

} // namespace

ExactPosition Timeline::position_at_frame(Frame f) const noexcept RT_NONBLOCKING {
    ExactPosition r;
    Signed num;
    if (!position_at(segments(), f, num, r.den_)) {
        __builtin_trap(); // outside the bit budget: cannot happen
    }
    r.negative_ = num.negative;
    r.num_ = num.mag;
    return r;
}

std::int64_t Timeline::first_step_at_or_after(Frame f, Position start,
                                              Position step) const noexcept RT_NONBLOCKING {
    if (step.num() <= 0) {
        __builtin_trap(); // a grid needs a positive step
    }
    // emitted(p) >= f  <=>  ideal(p) > f - 1  <=>  p > position_at(f - 1).
    Signed num;
    W den;
    if (!position_at(segments(), static_cast<i128>(f) - 1, num, den)) {
        __builtin_trap();
    }
    // n = floor((e - start) / step) + 1, e = num / den:
    // (num * start.den - start.num * den) * step.den / (den * start.den * step.num)
    Signed a;
    Signed b;
    Signed diff;
    Signed scaled;
    Signed dd;
    dd.mag = den;
    Signed denom;
    if (!signed_mul(num, from_i128(start.den()), a) ||
        !signed_mul(from_i128(-start.num()), dd, b) || !signed_add(a, b, diff) ||
        !signed_mul(diff, from_i128(step.den()), scaled) ||
        !signed_mul(dd, from_i128(static_cast<i128>(start.den()) * step.num()), denom)) {
        __builtin_trap();
    }
    i128 n = 0;
    if (!signed_floor_div(scaled, denom.mag, n)) {
        return scaled.negative ? std::numeric_limits<std::int64_t>::min()
                               : std::numeric_limits<std::int64_t>::max();
    }
    n += 1;
    if (n > std::numeric_limits<std::int64_t>::max()) {
        return std::numeric_limits<std::int64_t>::max();
    }
    if (n < std::numeric_limits<std::int64_t>::min()) {
        return std::numeric_limits<std::int64_t>::min();
    }
    return static_cast<std::int64_t>(n);
}

} // namespace lockstep
