// Validator: one test per class of malformed packet, the two packets liblo 0.31 reads
// past, and every truncation and byte flip of valid packets (run under ASan in CI).
#include "osc/decode.hpp"
#include "osc/validate.hpp"

#include "bytes.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

namespace lockstep::osc {
namespace {

using namespace test;

// Validates a copy in an exact-size heap block so ASan sees any read past the end
// (a std::vector's spare capacity would hide it).
Verdict check(const Bytes& bytes, const Limits& limits = {}) {
    auto copy = std::make_unique<std::uint8_t[]>(bytes.size() + (bytes.empty() ? 1 : 0));
    if (!bytes.empty()) {
        std::memcpy(copy.get(), bytes.data(), bytes.size());
    }
    const std::span<const std::uint8_t> span(copy.get(), bytes.size());
    const Verdict v = validate(span, limits);
    // The decoder walks the same way and must agree exactly.
    const Decoded d = decode(span, limits);
    EXPECT_EQ(d.verdict.reason, v.reason);
    EXPECT_EQ(d.verdict.offset, v.offset);
    return v;
}

void expect_invalid(const Bytes& bytes, Reason reason, std::size_t offset,
                    const Limits& limits = {}) {
    const Verdict v = check(bytes, limits);
    EXPECT_EQ(v.reason, reason) << describe(v.reason) << " instead of " << describe(reason);
    EXPECT_EQ(v.offset, offset);
}

Bytes all_types_message() {
    Bytes args;
    be32(args, 42);                    // i
    be32(args, 0x3f800000);            // f 1.0
    str(args, "text");                 // s
    be32(args, 3);                     // b
    raw(args, "xyz").push_back(0);     //   3 bytes + 1 pad
    be64(args, 0x1122334455667788ULL); // h
    be64(args, 0x0000000100000000ULL); // t
    be64(args, 0x3ff0000000000000ULL); // d 1.0
    str(args, "sym");                  // S
    be32(args, 'A');                   // c
    be32(args, 0xff0000ffU);           // r
    be32(args, 0x00903c7fU);           // m
    be32(args, 7);                     // i inside [ ]
    return msg("/all/types", ",ifsbhtdScrmTFNI[i]", args);
}

TEST(OscValidate, AcceptsMessagesOfEveryType) {
    EXPECT_TRUE(check(msg("/a", ",")).ok());
    EXPECT_TRUE(check(msg("/seq/tempo", ",f", be32(Bytes{}, 0x42f00000))).ok());
    EXPECT_TRUE(check(all_types_message()).ok());
    Bytes empty_blob;
    be32(empty_blob, 0);
    EXPECT_TRUE(check(msg("/b", ",b", empty_blob)).ok());
    EXPECT_TRUE(check(msg("/s", ",s", str(Bytes{}, ""))).ok());
}

TEST(OscValidate, AcceptsBundlesNestedAndEmpty) {
    EXPECT_TRUE(check(bundle(1, {})).ok());
    EXPECT_TRUE(check(bundle(1, {msg("/a", ","), msg("/b", ",")})).ok());
    EXPECT_TRUE(check(bundle(5, {bundle(6, {msg("/a", ",")}), msg("/b", ",")})).ok());
}

TEST(OscValidate, SizeClasses) {
    expect_invalid({}, Reason::empty, 0);
    expect_invalid(msg("/abc", ",", {}), Reason::too_large, 8, Limits{.max_packet_size = 8});
    Bytes odd = msg("/a", ",");
    odd.push_back(0);
    expect_invalid(odd, Reason::size_not_multiple_of_4, 9);
}

TEST(OscValidate, BundleHeaderClasses) {
    Bytes b;
    raw(b, "#bundlX").push_back(0);
    be64(b, 1);
    expect_invalid(b, Reason::bad_bundle_header, 0);
    Bytes short_header;
    str(short_header, "#bundle");
    expect_invalid(short_header, Reason::bad_bundle_header, 0);
    Bytes no_timetag = short_header;
    be32(no_timetag, 0);
    expect_invalid(no_timetag, Reason::bad_bundle_header, 0);
}

// liblo 0.31 reads past the end of this 20-byte packet: a bundle whose only element has
// size zero.
TEST(OscValidate, RejectsLibloZeroLengthElementPacket) {
    Bytes b;
    str(b, "#bundle");
    be64(b, 1);
    be32(b, 0);
    ASSERT_EQ(b.size(), 20u);
    expect_invalid(b, Reason::element_empty, 16);
}

// liblo 0.31 reads a blob's size field without checking that its 4 bytes are there.
TEST(OscValidate, RejectsLibloCutOffBlobSizePacket) {
    const Bytes b = msg("/b", ",b");
    ASSERT_EQ(b.size(), 8u);
    expect_invalid(b, Reason::blob_size_truncated, 8);
    // The same inside a bundle, followed by nothing.
    expect_invalid(bundle(1, {msg("/b", ",b")}), Reason::blob_size_truncated, 28);
}

TEST(OscValidate, BundleElementClasses) {
    Bytes b = bundle(1, {msg("/a", ",")});
    b[19] = 6; // element size 6: not a multiple of 4
    expect_invalid(b, Reason::element_size_not_multiple_of_4, 16);
    b[19] = 12; // larger than what follows (8 bytes)
    expect_invalid(b, Reason::element_exceeds_bundle, 16);
    Bytes huge = bundle(1, {msg("/a", ",")});
    huge[16] = 0xff; // 0xff000008: must not wrap any size arithmetic
    expect_invalid(huge, Reason::element_exceeds_bundle, 16);
    // An inner bundle whose element runs past the inner bundle (but not the packet).
    Bytes inner = bundle(2, {msg("/a", ",")});
    Bytes outer = bundle(1, {inner, msg("/b", ",")});
    outer[16 + 4 + 19] = 16; // inner element claims 16 bytes; only 8 are inside inner
    expect_invalid(outer, Reason::element_exceeds_bundle, 36);
}

TEST(OscValidate, BundleDepthLimit) {
    const Bytes two = bundle(1, {bundle(1, {msg("/a", ",")})});
    EXPECT_TRUE(check(two, Limits{.max_bundle_depth = 2}).ok());
    expect_invalid(bundle(1, {two}), Reason::bundle_too_deep, 40, Limits{.max_bundle_depth = 2});
}

TEST(OscValidate, AddressClasses) {
    expect_invalid(msg("abc", ","), Reason::address_missing_slash, 0);
    Bytes unterminated;
    raw(unterminated, "/abc");
    expect_invalid(unterminated, Reason::address_unterminated, 0);
    Bytes pad_cut; // "/abc" + NUL needs 8 bytes; the packet ends after 4 + comma
    raw(pad_cut, "/ab").push_back(0);
    expect_invalid(pad_cut, Reason::type_tags_missing, 4);
    Bytes bad_pad;
    raw(bad_pad, "/a").push_back(0);
    bad_pad.push_back('x');
    str(bad_pad, ",");
    expect_invalid(bad_pad, Reason::padding_not_zero, 3);
    expect_invalid(msg("/a b", ","), Reason::address_bad_char, 2);
    expect_invalid(msg("/a\x01", ","), Reason::address_bad_char, 2);
    expect_invalid(msg("/a\xc3\xa9", ","), Reason::address_bad_char, 2);
    expect_invalid(msg("/a#", ","), Reason::address_bad_char, 2);
}

TEST(OscValidate, TypeTagClasses) {
    Bytes missing;
    str(missing, "/a");
    expect_invalid(missing, Reason::type_tags_missing, 4);
    expect_invalid(msg("/a", "i", be32(Bytes{}, 1)), Reason::type_tags_no_comma, 4);
    Bytes unterminated;
    str(unterminated, "/a");
    raw(unterminated, ",iii");
    expect_invalid(unterminated, Reason::type_tags_unterminated, 4);
    Bytes bad_pad;
    str(bad_pad, "/a");
    raw(bad_pad, ",i").push_back(0);
    bad_pad.push_back(1);
    be32(bad_pad, 5);
    expect_invalid(bad_pad, Reason::padding_not_zero, 7);
    expect_invalid(msg("/a", ",x"), Reason::unknown_type_tag, 5);
    expect_invalid(msg("/a", ",i]", be32(Bytes{}, 1)), Reason::array_unbalanced, 6);
    expect_invalid(msg("/a", ",[i", be32(Bytes{}, 1)), Reason::array_unbalanced, 4);
    expect_invalid(msg("/a", ",[[]]"), Reason::array_too_deep, 6, Limits{.max_array_depth = 1});
    EXPECT_TRUE(check(msg("/a", ",[[]]"), Limits{.max_array_depth = 2}).ok());
    expect_invalid(msg("/a", ",TTT"), Reason::too_many_args, 4, Limits{.max_args = 2});
}

TEST(OscValidate, ArgumentClasses) {
    expect_invalid(msg("/a", ",i"), Reason::arg_truncated, 8);
    expect_invalid(msg("/a", ",f"), Reason::arg_truncated, 8);
    expect_invalid(msg("/a", ",h", be32(Bytes{}, 1)), Reason::arg_truncated, 8);
    expect_invalid(msg("/a", ",d"), Reason::arg_truncated, 8);
    expect_invalid(msg("/a", ",ii", be32(Bytes{}, 1)), Reason::arg_truncated, 12);
    Bytes text;
    raw(text, "abcd");
    expect_invalid(msg("/a", ",s", text), Reason::string_unterminated, 8);
    Bytes text_pad;
    raw(text_pad, "ab").push_back(0);
    text_pad.push_back(9);
    expect_invalid(msg("/a", ",s", text_pad), Reason::padding_not_zero, 11);
}

TEST(OscValidate, BlobClasses) {
    expect_invalid(msg("/a", ",b", be32(Bytes{}, 0xffffffffU)), Reason::blob_size_negative, 8);
    expect_invalid(msg("/a", ",b", be32(Bytes{}, 0x7fffffffU)), Reason::blob_exceeds_message, 8);
    Bytes five;
    be32(five, 5);
    raw(five, "abcd");
    expect_invalid(msg("/a", ",b", five), Reason::blob_exceeds_message, 8);
    Bytes pad;
    be32(pad, 1);
    pad.insert(pad.end(), {7, 0, 1, 0});
    expect_invalid(msg("/a", ",b", pad), Reason::padding_not_zero, 14);
}

TEST(OscValidate, TrailingBytes) {
    Bytes extra;
    be32(extra, 1);
    be32(extra, 2);
    expect_invalid(msg("/a", ",i", extra), Reason::trailing_bytes, 12);
    expect_invalid(msg("/a", ",", be32(Bytes{}, 0)), Reason::trailing_bytes, 8);
}

TEST(OscValidate, EveryReasonHasADescription) {
    for (int r = 0; r <= static_cast<int>(Reason::trailing_bytes); ++r) {
        EXPECT_STRNE(describe(static_cast<Reason>(r)), "unknown reason") << r;
    }
}

// Every prefix and every single-byte change of valid packets is either accepted or
// refused with a reason, and never read out of bounds (ASan build).
TEST(OscValidate, SurvivesTruncationAndCorruption) {
    const Bytes samples[] = {
        all_types_message(),
        bundle(7, {all_types_message(), bundle(8, {msg("/x", ",b", be32(Bytes{}, 0))})}),
    };
    std::size_t accepted = 0;
    std::size_t refused = 0;
    for (const Bytes& sample : samples) {
        for (std::size_t n = 0; n <= sample.size(); ++n) {
            const Bytes prefix(sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(n));
            (check(prefix).ok() ? accepted : refused)++;
        }
        for (std::size_t i = 0; i < sample.size(); ++i) {
            for (std::uint8_t value : {0x00, 0x01, 0x2c, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xff}) {
                Bytes changed = sample;
                changed[i] = value;
                (check(changed).ok() ? accepted : refused)++;
            }
        }
    }
    EXPECT_GT(refused, 0u);
    EXPECT_GT(accepted, 0u);
}

// The fuzz corpus names say what the validator must answer: valid_* accepted,
// invalid_* and liblo_overread_* refused.
TEST(OscValidate, FuzzCorpusVerdictsMatchTheirNames) {
    const char* root = std::getenv("LOCKSTEP_SOURCE_ROOT");
    ASSERT_NE(root, nullptr) << "run through meson test";
    const auto dir = std::filesystem::path(root) / "tests/fuzz/osc_validator";
    std::size_t named = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        std::ifstream in(entry.path(), std::ios::binary);
        const Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (name.starts_with("valid_")) {
            EXPECT_TRUE(check(bytes).ok()) << name;
            ++named;
        } else if (name.starts_with("invalid_") || name.starts_with("liblo_overread_")) {
            EXPECT_FALSE(check(bytes).ok()) << name;
            ++named;
        }
    }
    EXPECT_GE(named, 12u);
}

} // namespace
} // namespace lockstep::osc
