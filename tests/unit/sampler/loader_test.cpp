// Loading: decode exact values, convert rates, build kits from SFZ + files, slots, memory,
// and a failed load that leaves the current kit in place with a clear reason.
#include "loader.hpp"
#include "test_audio.hpp"

#include <sndfile.h>

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace lockstep::sampler {
namespace {

using test::TempDir;

TEST(Loader, DecodesPcmExactly) {
    const auto bytes = test::wav(test::ramp(300, 2), {.channels = 2});
    const auto d = decode_sample(bytes, 48000, {}, "ramp");
    ASSERT_TRUE(d.ok) << d.error;
    ASSERT_EQ(d.sample->frames, 300U);
    ASSERT_EQ(d.sample->channels, 2U);
    const auto expect = test::ramp(300, 2);
    for (std::size_t i = 0; i < expect.size(); ++i) {
        ASSERT_EQ(d.sample->frame0()[i], expect[i]) << i;
    }
    // Padding is silent on both sides.
    EXPECT_EQ(d.sample->frame0()[-1], 0.0F);
    EXPECT_EQ(d.sample->frame0()[600], 0.0F);
    EXPECT_EQ(d.sample->storage.size(), (300U + pad_front + pad_back) * 2U);
}

TEST(Loader, DecodesAiffAndFloat) {
    const auto a = decode_sample(test::aiff(test::ramp(40), 1, 48000, true, "sowt"), 0, {}, "a");
    ASSERT_TRUE(a.ok) << a.error;
    EXPECT_EQ(a.sample->frame0()[5], test::ramp(40)[5]);
    std::vector<float> f = {0.5F, -0.25F, NAN, 1.5F};
    const auto d = decode_sample(test::wav(f, {.bits = 32, .tag = 3}), 0, {}, "f");
    ASSERT_TRUE(d.ok) << d.error;
    EXPECT_EQ(d.non_finite, 1U);
    EXPECT_EQ(d.sample->frame0()[0], 0.5F);
    EXPECT_EQ(d.sample->frame0()[2], 0.0F);
    EXPECT_EQ(d.sample->frame0()[3], 1.5F);
}

TEST(Loader, ConvertsRateWithFrameZeroAligned) {
    // An impulse at source frame 441 (10 ms at 44.1 kHz) lands at 480 at 48 kHz.
    std::vector<float> src(44100, 0.0F);
    src[441] = 0.5F;
    const auto d = decode_sample(test::wav(src, {.rate = 44100}), 48000, {}, "imp");
    ASSERT_TRUE(d.ok) << d.error;
    EXPECT_NEAR(static_cast<double>(d.sample->frames), 48000.0, 1.0);
    std::size_t peak = 0;
    for (std::size_t i = 0; i < d.sample->frames; ++i) {
        if (std::fabs(d.sample->frame0()[i]) > std::fabs(d.sample->frame0()[peak])) {
            peak = i;
        }
    }
    EXPECT_EQ(peak, 480U);
    // A 1 kHz sine keeps its frequency and level.
    std::vector<float> sine(44100);
    for (std::size_t i = 0; i < sine.size(); ++i) {
        sine[i] = 0.5F * static_cast<float>(std::sin(2 * M_PI * 1000.0 * i / 44100.0));
    }
    const auto s =
        decode_sample(test::wav(sine, {.rate = 44100, .bits = 32, .tag = 3}), 48000, {}, "sine");
    ASSERT_TRUE(s.ok);
    double worst = 0;
    for (std::size_t i = 1000; i < 47000; ++i) {
        const double ideal = 0.5 * std::sin(2 * M_PI * 1000.0 * i / 48000.0);
        worst = std::max(worst, std::fabs(ideal - s.sample->frame0()[i]));
    }
    EXPECT_LT(worst, 1e-4);
}

TEST(Loader, DecodesFlacWrittenByLibsndfile) {
    TempDir dir;
    const auto path = dir.path / "x.flac";
    SF_INFO info{};
    info.samplerate = 48000;
    info.channels = 1;
    info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
    SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
    ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
    const auto data = test::ramp(5000);
    sf_writef_float(f, data.data(), 5000);
    sf_close(f);
    const auto d = load_sample_file(path, 48000, {});
    ASSERT_TRUE(d.ok) << d.error;
    EXPECT_EQ(d.info.format, SampleFormat::flac);
    ASSERT_EQ(d.sample->frames, 5000U);
    EXPECT_EQ(d.sample->frame0()[1234], data[1234]);
}

struct KitFiles {
    TempDir dir;
    KitFiles() {
        std::filesystem::create_directories(dir.path / "samples");
        test::write_file(dir.path / "samples/kick.wav", test::wav(test::ramp(4800)));
        test::write_file(dir.path / "samples/snare a.wav",
                         test::wav(test::ramp(9600, 2), {.channels = 2}));
        test::write_file(dir.path / "samples/hat.wav",
                         test::wav(test::ramp(2400), {.rate = 44100}));
        test::write_text(dir.path / "kit.sfz", R"(<control> default_path=samples/
<group> loop_mode=one_shot
<region> sample=kick.wav key=36
<region> sample=snare a.wav key=38 seq_length=2 seq_position=1 unknown_thing=3
<region> sample=snare a.wav key=38 seq_length=2 seq_position=2 volume=-3
<region> sample=hat.wav key=42 group=1 off_by=1
)");
    }
};

TEST(Loader, LoadsAKitWithinFivePercentOfItsSampleData) {
    KitFiles files;
    KitStore store(48000);
    const auto report = store.load_kit(files.dir.path / "kit.sfz");
    ASSERT_TRUE(report.ok) << report.error;
    EXPECT_EQ(report.regions, 4U);
    EXPECT_EQ(report.samples, 3U) << "the same file is decoded once per kit";
    ASSERT_EQ(report.warnings.size(), 1U);
    EXPECT_NE(report.warnings[0].find("unknown_thing"), std::string::npos);
    const auto kit = store.current();
    ASSERT_TRUE(kit);
    EXPECT_EQ(kit->note_begin[39] - kit->note_begin[38], 2U);
    EXPECT_EQ(kit->note_begin[37] - kit->note_begin[36], 1U);
    // hat converted from 44.1 kHz: 2400 -> 2612 frames
    EXPECT_NEAR(static_cast<double>(kit->regions[3].data->frames), 2400.0 * 48000 / 44100, 1.0);
    EXPECT_EQ(report.sample_bytes, (4800U + 9600U * 2U + kit->regions[3].data->frames) * 4U);
    EXPECT_LE(static_cast<double>(report.kit_bytes),
              1.05 * static_cast<double>(report.sample_bytes))
        << report.kit_bytes << " vs " << report.sample_bytes;
    ASSERT_NE(store.published().acquire(), nullptr);
    store.published().release();
}

TEST(Loader, FailedLoadKeepsTheCurrentKitAndSaysWhy) {
    KitFiles files;
    KitStore store(48000);
    ASSERT_TRUE(store.load_kit(files.dir.path / "kit.sfz").ok);
    const auto before = store.current();
    test::write_file(files.dir.path / "samples/bad.wav",
                     test::wav(test::ramp(64), {.bits = 4, .tag = 0x11}));
    test::write_text(files.dir.path / "bad.sfz", "<region> sample=samples/kick.wav key=36\n"
                                                 "<region> sample=samples/bad.wav key=37\n");
    const auto bad = store.load_kit(files.dir.path / "bad.sfz");
    EXPECT_FALSE(bad.ok);
    EXPECT_NE(bad.error.find("line 2: sample samples/bad.wav: WAV: IMA ADPCM"), std::string::npos)
        << bad.error;
    EXPECT_EQ(store.current(), before);
    const auto missing = store.load_kit(files.dir.path / "nope.sfz");
    EXPECT_FALSE(missing.ok);
    EXPECT_NE(missing.error.find("nope.sfz"), std::string::npos);
    test::write_text(files.dir.path / "syntax.sfz", "<region> sample=samples/kick.wav key=x9\n");
    const auto syntax = store.load_kit(files.dir.path / "syntax.sfz");
    EXPECT_NE(syntax.error.find("line 1: key:"), std::string::npos) << syntax.error;
    const auto slot = store.load_slot(40, files.dir.path / "samples/bad.wav");
    EXPECT_FALSE(slot.ok);
    EXPECT_EQ(store.current(), before);
    EXPECT_FALSE(store.load_slot(128, files.dir.path / "samples/kick.wav").ok);
}

TEST(Loader, SlotsAnswerTheirNoteAndOverrideTheSfz) {
    KitFiles files;
    KitStore store(48000);
    ASSERT_TRUE(store.load_slot(36, files.dir.path / "samples/hat.wav").ok);
    ASSERT_TRUE(store.load_kit(files.dir.path / "kit.sfz").ok) << "slots survive a kit load";
    auto kit = store.current();
    ASSERT_EQ(kit->note_begin[37] - kit->note_begin[36], 1U);
    const Region& r = kit->regions[kit->note_regions[kit->note_begin[36]]];
    EXPECT_EQ(r.slot, 36);
    EXPECT_TRUE(r.one_shot);
    ASSERT_TRUE(store.set_slot(36, {.gain_db = -6.0, .pan = 0, .tune = 0, .choke = 3}).ok);
    kit = store.current();
    const Region& r2 = kit->regions[kit->note_regions[kit->note_begin[36]]];
    EXPECT_NEAR(r2.gain_l, std::pow(10.0, -6.0 / 20.0), 1e-6);
    EXPECT_EQ(r2.group, 3);
    EXPECT_EQ(r2.data, r.data) << "settings do not reload the sample";
    ASSERT_TRUE(store.clear_slot(36).ok);
    kit = store.current();
    EXPECT_EQ(kit->regions[kit->note_regions[kit->note_begin[36]]].slot, -1);
}

TEST(Loader, OutputsBeyondTheGroupPairsAreReportedOncePerLoad) {
    KitFiles files;
    test::write_text(files.dir.path / "routed.sfz", R"(<control> default_path=samples/
<region> sample=kick.wav key=36 output=2
<group> output=3
<region> sample=hat.wav key=42
<region> sample=hat.wav key=44 output=5
<region> sample=kick.wav key=35 output=0
)");
    KitStore store(48000, {}, 2);
    const auto report = store.load_kit(files.dir.path / "routed.sfz");
    ASSERT_TRUE(report.ok) << report.error;
    ASSERT_EQ(report.warnings.size(), 1U) << "one line however many regions route beyond";
    EXPECT_NE(report.warnings[0].find("2 regions route to a group output beyond --group-outs 2 "
                                      "(first: line 4, output=3): played on the main pair"),
              std::string::npos)
        << report.warnings[0];
    const auto kit = store.current();
    ASSERT_EQ(kit->regions.size(), 4U);
    EXPECT_EQ(kit->regions[0].output, 2);
    EXPECT_EQ(kit->regions[1].output, 3) << "kept as written: the engine plays it on main";
    EXPECT_EQ(kit->regions[3].output, 0);

    KitStore wide(48000, {}, 5);
    const auto quiet = wide.load_kit(files.dir.path / "routed.sfz");
    ASSERT_TRUE(quiet.ok) << quiet.error;
    EXPECT_TRUE(quiet.warnings.empty()) << quiet.warnings[0];
}

TEST(Loader, SlotOutputIsASettingAndBeyondTheGroupPairsWarns) {
    KitFiles files;
    KitStore store(48000, {}, 2);
    ASSERT_TRUE(store.load_slot(36, files.dir.path / "samples/kick.wav").ok);
    const auto set = store.set_slot(36, {.output = 2});
    ASSERT_TRUE(set.ok) << set.error;
    EXPECT_TRUE(set.warnings.empty());
    auto kit = store.current();
    EXPECT_EQ(kit->regions[kit->note_regions[kit->note_begin[36]]].output, 2);
    const auto beyond = store.set_slot(36, {.output = 3});
    ASSERT_TRUE(beyond.ok) << beyond.error;
    ASSERT_EQ(beyond.warnings.size(), 1U);
    EXPECT_EQ(beyond.warnings[0], "slot 36: output 3 is beyond --group-outs 2: played on the "
                                  "main pair");
    const auto same = store.set_slot(36, {.gain_db = -1, .output = 3});
    EXPECT_TRUE(same.warnings.empty()) << "said once, when the output changed";
    kit = store.current();
    EXPECT_EQ(kit->regions[kit->note_regions[kit->note_begin[36]]].output, 3);
    const auto bad = store.set_slot(36, {.output = 17});
    EXPECT_FALSE(bad.ok);
    EXPECT_NE(bad.error.find("output 0..16"), std::string::npos) << bad.error;
    EXPECT_FALSE(store.set_slot(36, {.output = -1}).ok);
    EXPECT_EQ(store.current(), kit) << "a refused setting changes nothing";
}

TEST(Loader, OldKitsAreFreedOnceNotCurrentAndSilent) {
    KitFiles files;
    KitStore store(48000);
    ASSERT_TRUE(store.load_kit(files.dir.path / "kit.sfz").ok);
    const Kit* first = store.current().get();
    first->voices.fetch_add(1); // as if a voice played from it
    ASSERT_TRUE(store.load_kit(files.dir.path / "kit.sfz").ok);
    store.collect();
    EXPECT_EQ(store.alive(), 2U) << "a kit with a sounding voice stays";
    first->voices.fetch_sub(1);
    EXPECT_EQ(store.collect(), 1U);
    EXPECT_EQ(store.alive(), 1U);
}

} // namespace
} // namespace lockstep::sampler
