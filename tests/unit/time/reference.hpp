// Test-only helpers: an independent exact reference of the timeline written directly with
// boost::multiprecision::cpp_rational (allocating, slow, obviously right), and conversions
// from the library's wide types.
#pragma once

#include "time/fixed_uint.hpp"
#include "time/rational.hpp"
#include "time/timeline.hpp"

#include <boost/multiprecision/cpp_int.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace lockstep::test {

using boost::multiprecision::cpp_int;
using boost::multiprecision::cpp_rational;

template <int Cap>
cpp_int to_cpp_int(const FixedUint<Cap>& v) {
    cpp_int r = 0;
    for (int i = v.size() - 1; i >= 0; --i) {
        r <<= 64;
        r += v.limb(i);
    }
    return r;
}

inline cpp_rational to_q(Rational r) {
    return cpp_rational(cpp_int(r.num()), cpp_int(r.den()));
}

inline cpp_rational to_q(const IdealFrame& f) {
    return cpp_rational(f.floor()) +
           cpp_rational(to_cpp_int(f.fraction_num()), to_cpp_int(f.fraction_den()));
}

inline cpp_rational to_q(const ExactPosition& p) {
    cpp_rational v(to_cpp_int(p.num()), to_cpp_int(p.den()));
    return p.negative() ? cpp_rational(-v) : v;
}

// floor and ceil of an exact rational.
inline cpp_int floor_q(const cpp_rational& q) {
    const cpp_int n = numerator(q);
    const cpp_int d = denominator(q); // > 0
    cpp_int f = n / d;                // truncates toward zero
    if (n < 0 && f * d != n) {
        f -= 1;
    }
    return f;
}
inline cpp_int ceil_q(const cpp_rational& q) {
    return -floor_q(-q);
}

// The reference tempo map: the definition of the timing contract, literally.
class ReferenceMap {
public:
    ReferenceMap(std::uint32_t rate, const cpp_rational& bpm, std::int64_t origin) : rate_(rate) {
        segs_.push_back({cpp_rational(0), bpm, cpp_rational(origin)});
    }

    // A change at `at` (>= last start): anchored at the exact ideal frame of `at`.
    void set_tempo_at(const cpp_rational& at, const cpp_rational& bpm) {
        if (at == segs_.back().start) {
            segs_.back().bpm = bpm;
            return;
        }
        segs_.push_back({at, bpm, ideal(at)});
    }

    // The anchor the next change at `at` would get (for checking refusals).
    cpp_rational anchor_for(const cpp_rational& at) const { return ideal(at); }

    cpp_rational ideal(const cpp_rational& p) const {
        // The last segment starting at or before p (the first one also covers before it).
        auto it = std::upper_bound(segs_.begin(), segs_.end(), p,
                                   [](const cpp_rational& v, const Seg& c) { return v < c.start; });
        const Seg& s = it == segs_.begin() ? *it : *(it - 1);
        return s.anchor + (p - s.start) * 60 * rate_ / s.bpm;
    }
    cpp_int emitted(const cpp_rational& p) const { return ceil_q(ideal(p)); }

    // The exact position whose ideal frame is f.
    cpp_rational position(const cpp_rational& f) const {
        auto it =
            std::upper_bound(segs_.begin(), segs_.end(), f,
                             [](const cpp_rational& v, const Seg& c) { return v < c.anchor; });
        const Seg& s = it == segs_.begin() ? *it : *(it - 1);
        return s.start + (f - s.anchor) * s.bpm / (60 * rate_);
    }

    struct Seg {
        cpp_rational start;
        cpp_rational bpm;
        cpp_rational anchor;
    };
    const std::vector<Seg>& segments() const { return segs_; }
    std::uint32_t rate() const { return rate_; }

private:
    std::uint32_t rate_;
    std::vector<Seg> segs_;
};

} // namespace lockstep::test
