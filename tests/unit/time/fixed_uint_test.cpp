// FixedUint against boost::multiprecision::cpp_int on random and edge-case operands.
#include "reference.hpp"
#include "time/fixed_uint.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>

namespace lockstep {
namespace {

using test::cpp_int;
using test::to_cpp_int;
using U = FixedUint<8>;

// Builds a value limb by limb (top limb first) through the public operations only.
U from_limbs(const std::vector<std::uint64_t>& limbs_low_first) {
    U v;
    const U base_shift(u128{1} << 64);
    for (auto it = limbs_low_first.rbegin(); it != limbs_low_first.rend(); ++it) {
        U t;
        EXPECT_TRUE(U::mul(t, v, base_shift));
        EXPECT_TRUE(U::add(v, t, U(u128{*it})));
    }
    return v;
}

// Random limbs biased towards the values that break carries and Knuth's qhat estimate.
std::uint64_t edge_limb(std::mt19937_64& rng) {
    switch (rng() % 6) {
    case 0:
        return 0;
    case 1:
        return ~std::uint64_t{0};
    case 2:
        return std::uint64_t{1} << 63;
    case 3:
        return (std::uint64_t{1} << 63) - 1;
    case 4:
        return 1;
    default:
        return rng();
    }
}

U random_value(std::mt19937_64& rng, int max_limbs) {
    const int n = static_cast<int>(rng() % static_cast<unsigned>(max_limbs + 1));
    std::vector<std::uint64_t> limbs;
    for (int i = 0; i < n; ++i) {
        limbs.push_back(edge_limb(rng));
    }
    return from_limbs(limbs);
}

TEST(FixedUint, SmallValuesAndSizes) {
    EXPECT_TRUE(U().is_zero());
    EXPECT_EQ(U().size(), 0);
    EXPECT_EQ(U(u128{5}).size(), 1);
    EXPECT_EQ(U(u128{1} << 64).size(), 2);
    EXPECT_EQ(U(u128{1} << 64).bit_length(), 65);
    u128 v = 0;
    EXPECT_TRUE(U(u128{12345}).to_u128(v));
    EXPECT_EQ(static_cast<std::uint64_t>(v), 12345U);
}

TEST(FixedUint, MatchesCppIntOnRandomOperands) {
    std::mt19937_64 rng(20240611);
    int divisions = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        const U a = random_value(rng, 8);
        const U b = random_value(rng, 8);
        const cpp_int A = to_cpp_int(a);
        const cpp_int B = to_cpp_int(b);
        const cpp_int limit = cpp_int(1) << U::capacity_bits;

        U s;
        const bool add_ok = U::add(s, a, b);
        EXPECT_EQ(add_ok, A + B < limit);
        if (add_ok) {
            EXPECT_EQ(to_cpp_int(s), A + B);
        }
        U p;
        const bool mul_ok = U::mul(p, a, b);
        EXPECT_EQ(mul_ok, A * B < limit);
        if (mul_ok) {
            EXPECT_EQ(to_cpp_int(p), A * B);
        }
        EXPECT_EQ(U::compare(a, b), A < B ? -1 : (A > B ? 1 : 0));
        if (A >= B) {
            U d;
            U::sub(d, a, b);
            EXPECT_EQ(to_cpp_int(d), A - B);
        }
        if (!b.is_zero()) {
            U q;
            U r;
            U::divmod(q, r, a, b);
            ASSERT_EQ(to_cpp_int(q), A / B) << A << " / " << B;
            ASSERT_EQ(to_cpp_int(r), A % B) << A << " % " << B;
            ++divisions;
        }
    }
    EXPECT_GT(divisions, 15000);
}

TEST(FixedUint, DivisionAddBackCase) {
    // Knuth's test case where qhat is one too large after the two-limb correction
    // (the rare "add back" step): u = (2^63, 0, 1, ...) patterns, checked against cpp_int.
    std::mt19937_64 rng(7);
    for (int iter = 0; iter < 200000; ++iter) {
        std::vector<std::uint64_t> ul;
        std::vector<std::uint64_t> vl;
        const int n = 2 + static_cast<int>(rng() % 3);
        const int m = static_cast<int>(rng() % 3);
        for (int i = 0; i < n + m; ++i) {
            ul.push_back(edge_limb(rng));
        }
        for (int i = 0; i < n; ++i) {
            vl.push_back(edge_limb(rng));
        }
        const U u = from_limbs(ul);
        const U v = from_limbs(vl);
        if (v.is_zero()) {
            continue;
        }
        U q;
        U r;
        U::divmod(q, r, u, v);
        const cpp_int A = to_cpp_int(u);
        const cpp_int B = to_cpp_int(v);
        ASSERT_EQ(to_cpp_int(q), A / B) << A << " / " << B;
        ASSERT_EQ(to_cpp_int(r), A % B);
    }
}

TEST(FixedUint, AliasedOperands) {
    U a(u128{1} << 100);
    ASSERT_TRUE(U::mul(a, a, a)); // 2^200
    EXPECT_EQ(to_cpp_int(a), cpp_int(1) << 200);
    ASSERT_TRUE(U::add(a, a, a));
    EXPECT_EQ(to_cpp_int(a), cpp_int(1) << 201);
    U r;
    U::divmod(a, r, a, U(u128{3}));
    EXPECT_EQ(to_cpp_int(a), (cpp_int(1) << 201) / 3);
}

TEST(FixedUint, GcdMatches) {
    std::mt19937_64 rng(99);
    for (int iter = 0; iter < 2000; ++iter) {
        const U a = random_value(rng, 4);
        const U b = random_value(rng, 4);
        EXPECT_EQ(to_cpp_int(U::gcd(a, b)),
                  boost::multiprecision::gcd(to_cpp_int(a), to_cpp_int(b)));
    }
}

TEST(FixedUint, OverflowIsReportedNeverWrapped) {
    U top;
    ASSERT_TRUE(U::mul(top, U(u128{1} << 127), U(u128{1} << 127))); // 2^254
    ASSERT_TRUE(U::mul(top, top, U(u128{1} << 127)));               // 2^381
    ASSERT_TRUE(U::mul(top, top, U(u128{1} << 126)));               // 2^507
    EXPECT_EQ(top.bit_length(), 508);
    U out;
    EXPECT_FALSE(U::mul(out, top, U(u128{32}))); // 2^512 does not fit 8 limbs
    EXPECT_TRUE(U::mul(out, top, U(u128{16})));  // 2^511 does
    EXPECT_FALSE(U::add(out, out, out));         // 2^512
}

} // namespace
} // namespace lockstep
