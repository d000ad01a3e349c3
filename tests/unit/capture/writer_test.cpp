// TakeWriter and the take name template: formats, bext time reference, per-channel files,
// never overwriting, headers brought up to date while writing (crash safety), disk full.
#include "writer.hpp"

#include "harness/process.hpp"

#include <sndfile.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sys/mount.h>
#include <unistd.h>

namespace lockstep::capture {
namespace {

namespace fs = std::filesystem;

struct Planar {
    std::vector<std::vector<float>> data;
    std::vector<const float*> ptrs;
    Planar(std::uint32_t channels, std::size_t frames, Frame first, float scale = 1.0F) {
        data.assign(channels, std::vector<float>(frames));
        for (std::uint32_t c = 0; c < channels; ++c) {
            for (std::size_t i = 0; i < frames; ++i) {
                data[c][i] =
                    scale * static_cast<float>((first + static_cast<Frame>(i) + 1000 * c) % 30000) /
                    32768.0F;
            }
            ptrs.push_back(data[c].data());
        }
    }
};

struct Read {
    SF_INFO info{};
    std::vector<float> samples;
    std::uint64_t time_reference = 0;
    bool bext = false;
};

Read read(const std::string& path) {
    Read r;
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &r.info);
    if (f == nullptr) {
        ADD_FAILURE() << path << ": " << sf_strerror(nullptr);
        return r;
    }
    r.samples.resize(static_cast<std::size_t>(r.info.frames * r.info.channels));
    EXPECT_EQ(sf_readf_float(f, r.samples.data(), r.info.frames), r.info.frames);
    SF_BROADCAST_INFO b{};
    if (sf_command(f, SFC_GET_BROADCAST_INFO, &b, sizeof b) == SF_TRUE) {
        r.bext = true;
        r.time_reference = (std::uint64_t{b.time_reference_high} << 32) | b.time_reference_low;
    }
    sf_close(f);
    return r;
}

TEST(CaptureTemplate, ExpandsPlaceholders) {
    std::string out;
    std::string err;
    std::tm tm{};
    tm.tm_year = 2024 - 1900;
    tm.tm_mon = 2;
    tm.tm_mday = 7;
    tm.tm_hour = 9;
    tm.tm_min = 5;
    tm.tm_sec = 3;
    tm.tm_isdst = -1;
    const std::time_t t = std::mktime(&tm);
    ASSERT_TRUE(expand_template("take-{date}-{time}-{n}@{frame}", 7, t, 123456, out, err)) << err;
    EXPECT_EQ(out, "take-20240307-090503-007@123456");
    EXPECT_FALSE(expand_template("a/{n}", 1, t, 0, out, err));
    EXPECT_FALSE(expand_template("{bogus}", 1, t, 0, out, err));
    EXPECT_NE(err.find("{bogus}"), std::string::npos);
    EXPECT_FALSE(expand_template("x{n", 1, t, 0, out, err));
    EXPECT_FALSE(expand_template("", 1, t, 0, out, err));
}

TEST(CaptureWriter, FloatWavWithBextTimeReference) {
    lockstep::test::TempDir dir("capture-writer");
    WriterOptions o;
    o.channels = 3;
    std::string err;
    const Frame first = (Frame{1} << 33) + 17; // beyond 32 bits: both halves of the bext field
    auto w = TakeWriter::open(o, dir.path() + "/t", first, err);
    ASSERT_NE(w, nullptr) << err;
    Planar p(3, 5000, 0);
    ASSERT_EQ(w->write(p.ptrs, 5000), WriteStatus::ok);
    ASSERT_EQ(w->write_silence(100), WriteStatus::ok);
    ASSERT_TRUE(w->close());
    EXPECT_EQ(w->frames(), 5100U);
    const Read r = read(dir.path() + "/t.wav");
    EXPECT_EQ(r.info.channels, 3);
    EXPECT_EQ(r.info.frames, 5100);
    // downgraded from RF64 to a plain RIFF file (WAVE_FORMAT_EXTENSIBLE)
    EXPECT_EQ(r.info.format & SF_FORMAT_TYPEMASK, SF_FORMAT_WAVEX);
    {
        std::ifstream in(dir.path() + "/t.wav", std::ios::binary);
        char magic[5] = {};
        in.read(magic, 4);
        EXPECT_STREQ(magic, "RIFF");
    }
    EXPECT_EQ(r.info.format & SF_FORMAT_SUBMASK, SF_FORMAT_FLOAT);
    ASSERT_TRUE(r.bext);
    EXPECT_EQ(r.time_reference, static_cast<std::uint64_t>(first));
    for (std::size_t i = 0; i < 5000; ++i) {
        for (std::size_t c = 0; c < 3; ++c) {
            ASSERT_EQ(r.samples[i * 3 + c], p.data[c][i]);
        }
    }
    EXPECT_EQ(r.samples[5050 * 3 + 1], 0.0F);
}

// The chunk ids of a RIFF/RF64 WAVE file, up to and including "data".
std::vector<std::string> chunk_ids(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> h(8192);
    in.read(h.data(), static_cast<std::streamsize>(h.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    std::vector<std::string> ids;
    std::size_t pos = 12;
    while (pos + 8 <= n) {
        ids.emplace_back(h.data() + pos, 4);
        if (ids.back() == "data") {
            break;
        }
        std::uint32_t size = 0;
        for (int b = 3; b >= 0; --b) {
            size = size << 8 | static_cast<unsigned char>(h[pos + 4 + static_cast<std::size_t>(b)]);
        }
        pos += 8 + size + (size & 1U);
    }
    return ids;
}

// Every channel count from 1 to 9 (the 4x4 transposes and their remainders) over odd
// lengths that straddle the interleaving chunk; no PEAK chunk claims peaks that libsndfile
// never saw (float32 data is written raw).
TEST(CaptureWriter, InterleavesEveryChannelCountExactlyAndHidesThePeakChunk) {
    for (std::uint32_t channels = 1; channels <= 9; ++channels) {
        lockstep::test::TempDir dir("capture-writer-ch");
        WriterOptions o;
        o.channels = channels;
        o.chunk_frames = 64;
        std::string err;
        auto w = TakeWriter::open(o, dir.path() + "/t", 0, err);
        ASSERT_NE(w, nullptr) << err;
        Planar p(channels, 1000, 0, 0.9F);
        ASSERT_EQ(w->write(p.ptrs, 203), WriteStatus::ok);
        EXPECT_TRUE(w->update_header());
        EXPECT_EQ(chunk_ids(dir.path() + "/t.wav").back(), "data");
        std::vector<const float*> rest;
        for (auto* q : p.ptrs) {
            rest.push_back(q + 203);
        }
        ASSERT_EQ(w->write(rest, 797), WriteStatus::ok);
        ASSERT_TRUE(w->close());
        const Read r = read(dir.path() + "/t.wav");
        ASSERT_EQ(r.info.frames, 1000);
        for (std::size_t i = 0; i < 1000; ++i) {
            for (std::size_t c = 0; c < channels; ++c) {
                ASSERT_EQ(r.samples[i * channels + c], p.data[c][i]) << channels << " " << i;
            }
        }
        const auto ids = chunk_ids(dir.path() + "/t.wav");
        EXPECT_EQ(std::count(ids.begin(), ids.end(), "PEAK"), 0) << channels;
        EXPECT_EQ(ids.back(), "data");
    }
}

TEST(CaptureWriter, PerChannelFilesAndIntegerFormats) {
    for (auto sample : {SampleFormat::pcm16, SampleFormat::pcm24}) {
        lockstep::test::TempDir dir("capture-writer");
        WriterOptions o;
        o.channels = 2;
        o.per_channel = true;
        o.sample = sample;
        std::string err;
        auto w = TakeWriter::open(o, dir.path() + "/t", 42, err);
        ASSERT_NE(w, nullptr) << err;
        Planar p(2, 3000, 0);
        ASSERT_EQ(w->write(p.ptrs, 3000), WriteStatus::ok);
        ASSERT_TRUE(w->close());
        ASSERT_EQ(w->paths().size(), 2U);
        EXPECT_EQ(w->paths()[1], dir.path() + "/t_ch002.wav");
        for (std::uint32_t c = 0; c < 2; ++c) {
            const Read r = read(w->paths()[c]);
            EXPECT_EQ(r.info.channels, 1);
            EXPECT_EQ(r.info.frames, 3000);
            EXPECT_EQ(r.info.format & SF_FORMAT_SUBMASK,
                      sample == SampleFormat::pcm16 ? SF_FORMAT_PCM_16 : SF_FORMAT_PCM_24);
            EXPECT_EQ(r.time_reference, 42U);
            for (std::size_t i = 0; i < 3000; ++i) {
                ASSERT_NEAR(r.samples[i], p.data[c][i], 1.0 / 32768.0);
            }
        }
    }
}

TEST(CaptureWriter, Flac) {
    lockstep::test::TempDir dir("capture-writer");
    WriterOptions o;
    o.channels = 2;
    o.format = FileFormat::flac;
    o.sample = SampleFormat::pcm24;
    std::string err;
    auto w = TakeWriter::open(o, dir.path() + "/t", 0, err);
    ASSERT_NE(w, nullptr) << err;
    Planar p(2, 4000, 0);
    ASSERT_EQ(w->write(p.ptrs, 4000), WriteStatus::ok);
    ASSERT_TRUE(w->close());
    const Read r = read(dir.path() + "/t.flac");
    EXPECT_EQ(r.info.format & SF_FORMAT_TYPEMASK, SF_FORMAT_FLAC);
    EXPECT_EQ(r.info.frames, 4000);
    EXPECT_NEAR(r.samples[2 * 1234 + 1], p.data[1][1234], 1.0 / (1 << 23));
    // FLAC cannot hold float samples or more than 8 channels in one file
    o.sample = SampleFormat::float32;
    EXPECT_EQ(TakeWriter::open(o, dir.path() + "/u", 0, err), nullptr);
    o.sample = SampleFormat::pcm16;
    o.channels = 9;
    EXPECT_EQ(TakeWriter::open(o, dir.path() + "/v", 0, err), nullptr);
    EXPECT_FALSE(fs::exists(dir.path() + "/v.flac"));
}

TEST(CaptureWriter, NeverOverwrites) {
    lockstep::test::TempDir dir("capture-writer");
    { std::ofstream(dir.path() + "/t.wav") << "precious"; }
    WriterOptions o;
    std::string err;
    EXPECT_EQ(TakeWriter::open(o, dir.path() + "/t", 0, err), nullptr);
    EXPECT_NE(err.find("exists"), std::string::npos) << err;
    std::ifstream in(dir.path() + "/t.wav");
    std::string s;
    in >> s;
    EXPECT_EQ(s, "precious");
}

// What a reader finds if the process died right now: a copy of the file as it is on disk,
// without close().
TEST(CaptureWriter, UpdatedHeaderMakesAnUnclosedFileReadable) {
    lockstep::test::TempDir dir("capture-writer");
    WriterOptions o;
    o.channels = 4;
    std::string err;
    auto w = TakeWriter::open(o, dir.path() + "/t", 1000, err);
    ASSERT_NE(w, nullptr) << err;
    Planar p(4, 48000, 0);
    ASSERT_EQ(w->write(p.ptrs, 48000), WriteStatus::ok);
    ASSERT_TRUE(w->update_header());
    ASSERT_EQ(w->write(p.ptrs, 10000), WriteStatus::ok); // after the update: not counted
    fs::copy_file(dir.path() + "/t.wav", dir.path() + "/crash.wav");
    const Read r = read(dir.path() + "/crash.wav");
    EXPECT_EQ(r.info.frames, 48000);
    EXPECT_EQ(r.time_reference, 1000U);
    EXPECT_EQ(r.samples[4 * 47999 + 3], p.data[3][47999]);
    // sox reads it too (when installed)
    if (std::system("command -v sox >/dev/null 2>&1") == 0) {
        const std::string cmd =
            "sox --i -s " + dir.path() + "/crash.wav > " + dir.path() + "/n 2>/dev/null";
        ASSERT_EQ(std::system(cmd.c_str()), 0);
        std::ifstream in(dir.path() + "/n");
        long long n = 0;
        in >> n;
        EXPECT_EQ(n, 48000); // frames (sox calls them samples)
    }
    ASSERT_TRUE(w->close());
}

// A full file system: a private tmpfs (needs root; skipped otherwise).
TEST(CaptureWriter, DiskFullEndsCleanlyWithAValidFile) {
    lockstep::test::TempDir dir("capture-writer");
    if (::mount("tmpfs", dir.path().c_str(), "tmpfs", 0, "size=2m") != 0) {
        GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
    }
    struct Unmount {
        std::string p;
        ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
    } unmount{dir.path()};
    WriterOptions o;
    o.channels = 2;
    o.reserve_bytes = 256 << 10;
    std::string err;
    auto w = TakeWriter::open(o, dir.path() + "/t", 5, err);
    ASSERT_NE(w, nullptr) << err;
    Planar p(2, 4096, 0);
    WriteStatus s = WriteStatus::ok;
    int blocks = 0;
    while (s == WriteStatus::ok && blocks < 1000) {
        s = w->write(p.ptrs, 4096);
        ++blocks;
    }
    EXPECT_EQ(s, WriteStatus::disk_full);
    EXPECT_NE(w->error().find("No space"), std::string::npos) << w->error();
    const std::uint64_t frames = w->frames();
    EXPECT_GT(frames, 100000U); // most of the 2 MB hold audio
    EXPECT_TRUE(w->close());
    const Read r = read(dir.path() + "/t.wav");
    EXPECT_EQ(static_cast<std::uint64_t>(r.info.frames), frames);
    EXPECT_EQ(r.time_reference, 5U);
    const std::size_t last = static_cast<std::size_t>(frames - 1);
    EXPECT_EQ(r.samples[last * 2 + 1], p.data[1][last % 4096]);
}

} // namespace
} // namespace lockstep::capture
