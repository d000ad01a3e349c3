// Exact 64-bit rationals: musical positions (in beats) and tempos (in BPM).
//
// A Rational is always reduced with a positive denominator, so == compares values.
// Numerator and denominator stay within +-(2^63 - 1). Comparisons are exact (128-bit
// cross products). Arithmetic comes in two forms: checked_* returns std::nullopt when
// the reduced result does not fit, and the operators trap on that (positions of real
// music are far from the limit; reaching it is a programming error, never rounded).
//
// Thread: any (everything here is RT_NONBLOCKING and noexcept).
#pragma once

#include "rt/rt.hpp"
#include "time/int128.hpp"

#include <cstdint>
#include <limits>
#include <optional>

namespace lockstep {

class Rational {
public:
    constexpr Rational() noexcept = default;
    // NOLINTNEXTLINE(google-explicit-constructor): whole beats and BPMs read naturally.
    constexpr Rational(std::int64_t n) noexcept : num_(n), den_(1) {
        if (n == std::numeric_limits<std::int64_t>::min()) {
            __builtin_trap();
        }
    }
    // n/d reduced. Requires d != 0 and a reduced result within +-(2^63 - 1) (else traps);
    // use make() for values that come from outside.
    constexpr Rational(std::int64_t n, std::int64_t d) noexcept {
        const auto r = make(n, d);
        if (!r) {
            __builtin_trap();
        }
        *this = *r;
    }

    // n/d reduced, or nullopt when d == 0 or the reduced value does not fit.
    static constexpr std::optional<Rational> make(i128 n, i128 d) noexcept RT_NONBLOCKING {
        if (d == 0) {
            return std::nullopt;
        }
        if (d < 0) {
            n = -n;
            d = -d;
        }
        constexpr i128 lim64 = std::numeric_limits<std::int64_t>::max();
        if (n <= lim64 && n >= -lim64 && d <= lim64) {
            // Fast path (the common case): 64-bit gcd and divisions, same result.
            const auto n64 = static_cast<std::int64_t>(n);
            const auto d64 = static_cast<std::int64_t>(d);
            const std::uint64_t g64 = gcd64(static_cast<std::uint64_t>(n64 < 0 ? -n64 : n64),
                                            static_cast<std::uint64_t>(d64));
            Rational r;
            r.num_ = n64 / static_cast<std::int64_t>(g64);
            r.den_ = d64 / static_cast<std::int64_t>(g64);
            return r;
        }
        const i128 g = gcd128(n < 0 ? -n : n, d);
        n /= g;
        d /= g;
        constexpr i128 lim = std::numeric_limits<std::int64_t>::max();
        if (n > lim || n < -lim || d > lim) {
            return std::nullopt;
        }
        Rational r;
        r.num_ = static_cast<std::int64_t>(n);
        r.den_ = static_cast<std::int64_t>(d);
        return r;
    }

    constexpr std::int64_t num() const noexcept RT_NONBLOCKING { return num_; }
    constexpr std::int64_t den() const noexcept RT_NONBLOCKING { return den_; }

    // Largest integer <= the value, smallest integer >= the value.
    constexpr std::int64_t floor() const noexcept RT_NONBLOCKING {
        const std::int64_t q = num_ / den_;
        return (num_ % den_ != 0 && num_ < 0) ? q - 1 : q;
    }
    constexpr std::int64_t ceil() const noexcept RT_NONBLOCKING {
        const std::int64_t q = num_ / den_;
        return (num_ % den_ != 0 && num_ > 0) ? q + 1 : q;
    }
    // For display and logs only.
    constexpr double to_double() const noexcept RT_NONBLOCKING {
        return static_cast<double>(num_) / static_cast<double>(den_);
    }

    friend constexpr bool operator==(Rational a, Rational b) noexcept RT_NONBLOCKING {
        return a.num_ == b.num_ && a.den_ == b.den_;
    }
    friend constexpr int compare(Rational a, Rational b) noexcept RT_NONBLOCKING {
        const i128 l = static_cast<i128>(a.num_) * b.den_;
        const i128 r = static_cast<i128>(b.num_) * a.den_;
        return l < r ? -1 : (l > r ? 1 : 0);
    }
    friend constexpr bool operator<(Rational a, Rational b) noexcept RT_NONBLOCKING {
        return compare(a, b) < 0;
    }
    friend constexpr bool operator>(Rational a, Rational b) noexcept RT_NONBLOCKING {
        return compare(a, b) > 0;
    }
    friend constexpr bool operator<=(Rational a, Rational b) noexcept RT_NONBLOCKING {
        return compare(a, b) <= 0;
    }
    friend constexpr bool operator>=(Rational a, Rational b) noexcept RT_NONBLOCKING {
        return compare(a, b) >= 0;
    }

    friend constexpr std::optional<Rational> checked_add(Rational a,
                                                         Rational b) noexcept RT_NONBLOCKING {
        // Over the lcm of the denominators: exact and within 128 bits.
        const auto g = static_cast<std::int64_t>(
            gcd64(static_cast<std::uint64_t>(a.den_), static_cast<std::uint64_t>(b.den_)));
        const std::int64_t bd = b.den_ / g;
        return make(static_cast<i128>(a.num_) * bd + static_cast<i128>(b.num_) * (a.den_ / g),
                    static_cast<i128>(a.den_) * bd);
    }
    friend constexpr std::optional<Rational> checked_sub(Rational a,
                                                         Rational b) noexcept RT_NONBLOCKING {
        return checked_add(a, Rational::negated(b));
    }
    friend constexpr std::optional<Rational> checked_mul(Rational a,
                                                         Rational b) noexcept RT_NONBLOCKING {
        return make(static_cast<i128>(a.num_) * b.num_, static_cast<i128>(a.den_) * b.den_);
    }
    friend constexpr std::optional<Rational> checked_div(Rational a,
                                                         Rational b) noexcept RT_NONBLOCKING {
        return make(static_cast<i128>(a.num_) * b.den_, static_cast<i128>(a.den_) * b.num_);
    }

    friend constexpr Rational operator+(Rational a, Rational b) noexcept RT_NONBLOCKING {
        return unwrap(checked_add(a, b));
    }
    friend constexpr Rational operator-(Rational a, Rational b) noexcept RT_NONBLOCKING {
        return unwrap(checked_sub(a, b));
    }
    friend constexpr Rational operator*(Rational a, Rational b) noexcept RT_NONBLOCKING {
        return unwrap(checked_mul(a, b));
    }
    friend constexpr Rational operator/(Rational a, Rational b) noexcept RT_NONBLOCKING {
        return unwrap(checked_div(a, b));
    }
    friend constexpr Rational operator-(Rational a) noexcept RT_NONBLOCKING { return negated(a); }

private:
    std::int64_t num_ = 0;
    std::int64_t den_ = 1;

    static constexpr Rational negated(Rational a) noexcept RT_NONBLOCKING {
        a.num_ = -a.num_; // |num| <= 2^63 - 1, so this never overflows
        return a;
    }
    static constexpr Rational unwrap(std::optional<Rational> r) noexcept RT_NONBLOCKING {
        if (!r) {
            __builtin_trap();
        }
        return *r;
    }
    // Both arguments >= 0; gcd(0, d) = d; 1 when both are 0.
    static constexpr std::uint64_t gcd64(std::uint64_t a, std::uint64_t b) noexcept RT_NONBLOCKING {
        while (b != 0) {
            const std::uint64_t t = a % b;
            a = b;
            b = t;
        }
        return a == 0 ? 1 : a;
    }
    // Both arguments >= 0; gcd(0, d) = d.
    static constexpr i128 gcd128(i128 a, i128 b) noexcept RT_NONBLOCKING {
        if ((a >> 64) == 0 && (b >> 64) == 0) {
            return static_cast<i128>(
                gcd64(static_cast<std::uint64_t>(a), static_cast<std::uint64_t>(b)));
        }
        while (b != 0) {
            const i128 t = a % b;
            a = b;
            b = t;
        }
        return a == 0 ? 1 : a;
    }
};

// A musical position: beats (quarter notes) after the timeline's position 0.
using Position = Rational;
// A tempo in beats (quarter notes) per minute, e.g. Bpm{549, 4} for 137.25.
using Bpm = Rational;

} // namespace lockstep
