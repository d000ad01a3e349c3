// Message encoding and decoding: round trips through our codec, and cross-checks with
// liblo as an independent implementation in both directions.
#include "osc/decode.hpp"
#include "osc/message.hpp"

#include "bytes.hpp"

#include <gtest/gtest.h>
#include <lo/lo.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace lockstep::osc {
namespace {

Message every_type() {
    const std::uint8_t blob[] = {1, 2, 3, 4, 5};
    return Message("/every/type",
                   {Arg::int32(-7), Arg::float32(1.5f), Arg::string("hello"), Arg::blob(blob),
                    Arg::int64(-(std::int64_t{1} << 40)), Arg::timetag(0x0123456789abcdefULL),
                    Arg::float64(-2.25), Arg::symbol("sym"), Arg::character('Z'),
                    Arg::rgba(0x11223344U), Arg::midi({0, 0x90, 60, 127}), Arg::boolean(true),
                    Arg::boolean(false), Arg::nil(), Arg::impulse(), Arg::array_begin(),
                    Arg::int32(1), Arg::string(""), Arg::array_end()});
}

TEST(OscMessage, TypesAreTheTypeTagString) {
    EXPECT_EQ(every_type().types(), "ifsbhtdScrmTFNI[is]");
    EXPECT_EQ(Message("/x").types(), "");
}

TEST(OscMessage, EncodeDecodeRoundTrip) {
    const Message m = every_type();
    const auto bytes = encode(m);
    EXPECT_EQ(bytes.size() % 4, 0u);
    const Decoded d = decode(bytes);
    ASSERT_TRUE(d.ok()) << describe(d.verdict.reason) << " at " << d.verdict.offset;
    ASSERT_EQ(d.elements.size(), 1u);
    EXPECT_EQ(d.elements[0].timetag, kImmediate);
    EXPECT_EQ(d.elements[0].message, m);
    EXPECT_EQ(to_string(d.elements[0].message).substr(0, 32), "/every/type ,ifsbhtdScrmTFNI[is]");
}

TEST(OscMessage, AccessorsCheckTheType) {
    const Message m = every_type();
    EXPECT_EQ(m.args[0].i(), -7);
    EXPECT_EQ(m.args[1].f(), 1.5f);
    EXPECT_EQ(m.args[2].s(), "hello");
    EXPECT_EQ(m.args[7].s(), "sym");
    EXPECT_EQ(m.args[8].c(), 'Z');
    EXPECT_EQ(m.args[10].m()[1], 0x90);
    EXPECT_TRUE(m.args[11].boolean_value());
    EXPECT_FALSE(m.args[12].boolean_value());
    EXPECT_THROW((void)m.args[0].f(), std::logic_error);
    EXPECT_THROW((void)m.args[2].i(), std::logic_error);
    EXPECT_THROW((void)m.args[13].number(), std::logic_error);
    EXPECT_DOUBLE_EQ(m.args[4].number(), -1099511627776.0);
}

TEST(OscMessage, StringsStopAtNul) {
    const Message m("/s", {Arg::string(std::string("ab\0cd", 5))});
    const Decoded d = decode(encode(m));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d.elements[0].message.args[0].s(), "ab");
}

TEST(OscMessage, BundlesCarryTheirTimetagAndNeverRunBeforeTheirContainer) {
    const std::vector<std::vector<std::uint8_t>> inner = {encode(Message("/inner"))};
    const std::vector<std::vector<std::uint8_t>> early_inner = {encode(Message("/early"))};
    const std::vector<std::vector<std::uint8_t>> outer = {
        encode(Message("/a")), encode_bundle(500, inner), encode_bundle(100, early_inner)};
    const Decoded d = decode(encode_bundle(200, outer));
    ASSERT_TRUE(d.ok());
    ASSERT_EQ(d.elements.size(), 3u);
    EXPECT_EQ(d.elements[0].message.path, "/a");
    EXPECT_EQ(d.elements[0].timetag, 200u);
    EXPECT_EQ(d.elements[1].timetag, 500u);
    EXPECT_EQ(d.elements[2].message.path, "/early");
    EXPECT_EQ(d.elements[2].timetag, 200u); // raised to the container's time
}

TEST(OscMessage, NtpConversions) {
    EXPECT_EQ(ntp_from_ns(1000000000ULL), 1ULL << 32);
    EXPECT_EQ(ntp_from_ns(500000000ULL), 1ULL << 31);
    EXPECT_EQ(ns_from_ntp(1ULL << 32), 1000000000ULL);
    EXPECT_EQ(ns_from_ntp(ntp_from_ns(123456789ULL)), 123456789ULL);
    EXPECT_GT(ntp_now() >> 32, 3900000000ULL); // after 2023 in NTP seconds
}

// liblo builds a message; our decoder reads the same values.
TEST(OscMessage, DecodesWhatLibloEncodes) {
    lo_message m = lo_message_new();
    lo_message_add_int32(m, 12);
    lo_message_add_float(m, 0.25f);
    lo_message_add_string(m, "abc");
    lo_message_add_int64(m, -5);
    lo_message_add_double(m, 3.5);
    lo_message_add_true(m);
    std::size_t size = 0;
    void* raw = lo_message_serialise(m, "/from/liblo", nullptr, &size);
    const Decoded d = decode(std::span(static_cast<const std::uint8_t*>(raw), size));
    std::free(raw);
    lo_message_free(m);
    ASSERT_TRUE(d.ok()) << describe(d.verdict.reason);
    const Message& got = d.elements[0].message;
    EXPECT_EQ(got.path, "/from/liblo");
    EXPECT_EQ(got.types(), "ifshdT");
    EXPECT_EQ(got.args[0].i(), 12);
    EXPECT_EQ(got.args[1].f(), 0.25f);
    EXPECT_EQ(got.args[2].s(), "abc");
    EXPECT_EQ(got.args[3].h(), -5);
    EXPECT_EQ(got.args[4].d(), 3.5);
}

// We encode; liblo's deserialiser reads the same values.
TEST(OscMessage, LibloDecodesWhatWeEncode) {
    const std::uint8_t blob[] = {9, 8, 7};
    auto bytes =
        encode(Message("/to/liblo", {Arg::int32(-3), Arg::float32(2.5f), Arg::string("xy"),
                                     Arg::blob(blob), Arg::float64(-1.0), Arg::character('q')}));
    int result = 0;
    lo_message m = lo_message_deserialise(bytes.data(), bytes.size(), &result);
    ASSERT_NE(m, nullptr) << result;
    EXPECT_STREQ(lo_message_get_types(m), "ifsbdc");
    // liblo 0.31 hands out an argv array and lo_arg pointers that are only 4-byte
    // aligned (UBSan objects to reading them directly): copy everything out.
    lo_arg** argv = lo_message_get_argv(m);
    const auto pointer = [&](int index) {
        const char* p = nullptr;
        std::memcpy(&p, reinterpret_cast<const char*>(argv) + index * sizeof p, sizeof p);
        return p;
    };
    const auto value = [&]<typename T>(int index, T) {
        T v{};
        std::memcpy(&v, pointer(index), sizeof v);
        return v;
    };
    EXPECT_EQ(value(0, std::int32_t{}), -3);
    EXPECT_EQ(value(1, float{}), 2.5f);
    EXPECT_STREQ(pointer(2), "xy");
    EXPECT_EQ(value(3, std::uint32_t{}), 3u); // blob size, host order
    EXPECT_EQ(value(4, double{}), -1.0);
    EXPECT_EQ(value(5, std::int32_t{}), 'q');
    lo_message_free(m);
}

TEST(OscMessage, DecodesLibloBundles) {
    lo_timetag tt{0x12345678U, 0x9abcdef0U};
    lo_bundle b = lo_bundle_new(tt);
    lo_message m = lo_message_new();
    lo_message_add_int32(m, 5);
    lo_bundle_add_message(b, "/in/bundle", m);
    std::size_t size = 0;
    void* raw = lo_bundle_serialise(b, nullptr, &size);
    const Decoded d = decode(std::span(static_cast<const std::uint8_t*>(raw), size));
    std::free(raw);
    lo_bundle_free_recursive(b);
    ASSERT_TRUE(d.ok());
    ASSERT_EQ(d.elements.size(), 1u);
    EXPECT_EQ(d.elements[0].timetag, 0x123456789abcdef0ULL);
    EXPECT_EQ(d.elements[0].message.args[0].i(), 5);
}

} // namespace
} // namespace lockstep::osc
