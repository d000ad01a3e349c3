// The autosampler's pure functions: plan, names, resume scan, SFZ mapping over gaps,
// onset/end detection, fades, normalisation, and the sample files' smpl/bext metadata.
#include "autosample_dsp.hpp"
#include "autosample_files.hpp"
#include "autosample_launch.hpp"
#include "autosample_plan.hpp"
#include "autosample_session.hpp"

#include "harness/process.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>

namespace lockstep::capture::autosample {
namespace {

TEST(AutosamplePlan, NotesVelocitiesRoundRobinsInOrder) {
    PlanSpec s;
    s.low = 36;
    s.high = 43;
    s.step = 3;
    s.velocities = {40, 127};
    s.round_robins = 2;
    const auto p = make_plan(s);
    ASSERT_EQ(p.size(), 3U * 2 * 2); // 36, 39, 42 (45 > 43)
    EXPECT_EQ(p[0], (NoteId{36, 40, 1}));
    EXPECT_EQ(p[1], (NoteId{36, 40, 2}));
    EXPECT_EQ(p[2], (NoteId{36, 127, 1}));
    EXPECT_EQ(p.back(), (NoteId{42, 127, 2}));
    s.velocities = {127, 40};
    EXPECT_TRUE(make_plan(s).empty());
    EXPECT_NE(check_plan(s), "");
}

TEST(AutosamplePlan, NoteNamesBothWays) {
    EXPECT_EQ(note_name(60), "C4");
    EXPECT_EQ(note_name(61), "C#4");
    EXPECT_EQ(note_name(0), "C-1");
    EXPECT_EQ(note_name(127), "G9");
    for (int n = 0; n < 128; ++n) {
        EXPECT_EQ(parse_note(note_name(n)), n);
        EXPECT_EQ(parse_note(std::to_string(n)), n);
    }
    EXPECT_EQ(parse_note("db4"), 61);
    EXPECT_EQ(parse_note("b3"), 59);
    EXPECT_FALSE(parse_note("h4"));
    EXPECT_FALSE(parse_note("128"));
    EXPECT_FALSE(parse_note("g#9"));
}

TEST(AutosamplePlan, RangesAndVelocitiesParse) {
    std::string err;
    auto r = parse_range("c2:c6:4", err);
    ASSERT_TRUE(r) << err;
    EXPECT_EQ(r->low, 36);
    EXPECT_EQ(r->high, 84);
    EXPECT_EQ(r->step, 4);
    r = parse_range("60:72", err);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->step, 1);
    EXPECT_FALSE(parse_range("72:60", err));
    EXPECT_FALSE(parse_range("60", err));
    EXPECT_FALSE(parse_range("60:72:0", err));
    auto v = parse_velocities("40,80,127", err);
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, (std::vector<int>{40, 80, 127}));
    EXPECT_FALSE(parse_velocities("80,40", err));
    EXPECT_FALSE(parse_velocities("0", err));
    EXPECT_FALSE(parse_velocities("40,,80", err));
}

TEST(AutosamplePlan, FileNamesForAutoMappingRoundTrip) {
    EXPECT_EQ(file_name("piano", NoteId{60, 127, 1}), "piano_060_C4_v127_rr1.wav");
    EXPECT_EQ(file_name("my kit", NoteId{61, 5, 12}), "my kit_061_C#4_v005_rr12.wav");
    for (const NoteId id : {NoteId{0, 1, 1}, NoteId{127, 127, 100}, NoteId{61, 64, 3}}) {
        EXPECT_EQ(parse_file_name("a_b", file_name("a_b", id)), id);
    }
    EXPECT_FALSE(parse_file_name("piano", "piano_60_C4_v127_rr1.wav"));  // not our spelling
    EXPECT_FALSE(parse_file_name("piano", "piano_060_D4_v127_rr1.wav")); // wrong name
    EXPECT_FALSE(parse_file_name("pian", "piano_060_C4_v127_rr1.wav"));
    EXPECT_FALSE(parse_file_name("piano", "piano_060_C4_v127_rr1.wav.tmp"));
    EXPECT_EQ(check_set_name(""), "empty name");
    EXPECT_NE(check_set_name("a/b"), "");
    EXPECT_NE(check_set_name(".x"), "");
    EXPECT_EQ(check_set_name("piano"), "");
}

TEST(AutosamplePlan, ResumeScanSkipsRecordedNotes) {
    test::TempDir dir("autosample-scan");
    PlanSpec s;
    s.low = 60;
    s.high = 62;
    s.velocities = {64, 127};
    const auto plan = make_plan(s);
    for (const NoteId id : {NoteId{60, 64, 1}, NoteId{61, 127, 1}}) {
        std::ofstream(dir.path() + "/" + file_name("pno", id)) << "x";
    }
    std::ofstream(dir.path() + "/.pno_062_D4_v064_rr1.wav.tmp") << "x";        // half written
    std::ofstream(dir.path() + "/.pno_061_C#4_v064_rr1.wav.tmp.123.4") << "x"; // (atomic)
    std::ofstream(dir.path() + "/other_062_D4_v064_rr1.wav") << "x";           // another set
    const auto rec = scan_recorded(dir.path(), "pno");
    EXPECT_EQ(rec.size(), 2U);
    const auto left = pending(plan, rec);
    ASSERT_EQ(left.size(), 4U);
    EXPECT_EQ(left[0], (NoteId{60, 127, 1}));
    EXPECT_EQ(left[1], (NoteId{61, 64, 1}));
    EXPECT_TRUE(scan_recorded(dir.path() + "/nope", "pno").empty());
}

TEST(AutosampleSfz, KeyRangesSplitTheGaps) {
    // step 3: two keys between roots, one each; the outer roots reach out as if one more
    // root stood a step beyond.
    EXPECT_EQ(key_ranges({36, 39, 42}), (std::vector<Range>{{35, 37}, {38, 40}, {41, 43}}));
    // step 2: the middle key goes to the upper root (pitched down).
    EXPECT_EQ(key_ranges({60, 62}), (std::vector<Range>{{59, 60}, {61, 62}}));
    // step 1: no gaps.
    EXPECT_EQ(key_ranges({60, 61, 62}), (std::vector<Range>{{60, 60}, {61, 61}, {62, 62}}));
    // uneven gaps, clamped at the ends
    EXPECT_EQ(key_ranges({0, 12, 127}), (std::vector<Range>{{0, 5}, {6, 69}, {70, 127}}));
    EXPECT_EQ(key_ranges({60}), (std::vector<Range>{{60, 60}}));
    // every key between the outer ranges is covered exactly once
    const auto r = key_ranges({21, 25, 30, 31, 40});
    for (std::size_t i = 0; i + 1 < r.size(); ++i) {
        EXPECT_EQ(r[i].hi + 1, r[i + 1].lo);
        EXPECT_LE(r[i].lo, r[i].hi);
    }
}

TEST(AutosampleSfz, VelocityRangesSplitTheGaps) {
    EXPECT_EQ(velocity_ranges({40, 80, 127}), (std::vector<Range>{{1, 40}, {41, 80}, {81, 127}}));
    EXPECT_EQ(velocity_ranges({100}), (std::vector<Range>{{1, 127}}));
    EXPECT_EQ(velocity_ranges({30, 90}), (std::vector<Range>{{1, 30}, {31, 127}}));
}

TEST(AutosampleSfz, RegionsWithKeycenterRangesAndRoundRobins) {
    std::vector<SfzSample> s;
    for (const NoteId id :
         {NoteId{60, 127, 1}, NoteId{60, 127, 2}, NoteId{64, 127, 1}, NoteId{64, 127, 2}}) {
        s.push_back(SfzSample{id, file_name("x", id)});
    }
    const std::string t = make_sfz("x", s);
    EXPECT_NE(t.find("<region> sample=x_060_C4_v127_rr1.wav pitch_keycenter=60 lokey=58 "
                     "hikey=61 lovel=1 hivel=127 seq_length=2 seq_position=1\n"),
              std::string::npos)
        << t;
    EXPECT_NE(t.find("sample=x_064_E4_v127_rr2.wav pitch_keycenter=64 lokey=62 hikey=65 "
                     "lovel=1 hivel=127 seq_length=2 seq_position=2\n"),
              std::string::npos)
        << t;
    const std::string one = make_sfz("x", {s[0]});
    EXPECT_EQ(one.find("seq_length"), std::string::npos);
}

// A partial set (a note that gave no sound is missing) maps what it has: the round robins
// and layers present at each key, never a seq_position that never comes round or a
// velocity range left without a sample.
TEST(AutosampleSfz, PartialSetMapsTheSamplesPresent) {
    const std::vector<NoteId> ids = {NoteId{60, 64, 1},  NoteId{60, 64, 2},  NoteId{60, 127, 1},
                                     NoteId{60, 127, 2}, NoteId{64, 127, 1}, NoteId{64, 127, 2},
                                     NoteId{64, 64, 2}};
    const auto m = map_regions(ids);
    ASSERT_EQ(m.size(), ids.size());
    EXPECT_EQ(m[0].vel, (Range{1, 64}));
    EXPECT_EQ(m[0].seq_length, 2);
    EXPECT_EQ(m[1].seq_position, 2);
    EXPECT_EQ(m[4].vel, (Range{65, 127}));
    EXPECT_EQ(m[4].seq_length, 2);
    // 64 v64 has one take left (rr2): it plays every time
    EXPECT_EQ(m[6].vel, (Range{1, 64}));
    EXPECT_EQ(m[6].seq_length, 1);
    EXPECT_EQ(m[6].seq_position, 1);
    // one layer left at a key: it covers every velocity
    const auto one = map_regions({NoteId{60, 64, 1}, NoteId{60, 127, 1}, NoteId{64, 127, 1}});
    EXPECT_EQ(one[2].vel, (Range{1, 127}));
    EXPECT_EQ(one[0].vel, (Range{1, 64}));
    std::vector<SfzSample> s;
    for (const NoteId& id : ids) {
        s.push_back(SfzSample{id, file_name("x", id)});
    }
    const std::string t = make_sfz("x", s);
    EXPECT_NE(t.find("x_064_E4_v064_rr2.wav pitch_keycenter=64 lokey=62 hikey=65 lovel=1 "
                     "hivel=64\n"),
              std::string::npos)
        << t;
}

// ---- analysis ---------------------------------------------------------------------------

// Deterministic noise in [-a, a].
float noise(std::size_t i, float a) {
    std::uint32_t h = static_cast<std::uint32_t>(i) * 2654435761U;
    h ^= h >> 15;
    h *= 2246822519U;
    h ^= h >> 13;
    return a * (static_cast<float>(h & 0xffff) / 32767.5F - 1.0F);
}

TEST(AutosampleDsp, OnsetExactAgainstTheNoiseFloor) {
    // 1000 frames of noise at -80 dBFS, then a decaying tone starting at its peak.
    const std::size_t on = 1000;
    std::vector<float> x(4000);
    for (std::size_t i = 0; i < x.size(); ++i) {
        x[i] = noise(i, 1e-4F);
        if (i >= on) {
            const double t = static_cast<double>(i - on);
            x[i] += static_cast<float>(0.5 * std::exp(-t / 300.0) * std::cos(0.05 * t));
        }
    }
    const Analysis a = analyse(x, 1, 800, 1500, 100);
    ASSERT_TRUE(a.ok);
    EXPECT_EQ(a.onset, on);
    EXPECT_FALSE(a.onset_in_preroll);
    EXPECT_LE(a.noise.peak, 1e-4F);
    ASSERT_TRUE(a.end.has_value());
    EXPECT_GT(*a.end, 1500U);
    // after the end, every frame is below the end threshold
    for (std::size_t i = *a.end; i < x.size(); ++i) {
        EXPECT_LE(std::fabs(x[i]), a.end_threshold) << i;
    }
    EXPECT_GT(std::fabs(x[*a.end - 1]), a.end_threshold);
    EXPECT_FALSE(a.clipped);
}

// Sound in the pre-roll's second half (the instrument answered before the compensated
// note-on: the latency given is too high) is found against the first half's noise.
TEST(AutosampleDsp, SoundBeforeTheCompensatedNoteOnIsFlagged) {
    const std::size_t on = 600; // the pre-roll is [0, 800)
    std::vector<float> x(4000);
    for (std::size_t i = 0; i < x.size(); ++i) {
        x[i] = noise(i, 1e-4F);
        if (i >= on) {
            x[i] += static_cast<float>(0.5 * std::exp(-static_cast<double>(i - on) / 300.0));
        }
    }
    const Analysis a = analyse(x, 1, 800, 1500, 100);
    ASSERT_TRUE(a.ok);
    EXPECT_EQ(a.onset, on);
    EXPECT_TRUE(a.onset_in_preroll);
    EXPECT_LE(a.noise.peak, 1e-4F); // the noise is not the tone
    EXPECT_EQ(noise_frames(800), 400U);
}

TEST(AutosampleDsp, SoftAttackStartsWhereItLeavesTheNoise) {
    std::vector<float> x(3000, 0.0F);
    for (std::size_t i = 0; i < x.size(); ++i) {
        x[i] = noise(i, 1e-4F);
    }
    // a linear ramp from 0: crosses the noise peak soon after its start, the threshold later
    for (std::size_t i = 0; i < 1000; ++i) {
        x[1000 + i] = 1e-4F * 0.5F + static_cast<float>(i) * 1e-4F;
    }
    const auto o = find_onset(x, 1, 0, 1e-4F, 4e-4F);
    ASSERT_TRUE(o);
    EXPECT_GE(*o, 1000U);
    EXPECT_LE(*o, 1002U);
}

TEST(AutosampleDsp, StereoLoudWhenAnyChannelIs) {
    std::vector<float> x(2 * 100, 0.0F);
    x[2 * 40 + 1] = 0.5F; // right channel only
    EXPECT_EQ(find_onset(x, 2, 0, 0.0F, 0.1F), 40U);
    EXPECT_EQ(find_end(x, 2, 0, 0.1F, 10), 0U);
    EXPECT_EQ(find_end(x, 2, 40, 0.1F, 10), 41U);
    EXPECT_FALSE(find_end(x, 2, 95, 0.1F, 10)); // no complete quiet window left
    EXPECT_FALSE(find_onset(x, 2, 41, 0.0F, 0.1F));
}

TEST(AutosampleDsp, NoSoundNoOnsetAndClippingFlagged) {
    std::vector<float> x(1000);
    for (std::size_t i = 0; i < x.size(); ++i) {
        x[i] = noise(i, 1e-3F);
    }
    EXPECT_FALSE(analyse(x, 1, 200, 500, 50).ok);
    x[600] = 1.0F;
    const Analysis a = analyse(x, 1, 200, 500, 50);
    ASSERT_TRUE(a.ok);
    EXPECT_TRUE(a.clipped);
}

TEST(AutosampleDsp, FadesNeverSilenceTheOnsetAndEndAtZero) {
    std::vector<float> x(2 * 100, 1.0F);
    apply_fades(x, 2, 4, 10);
    EXPECT_FLOAT_EQ(x[0], 0.2F);
    EXPECT_FLOAT_EQ(x[1], 0.2F);
    EXPECT_FLOAT_EQ(x[2 * 3], 0.8F);
    EXPECT_FLOAT_EQ(x[2 * 4], 1.0F);
    EXPECT_FLOAT_EQ(x[2 * 99], 0.0F);
    EXPECT_FLOAT_EQ(x[2 * 90], 0.9F);
    EXPECT_FLOAT_EQ(x[2 * 89], 1.0F);
    std::vector<float> tiny(3, 1.0F);
    apply_fades(tiny, 1, 10, 10); // at most half each
    EXPECT_FLOAT_EQ(tiny[0], 0.5F);
    EXPECT_FLOAT_EQ(tiny[2], 0.0F);
}

TEST(AutosampleDsp, NormaliseGain) {
    EXPECT_DOUBLE_EQ(normalise_gain(0.5F, 1.0F), 2.0);
    EXPECT_DOUBLE_EQ(normalise_gain(0.0F, 1.0F), 1.0);
}

TEST(AutosampleProgress, BarCountsAndTimeLeft) {
    Progress p;
    p.phase = Phase::recording;
    p.total = 12;
    p.recorded = 3;
    p.has_current = true;
    p.current = NoteId{61, 127, 2};
    p.seconds_left = 75.4;
    EXPECT_EQ(render_progress(p, 12), "[###.........] 3/12  C#4 v127 rr2  recording  1:15 left");
    p.phase = Phase::done;
    p.recorded = 12;
    p.has_current = false;
    p.warnings = 2;
    EXPECT_EQ(render_progress(p, 4), "[####] 12/12  done  2 warnings");
}

// The command line is checked before JACK is touched: these need no server.
int run_capture(std::vector<std::string> args, std::string& out) {
    const char* root = std::getenv("LOCKSTEP_BUILD_ROOT");
    args.insert(args.begin(),
                std::string(root != nullptr ? root : ".") + "/clients/capture/lockstep-capture");
    lockstep::test::ChildProcess p(args);
    const int code = p.wait(std::chrono::seconds(30));
    out = p.output();
    return code;
}

TEST(AutosampleCli, LatencyIsBoundedAndStateRefused) {
    std::string out;
    EXPECT_EQ(run_capture({"autosample", "--latency", "99999999999999999999999"}, out), 2);
    EXPECT_NE(out.find("--latency 99999999999999999999999: frames from 0 to 3840000"),
              std::string::npos)
        << out;
    EXPECT_EQ(run_capture({"autosample", "--latency", "3840001"}, out), 2);
    EXPECT_NE(out.find("frames from 0 to"), std::string::npos) << out;
    EXPECT_EQ(run_capture({"autosample", "--latency", "12x"}, out), 2);
    EXPECT_EQ(run_capture({"autosample", "--state", "/tmp/x.json"}, out), 2);
    EXPECT_NE(out.find("--state: not used"), std::string::npos) << out;
    EXPECT_EQ(run_capture({"--help"}, out), 0);
    EXPECT_NE(out.find("lockstep-capture autosample --help"), std::string::npos) << out;
}

TEST(AutosampleLaunch, ChildEnvironmentLeavesTheRecordersOwn) {
    const char* env[] = {"HOME=/h",
                         "NOTIFY_SOCKET=/run/n",
                         "WATCHDOG_USEC=5",
                         "WATCHDOG_PID=12",
                         "NSM_URL=osc.udp://x/",
                         "JACK_DEFAULT_SERVER=s",
                         nullptr};
    EXPECT_EQ(child_environment(env),
              (std::vector<std::string>{"HOME=/h", "JACK_DEFAULT_SERVER=s"}));
    EXPECT_TRUE(child_environment(nullptr).empty());
}

TEST(AutosampleLaunch, ChildOscPortFromTheRecordersUrl) {
    EXPECT_EQ(autosample_osc_port("osc.udp://127.0.0.1:9012/"), 9112);
    EXPECT_EQ(autosample_osc_port("osc.udp://[::1]:7000/"), 7100);
    EXPECT_EQ(autosample_osc_port("osc.udp://127.0.0.1:65500/"), 65400); // + 100 overflows
    EXPECT_EQ(autosample_osc_port("osc.unix:///run/capture.sock"), 9112);
    EXPECT_EQ(autosample_osc_port("garbage"), 9112);
}

TEST(AutosampleLaunch, CommandLineForTheChild) {
    EXPECT_EQ(split_args("  --notes 60:72  --dir /x\t--set a "),
              (std::vector<std::string>{"--notes", "60:72", "--dir", "/x", "--set", "a"}));
    EXPECT_EQ(autosample_command("/bin/cap", "srv", 9112, {"--set", "a"}),
              (std::vector<std::string>{"/bin/cap", "autosample", "-s", "srv", "--osc", "9112",
                                        "--set", "a"}));
    // the args' own server and OSC win; no server given: libjack's default
    EXPECT_EQ(autosample_command("/bin/cap", "srv", 9112, {"--osc=9200", "-s", "other"}),
              (std::vector<std::string>{"/bin/cap", "autosample", "--osc=9200", "-s", "other"}));
    EXPECT_EQ(autosample_command("/bin/cap", "", 9112, {}),
              (std::vector<std::string>{"/bin/cap", "autosample", "--osc", "9112"}));
}

TEST(AutosampleFiles, SmplRootKeyAndBextSurviveAWrite) {
    test::TempDir dir("autosample-files");
    SampleAudio a;
    a.channels = 2;
    a.rate = 48000;
    a.samples = {0.5F, -0.5F, 0.25F, -0.25F, 0.0F, 0.0F};
    SampleMeta m;
    m.time_reference = (std::uint64_t{1} << 33) + 5;
    m.description = "note_on=100 onset=160 latency=60";
    m.root_key = 61;
    m.key_lo = 59;
    m.key_hi = 62;
    m.vel_lo = 41;
    m.vel_hi = 80;
    const std::string path = dir.path() + "/x.wav";
    std::string err;
    ASSERT_TRUE(write_sample(path, a, SampleFormat::pcm24, m, err)) << err;
    SampleAudio b;
    SampleMeta n;
    ASSERT_TRUE(read_sample(path, b, n, err)) << err;
    EXPECT_EQ(b.channels, 2U);
    ASSERT_EQ(b.samples.size(), a.samples.size());
    EXPECT_NEAR(b.samples[0], 0.5F, 1e-6F);
    EXPECT_EQ(n.time_reference, m.time_reference);
    EXPECT_EQ(n.description, m.description);
    EXPECT_EQ(n.root_key, 61);
    EXPECT_EQ(value_of(n.description, "onset"), 160);
    EXPECT_EQ(value_of(n.description, "on"), std::nullopt);
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/.x.wav.tmp"));
    // the smpl chunk really is there (what other samplers read)
    std::string bytes(std::filesystem::file_size(path), '\0');
    std::ifstream(path, std::ios::binary)
        .read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    const auto p = bytes.find("smpl");
    ASSERT_NE(p, std::string::npos);
    // MIDIUnityNote: the 4th 32-bit field of the smpl body
    EXPECT_EQ(static_cast<unsigned char>(bytes[p + 8 + 12]), 61);
}

} // namespace
} // namespace lockstep::capture::autosample
