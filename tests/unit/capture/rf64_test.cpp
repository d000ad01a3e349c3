// A take over 4 GiB is written as RF64 and reads back whole: 2 channels of float32,
// 2^29 + 2^20 frames (4.01 GiB of audio), every sample checked. Needs ~4.1 GB of free
// space in $TMPDIR (or /tmp): skipped with a message when there is less.
#include "writer.hpp"

#include "harness/process.hpp"

#include <sndfile.h>
#include <sys/statvfs.h>

#include <gtest/gtest.h>

#include <vector>

namespace lockstep::capture {
namespace {

float value(std::uint32_t c, std::uint64_t frame) {
    return static_cast<float>((frame + 7 * c) % (1u << 23));
}

TEST(CaptureWriterRf64, TakeOver4GiBReadsBackWhole) {
    lockstep::test::TempDir dir("capture-rf64");
    const std::uint64_t frames = (std::uint64_t{1} << 29) + (std::uint64_t{1} << 20);
    const std::uint64_t bytes = frames * 2 * sizeof(float);
    struct statvfs vfs {};
    ASSERT_EQ(::statvfs(dir.path().c_str(), &vfs), 0);
    if (static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize < bytes + (256u << 20)) {
        GTEST_SKIP() << "needs " << (bytes >> 20) << " MiB free in " << dir.path();
    }
    WriterOptions o;
    o.channels = 2;
    std::string err;
    auto w = TakeWriter::open(o, dir.path() + "/big", 99, err);
    ASSERT_NE(w, nullptr) << err;
    const std::size_t block = 1 << 16;
    std::vector<float> a(block);
    std::vector<float> b(block);
    for (std::uint64_t f = 0; f < frames; f += block) {
        for (std::size_t i = 0; i < block; ++i) {
            a[i] = value(0, f + i);
            b[i] = value(1, f + i);
        }
        const float* ptrs[2] = {a.data(), b.data()};
        ASSERT_EQ(w->write(ptrs, block), WriteStatus::ok) << w->error();
        if (f % (block * 512) == 0) {
            w->update_header();
        }
    }
    ASSERT_TRUE(w->close()) << w->error();

    SF_INFO info{};
    SNDFILE* f = sf_open((dir.path() + "/big.wav").c_str(), SFM_READ, &info);
    ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
    EXPECT_EQ(info.format & SF_FORMAT_TYPEMASK, SF_FORMAT_RF64);
    EXPECT_EQ(static_cast<std::uint64_t>(info.frames), frames);
    SF_BROADCAST_INFO bext{};
    ASSERT_EQ(sf_command(f, SFC_GET_BROADCAST_INFO, &bext, sizeof bext), SF_TRUE);
    EXPECT_EQ(bext.time_reference_low, 99U);
    std::vector<float> buf(block * 2);
    std::uint64_t pos = 0;
    std::uint64_t bad = 0;
    while (pos < frames) {
        const sf_count_t got = sf_readf_float(f, buf.data(), static_cast<sf_count_t>(block));
        ASSERT_GT(got, 0);
        for (sf_count_t i = 0; i < got; ++i) {
            bad += buf[2 * i] != value(0, pos + i) || buf[2 * i + 1] != value(1, pos + i);
        }
        pos += static_cast<std::uint64_t>(got);
    }
    sf_close(f);
    EXPECT_EQ(pos, frames);
    EXPECT_EQ(bad, 0U);
}

} // namespace
} // namespace lockstep::capture
