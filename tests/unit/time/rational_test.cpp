#include "time/rational.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace lockstep {
namespace {

TEST(Rational, ReducesAndKeepsDenominatorPositive) {
    const Rational r(6, -4);
    EXPECT_EQ(r.num(), -3);
    EXPECT_EQ(r.den(), 2);
    EXPECT_EQ(Rational(0, 7), Rational(0));
    EXPECT_EQ(Rational(0, 7).den(), 1);
    EXPECT_EQ(Rational(1000, 7).num(), 1000);
}

TEST(Rational, ComparesExactly) {
    constexpr std::int64_t big = std::numeric_limits<std::int64_t>::max();
    // Values one part in ~2^126 apart still compare right (128-bit cross products).
    EXPECT_GT(Rational(big - 1, big), Rational(big - 2, big - 1));
    EXPECT_GT(Rational(1, 3), Rational(333333333, 1000000000));
    EXPECT_LE(Rational(2, 4), Rational(1, 2));
    EXPECT_LT(Rational(-1, 2), Rational(0));
}

TEST(Rational, ArithmeticIsExact) {
    EXPECT_EQ(Rational(1, 3) + Rational(1, 6), Rational(1, 2));
    EXPECT_EQ(Rational(549, 4) - Rational(137), Rational(1, 4));
    EXPECT_EQ(Rational(2, 3) * Rational(9, 4), Rational(3, 2));
    EXPECT_EQ(Rational(1, 3) / Rational(1, 12), Rational(4));
    EXPECT_EQ(-Rational(1, 3), Rational(-1, 3));
    EXPECT_EQ(Rational(7, 2).floor(), 3);
    EXPECT_EQ(Rational(7, 2).ceil(), 4);
    EXPECT_EQ(Rational(-7, 2).floor(), -4);
    EXPECT_EQ(Rational(-7, 2).ceil(), -3);
    EXPECT_EQ(Rational(4).ceil(), 4);
}

TEST(Rational, CheckedOperationsReportOverflow) {
    constexpr std::int64_t big = std::numeric_limits<std::int64_t>::max();
    EXPECT_FALSE(checked_add(Rational(big), Rational(1)).has_value());
    EXPECT_FALSE(checked_mul(Rational(big), Rational(2)).has_value());
    EXPECT_FALSE(checked_add(Rational(1, big), Rational(1, big - 1)).has_value());
    EXPECT_FALSE(Rational::make(1, 0).has_value());
    // A big intermediate that reduces back into range is fine.
    const auto r = checked_mul(Rational(big, 3), Rational(3, big));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(*r, Rational(1));
}

} // namespace
} // namespace lockstep
