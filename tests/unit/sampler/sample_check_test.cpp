// Header checks before any decoder: accepted containers/encodings and a clear reason for
// each refused one.
#include "sample_check.hpp"
#include "test_audio.hpp"

#include <gtest/gtest.h>

#include <string>

namespace lockstep::sampler {
namespace {

using test::WavSpec;

SampleCheck check(const test::Bytes& b, const SampleLimits& limits = {}) {
    return check_sample(b, limits);
}

TEST(SampleCheck, AcceptsPcmAndFloatWav) {
    const auto pcm = check(test::wav(test::ramp(100, 2), {.channels = 2, .rate = 44100}));
    ASSERT_TRUE(pcm.ok) << pcm.reason;
    EXPECT_EQ(pcm.info.channels, 2U);
    EXPECT_EQ(pcm.info.rate, 44100U);
    EXPECT_EQ(pcm.info.frames, 100U);
    EXPECT_FALSE(pcm.info.is_float);
    const auto fl = check(test::wav(test::ramp(10), {.bits = 32, .tag = 3}));
    ASSERT_TRUE(fl.ok) << fl.reason;
    EXPECT_TRUE(fl.info.is_float);
    const auto ext = check(test::wav(test::ramp(10), {.bits = 24, .extensible = true}));
    ASSERT_TRUE(ext.ok) << ext.reason;
    EXPECT_EQ(ext.info.bits, 24U);
    const auto ext_fl =
        check(test::wav(test::ramp(10), {.bits = 32, .tag = 3, .extensible = true}));
    ASSERT_TRUE(ext_fl.ok) << ext_fl.reason;
    EXPECT_TRUE(ext_fl.info.is_float);
}

TEST(SampleCheck, AcceptsAiffAndAiffC) {
    for (const char* codec : {"NONE", "sowt", "fl32"}) {
        const auto c = check(test::aiff(test::ramp(50), 1, 48000, true, codec));
        ASSERT_TRUE(c.ok) << codec << ": " << c.reason;
        EXPECT_EQ(c.info.frames, 50U);
        EXPECT_EQ(c.info.rate, 48000U);
    }
    const auto a = check(test::aiff(test::ramp(50, 2), 2, 44100, false));
    ASSERT_TRUE(a.ok) << a.reason;
    EXPECT_EQ(a.info.channels, 2U);
    EXPECT_EQ(a.info.rate, 44100U);
}

struct Refused {
    const char* name;
    test::Bytes bytes;
    const char* reason;
};

TEST(SampleCheck, RefusesWithAClearReason) {
    auto truncated = test::wav(test::ramp(100));
    truncated.resize(truncated.size() - 10);
    auto no_fmt = test::wav(test::ramp(10));
    no_fmt.resize(20);
    const Refused cases[] = {
        {"ima adpcm", test::wav(test::ramp(64), {.bits = 4, .tag = 0x11}), "IMA ADPCM"},
        {"ms adpcm", test::wav(test::ramp(64), {.bits = 4, .tag = 0x02}), "Microsoft ADPCM"},
        {"extensible adpcm",
         test::wav(test::ramp(64), {.bits = 8, .tag = 0x02, .extensible = true}), "ADPCM"},
        {"mu-law", test::wav(test::ramp(64), {.bits = 8, .tag = 0x07}), "mu-law"},
        {"mp3", test::wav(test::ramp(64), {.bits = 8, .tag = 0x55}), "MPEG layer 3"},
        {"3 channels", test::wav(test::ramp(10, 3), {.channels = 3}), "3 channels"},
        {"8 channels", test::wav(test::ramp(10, 8), {.channels = 8}), "8 channels"},
        {"rate", test::wav(test::ramp(10), {.rate = 1000}), "1000 Hz"},
        {"huge rate", test::wav(test::ramp(10), {.rate = 4000000}), "4000000 Hz"},
        {"truncated", truncated, "truncated"},
        {"no fmt", no_fmt, "fmt chunk is truncated"},
        {"declared huge", test::wav(test::ramp(10), {.data_size = 0x7FFFFFF0}), "truncated"},
        {"12-bit pcm", test::wav(test::ramp(10), {.bits = 12}), "12 bits"},
        {"aifc ima4", test::aiff(test::ramp(10), 1, 48000, true, "ima4"), "'ima4'"},
        {"empty", test::wav({}), "no audio frames"},
        {"short", test::Bytes{'R', 'I', 'F', 'F'}, "too short"},
        {"ogg", test::Bytes{'O', 'g', 'g', 'S', 0, 2, 0, 0, 0, 0, 0, 0, 0}, "Ogg"},
        {"text", test::Bytes{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '!'},
         "not a WAV"},
    };
    for (const auto& c : cases) {
        const auto r = check(c.bytes);
        EXPECT_FALSE(r.ok) << c.name;
        EXPECT_NE(r.reason.find(c.reason), std::string::npos) << c.name << ": " << r.reason;
    }
}

TEST(SampleCheck, Limits) {
    SampleLimits limits;
    limits.max_seconds = 1.0;
    const auto long_file = check(test::wav(std::vector<float>(48001), {}), limits);
    EXPECT_FALSE(long_file.ok);
    EXPECT_NE(long_file.reason.find("limit is 1 s"), std::string::npos) << long_file.reason;
    limits = {};
    limits.max_file_bytes = 100;
    const auto big = check(test::wav(test::ramp(100)), limits);
    EXPECT_FALSE(big.ok);
    EXPECT_NE(big.reason.find("limit is 100"), std::string::npos) << big.reason;
}

TEST(SampleCheck, FlacStreamInfo) {
    // fLaC + STREAMINFO (last) + a frame sync: 4096-frame blocks, 48 kHz, stereo, 16 bits.
    test::Bytes b = {'f', 'L', 'a', 'C', 0x80, 0, 0, 34};
    test::Bytes info = {0x10, 0x00, 0x10, 0x00, 0, 0, 0, 0, 0, 0};
    // rate 48000 (20 bits) | channels-1 = 1 (3 bits) | bps-1 = 15 (5 bits) | frames 96000 (36)
    const std::uint64_t packed =
        (std::uint64_t{48000} << 44) | (std::uint64_t{1} << 41) | (std::uint64_t{15} << 36) | 96000;
    test::put_be(info, packed, 8);
    info.resize(34, 0);
    b.insert(b.end(), info.begin(), info.end());
    b.push_back(0xFF);
    b.push_back(0xF8);
    const auto ok = check(b);
    ASSERT_TRUE(ok.ok) << ok.reason;
    EXPECT_EQ(ok.info.rate, 48000U);
    EXPECT_EQ(ok.info.channels, 2U);
    EXPECT_EQ(ok.info.bits, 16U);
    EXPECT_EQ(ok.info.frames, 96000U);
    auto no_audio = b;
    no_audio.resize(no_audio.size() - 2);
    EXPECT_NE(check(no_audio).reason.find("no audio frame"), std::string::npos);
    auto zero_len = b;
    for (int i = 0; i < 4; ++i) {
        zero_len[8 + 14 + static_cast<std::size_t>(i)] = 0;
    }
    zero_len[8 + 13] &= 0xF0;
    EXPECT_NE(check(zero_len).reason.find("does not give the length"), std::string::npos)
        << check(zero_len).reason;
    auto not_streaminfo = b;
    not_streaminfo[4] = 0x81;
    EXPECT_NE(check(not_streaminfo).reason.find("not a STREAMINFO"), std::string::npos);
}

} // namespace
} // namespace lockstep::sampler
