// Fixed-capacity unsigned big integer for the exact timeline: never allocates, never throws.
//
// FixedUint<Cap> holds up to Cap 64-bit limbs inline. Operations work on the significant
// limbs only, so small values cost little however large Cap is. Every operation that can
// exceed the capacity reports it (returns false) instead of wrapping: the timeline turns
// that into a refused tempo change or a saturated query, never a silently wrong frame.
//
// Thread: any (all functions are RT_NONBLOCKING and noexcept).
#pragma once

#include "rt/rt.hpp"
#include "time/int128.hpp"

#include <array>
#include <cstdint>

namespace lockstep {

template <int Cap>
class FixedUint {
    static_assert(Cap >= 2, "FixedUint needs at least two limbs");

public:
    using Limb = std::uint64_t;
    static constexpr int capacity = Cap;
    static constexpr int capacity_bits = 64 * Cap;

    // Limbs above size() are never read, so they are neither cleared nor copied: a
    // temporary costs what its value needs, not its capacity.
    FixedUint() noexcept RT_NONBLOCKING {}
    explicit FixedUint(u128 v) noexcept RT_NONBLOCKING {
        l_[0] = static_cast<Limb>(v);
        l_[1] = static_cast<Limb>(v >> 64);
        n_ = l_[1] != 0 ? 2 : (l_[0] != 0 ? 1 : 0);
    }
    FixedUint(const FixedUint& o) noexcept RT_NONBLOCKING : n_(o.n_) { copy_limbs(o); }
    FixedUint& operator=(const FixedUint& o) noexcept RT_NONBLOCKING {
        n_ = o.n_;
        copy_limbs(o);
        return *this;
    }
    ~FixedUint() = default;

    // Significant limbs (no leading zero limbs); 0 for the value zero.
    int size() const noexcept RT_NONBLOCKING { return n_; }
    Limb limb(int i) const noexcept RT_NONBLOCKING {
        return i < n_ ? l_[static_cast<unsigned>(i)] : 0;
    }
    bool is_zero() const noexcept RT_NONBLOCKING { return n_ == 0; }

    int bit_length() const noexcept RT_NONBLOCKING {
        if (n_ == 0) {
            return 0;
        }
        return 64 * (n_ - 1) + (64 - __builtin_clzll(l_[static_cast<unsigned>(n_ - 1)]));
    }

    // The value when it fits in 128 bits.
    bool to_u128(u128& out) const noexcept RT_NONBLOCKING {
        if (n_ > 2) {
            return false;
        }
        out = (static_cast<u128>(limb(1)) << 64) | limb(0);
        return true;
    }

    // Rough magnitude for display and diagnostics only (never used for timing decisions).
    double to_double() const noexcept RT_NONBLOCKING {
        double v = 0.0;
        for (int i = n_ - 1; i >= 0; --i) {
            v = v * 18446744073709551616.0 + static_cast<double>(l_[static_cast<unsigned>(i)]);
        }
        return v;
    }

    friend bool operator==(const FixedUint& a, const FixedUint& b) noexcept RT_NONBLOCKING {
        return compare(a, b) == 0;
    }

    // -1, 0 or 1.
    static int compare(const FixedUint& a, const FixedUint& b) noexcept RT_NONBLOCKING {
        if (a.n_ != b.n_) {
            return a.n_ < b.n_ ? -1 : 1;
        }
        for (int i = a.n_ - 1; i >= 0; --i) {
            const auto k = static_cast<unsigned>(i);
            if (a.l_[k] != b.l_[k]) {
                return a.l_[k] < b.l_[k] ? -1 : 1;
            }
        }
        return 0;
    }

    // r = a + b. False (r unspecified) when the sum needs more than Cap limbs. r may alias.
    [[nodiscard]] static bool add(FixedUint& r, const FixedUint& a,
                                  const FixedUint& b) noexcept RT_NONBLOCKING {
        const int n = a.n_ > b.n_ ? a.n_ : b.n_;
        Limb carry = 0;
        for (int i = 0; i < n; ++i) {
            const u128 s = static_cast<u128>(a.limb(i)) + b.limb(i) + carry;
            r.l_[static_cast<unsigned>(i)] = static_cast<Limb>(s);
            carry = static_cast<Limb>(s >> 64);
        }
        r.n_ = n;
        if (carry != 0) {
            if (n == Cap) {
                return false;
            }
            r.l_[static_cast<unsigned>(n)] = carry;
            r.n_ = n + 1;
        }
        return true;
    }

    // r = a - b; requires a >= b. r may alias.
    static void sub(FixedUint& r, const FixedUint& a, const FixedUint& b) noexcept RT_NONBLOCKING {
        Limb borrow = 0;
        const int n = a.n_;
        for (int i = 0; i < n; ++i) {
            const Limb x = a.l_[static_cast<unsigned>(i)];
            const Limb y = b.limb(i);
            const Limb t = x - y;
            const Limb b1 = x < y ? 1 : 0;
            r.l_[static_cast<unsigned>(i)] = t - borrow;
            borrow = b1 | (t < borrow ? 1 : 0);
        }
        r.n_ = n;
        r.trim();
    }

    // r = a * b. False when the product needs more than Cap limbs. r may alias.
    [[nodiscard]] static bool mul(FixedUint& r, const FixedUint& a,
                                  const FixedUint& b) noexcept RT_NONBLOCKING {
        if (a.n_ == 0 || b.n_ == 0) {
            r.n_ = 0;
            return true;
        }
        if (a.n_ + b.n_ - 1 > Cap) {
            return false; // the product is at least 2^(64*(a.n+b.n-2))
        }
        std::array<Limb, Cap + 1> t;
        for (int i = 0; i < a.n_ + b.n_; ++i) {
            t[static_cast<unsigned>(i)] = 0;
        }
        for (int i = 0; i < a.n_; ++i) {
            Limb carry = 0;
            const u128 ai = a.l_[static_cast<unsigned>(i)];
            for (int j = 0; j < b.n_; ++j) {
                const auto k = static_cast<unsigned>(i + j);
                const u128 p = ai * b.l_[static_cast<unsigned>(j)] + t[k] + carry;
                t[k] = static_cast<Limb>(p);
                carry = static_cast<Limb>(p >> 64);
            }
            t[static_cast<unsigned>(i + b.n_)] = carry;
        }
        int n = a.n_ + b.n_;
        while (n > 0 && t[static_cast<unsigned>(n - 1)] == 0) {
            --n;
        }
        if (n > Cap) {
            return false;
        }
        for (int i = 0; i < n; ++i) {
            r.l_[static_cast<unsigned>(i)] = t[static_cast<unsigned>(i)];
        }
        r.n_ = n;
        return true;
    }

    // q = a / b, rem = a % b (Knuth, TAOCP vol. 2, 4.3.1, algorithm D). Requires b != 0
    // (a zero divisor traps: it is a programming error). q and rem may alias a or b.
    static void divmod(FixedUint& q, FixedUint& rem, const FixedUint& a,
                       const FixedUint& b) noexcept RT_NONBLOCKING {
        if (b.n_ == 0) {
            __builtin_trap();
        }
        if (compare(a, b) < 0) {
            rem = a;
            q.n_ = 0;
            return;
        }
        if (b.n_ == 1) {
            divmod_limb(q, rem, a, b.l_[0]);
            return;
        }
        const int n = b.n_;
        const int m = a.n_ - n;
        const int s = __builtin_clzll(b.l_[static_cast<unsigned>(n - 1)]);
        std::array<Limb, Cap> vn;     // b normalised: n limbs written by shift_into
        std::array<Limb, Cap + 1> un; // a normalised: a.n_ + 1 limbs written below
        shift_into(vn.data(), b, s);
        un[static_cast<unsigned>(a.n_)] = shift_into(un.data(), a, s);
        FixedUint quot;
        const u128 base = static_cast<u128>(1) << 64;
        const Limb vtop = vn[static_cast<unsigned>(n - 1)];
        const Limb vnext = vn[static_cast<unsigned>(n - 2)];
        for (int j = m; j >= 0; --j) {
            const auto uj = static_cast<unsigned>(j);
            const auto un_ = static_cast<unsigned>(n);
            const u128 num = (static_cast<u128>(un[uj + un_]) << 64) | un[uj + un_ - 1];
            u128 qhat = num / vtop;
            u128 rhat = num % vtop;
            while (qhat >= base || qhat * vnext > ((rhat << 64) | un[uj + un_ - 2])) {
                --qhat;
                rhat += vtop;
                if (rhat >= base) {
                    break;
                }
            }
            // un[j .. j+n] -= qhat * vn
            Limb carry = 0;
            Limb borrow = 0;
            for (unsigned i = 0; i < un_; ++i) {
                const u128 p = qhat * vn[i] + carry;
                carry = static_cast<Limb>(p >> 64);
                const Limb plo = static_cast<Limb>(p);
                const Limb x = un[i + uj];
                const Limb t = x - plo;
                const Limb b1 = x < plo ? 1 : 0;
                un[i + uj] = t - borrow;
                borrow = b1 | (t < borrow ? 1 : 0);
            }
            const Limb x = un[uj + un_];
            const Limb t = x - carry;
            const Limb b1 = x < carry ? 1 : 0;
            un[uj + un_] = t - borrow;
            borrow = b1 | (t < borrow ? 1 : 0);
            if (borrow != 0) {
                // qhat was one too large (rare): add the divisor back.
                --qhat;
                Limb c = 0;
                for (unsigned i = 0; i < un_; ++i) {
                    const u128 sum = static_cast<u128>(un[i + uj]) + vn[i] + c;
                    un[i + uj] = static_cast<Limb>(sum);
                    c = static_cast<Limb>(sum >> 64);
                }
                un[uj + un_] += c;
            }
            quot.l_[uj] = static_cast<Limb>(qhat);
        }
        quot.n_ = m + 1;
        quot.trim();
        // Remainder: un[0 .. n-1] shifted back down by s.
        FixedUint r;
        for (int i = 0; i < n; ++i) {
            const auto k = static_cast<unsigned>(i);
            r.l_[k] = s == 0 ? un[k] : ((un[k] >> s) | (un[k + 1] << (64 - s)));
        }
        r.n_ = n;
        r.trim();
        q = quot;
        rem = r;
    }

    // Greatest common divisor (Euclid); gcd(0, 0) = 0.
    static FixedUint gcd(FixedUint a, FixedUint b) noexcept RT_NONBLOCKING {
        while (!b.is_zero()) {
            FixedUint q;
            FixedUint r;
            divmod(q, r, a, b);
            a = b;
            b = r;
        }
        return a;
    }

private:
    std::array<Limb, Cap> l_; // only l_[0 .. n_-1] are meaningful
    int n_ = 0;

    void copy_limbs(const FixedUint& o) noexcept RT_NONBLOCKING {
        for (int i = 0; i < o.n_; ++i) {
            l_[static_cast<unsigned>(i)] = o.l_[static_cast<unsigned>(i)];
        }
    }

    void trim() noexcept RT_NONBLOCKING {
        while (n_ > 0 && l_[static_cast<unsigned>(n_ - 1)] == 0) {
            --n_;
        }
    }

    static void divmod_limb(FixedUint& q, FixedUint& rem, const FixedUint& a,
                            Limb d) noexcept RT_NONBLOCKING {
        FixedUint quot;
        u128 r = 0;
        for (int i = a.n_ - 1; i >= 0; --i) {
            const auto k = static_cast<unsigned>(i);
            const u128 cur = (r << 64) | a.l_[k];
            quot.l_[k] = static_cast<Limb>(cur / d);
            r = cur % d;
        }
        quot.n_ = a.n_;
        quot.trim();
        q = quot;
        rem = FixedUint(r);
    }

    // dst[0 .. x.n-1] = low limbs of x << s (0 <= s < 64); returns the limb shifted out.
    static Limb shift_into(Limb* dst, const FixedUint& x, int s) noexcept RT_NONBLOCKING {
        Limb out = 0;
        for (int i = 0; i < x.n_; ++i) {
            const Limb v = x.l_[static_cast<unsigned>(i)];
            dst[i] = s == 0 ? v : ((v << s) | out);
            out = s == 0 ? 0 : (v >> (64 - s));
        }
        return out;
    }
};

} // namespace lockstep
