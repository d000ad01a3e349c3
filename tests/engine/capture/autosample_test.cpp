// The autosampler offline, end to end: AutoEngine + Session against a deterministic test
// synth (known delay and noise) in a MIDI/audio loop. Checks the latency measurement,
// exact note-on frames and onsets (against the synth's own log of where each tone
// started), the files and their names, smpl root keys, set normalisation, the SFZ (loaded
// and played by lockstep-sampler's kit loader and engine), pause, cancel and resume.
#include "autosample_files.hpp"
#include "autosample_loop.hpp"

#include "harness/process.hpp"
#include "jack/offline.hpp"
#include "sampler/engine.hpp" // lockstep-sampler's (clients/ is on the include path)
#include "sampler/loader.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

namespace lockstep::capture::test {
namespace {

using namespace autosample;

constexpr std::int64_t delay = 300;
constexpr std::uint32_t period = 256;

SessionOptions options(const std::string& dir, std::uint32_t channels = 1) {
    SessionOptions o;
    o.name = "synth";
    o.dir = dir;
    o.plan.low = 60;
    o.plan.high = 66;
    o.plan.step = 3;
    o.plan.velocities = {64, 127};
    o.plan.round_robins = 2;
    o.channels = channels;
    o.hold = 4800;
    o.preroll = 960;
    o.max_tail = 48000 * 2;
    o.lead = 1024;
    return o;
}

// The synth's log: where each (note, velocity) tone started, in order.
std::vector<TestSynth::Start> starts(const TestSynth& s) {
    std::vector<TestSynth::Start> out;
    for (std::size_t i = 0; i < s.starts(); ++i) {
        out.push_back(s.start(i));
    }
    return out;
}

TEST(AutosampleSession, RecordsEveryNoteExactlyAndWritesAPlayableSet) {
    lockstep::test::TempDir dir("autosample-engine");
    SynthOptions so;
    so.delay = delay;
    AutosampleLoop loop(options(dir.path()), so, period);
    ASSERT_TRUE(loop.run());
    const Progress p = loop.session->progress();
    ASSERT_EQ(p.phase, Phase::done) << p.error;
    EXPECT_EQ(p.recorded, 12U);
    EXPECT_EQ(p.failed, 0U);
    // The synth hears MIDI one cycle late (the loop), then delays by `delay`.
    EXPECT_EQ(loop.session->latency(), delay + period);
    EXPECT_EQ(loop.engine().counters().late_midi, 0U);
    EXPECT_EQ(loop.engine().counters().overruns, 0U);
    EXPECT_EQ(loop.rt_allocations, 0U);

    const auto tones = starts(loop.synth);
    const auto& recs = loop.session->records();
    ASSERT_EQ(recs.size(), 12U);
    ASSERT_EQ(tones.size(), 13U); // the latency probe first
    EXPECT_EQ(tones[0].note, 63);
    for (std::size_t i = 0; i < recs.size(); ++i) {
        const NoteRecord& r = recs[i];
        const auto& t = tones[i + 1];
        EXPECT_EQ(r.id.note, t.note);
        EXPECT_EQ(r.id.velocity, t.velocity);
        // the onset is exact to the frame, and the note-on frame is what the synth heard
        EXPECT_EQ(r.onset, t.frame) << i;
        EXPECT_EQ(r.onset - r.note_on, delay + period) << i;
        // the next note waits for the tail to fall to 2x the noise floor
        EXPECT_LT(r.noise, 2.01e-4F);
        EXPECT_FALSE(r.clipped);
        // the release decayed to the end threshold (-60 dBFS): 0.5 * v/127 * e^-0.2, then
        // e^-(t/2400) below 1e-3 takes about 6 release constants
        EXPECT_GT(r.end - r.onset, 4800 + 2400 * 4);
        EXPECT_LT(r.end - r.onset, 4800 + 2400 * 8);
        if (i > 0) {
            // the next pre-roll starts after the previous note's end
            EXPECT_GE(r.onset - delay - period, recs[i - 1].end);
        }
    }

    // Final files: names, bext time reference = onset frame, smpl root key, set gain.
    std::map<NoteId, float> peaks;
    float set_peak = 0;
    for (const NoteRecord& r : recs) {
        const std::string path = dir.path() + "/" + file_name("synth", r.id);
        SampleAudio a;
        SampleMeta m;
        std::string err;
        ASSERT_TRUE(read_sample(path, a, m, err)) << err;
        EXPECT_EQ(m.root_key, r.id.note);
        EXPECT_EQ(static_cast<Frame>(m.time_reference), r.onset);
        EXPECT_EQ(value_of(m.description, "note_on"), r.note_on);
        EXPECT_EQ(a.frames(), static_cast<std::size_t>(r.end - r.onset));
        float pk = 0;
        for (const float v : a.samples) {
            pk = std::max(pk, std::fabs(v));
        }
        peaks[r.id] = pk;
        set_peak = std::max(set_peak, pk);
        // the first sample is the tone's peak (onset exact) scaled by the set gain and the
        // fade-in's first step (1/25)
        EXPECT_GT(std::fabs(a.samples[0]), 0.0F);
    }
    EXPECT_NEAR(set_peak, 0.891F, 1e-4F);
    // one gain for the set: the layers keep their ratio (64/127 in the synth)
    const float ratio = peaks[NoteId{60, 64, 1}] / peaks[NoteId{60, 127, 1}];
    EXPECT_NEAR(ratio, 64.0F / 127.0F, 0.01F);

    // The SFZ loads in lockstep-sampler, and note 60 at velocity 127 plays the file.
    sampler::KitStore store(48000);
    const sampler::LoadReport rep = store.load_kit(loop.session->sfz_path());
    ASSERT_TRUE(rep.ok) << rep.error;
    EXPECT_EQ(rep.regions, 12U);
    EXPECT_TRUE(rep.warnings.empty());
    sampler::Engine player(sampler::EngineOptions{}, store.published());
    jack::OfflineDriver drv(jack::OfflinePorts{1, 0, 0, 2}, 48000);
    drv.add_midi_in(0, 1000, {0x90, 60, 127});
    drv.run(player, 0, 256, 80);
    SampleAudio want;
    SampleMeta wm;
    std::string err;
    ASSERT_TRUE(
        read_sample(dir.path() + "/" + file_name("synth", NoteId{60, 127, 1}), want, wm, err));
    const auto& left = drv.audio_out(0);
    for (std::size_t k = 0; k < 4000; ++k) {
        ASSERT_NEAR(left[1000 + k], want.samples[k], 1e-6F) << k;
    }
    EXPECT_EQ(left[999], 0.0F);
}

TEST(AutosampleSession, FixedLatencySkipsTheProbe) {
    lockstep::test::TempDir dir("autosample-fixed");
    SynthOptions so;
    so.delay = delay;
    auto o = options(dir.path());
    o.plan.velocities = {127};
    o.plan.round_robins = 1;
    o.latency_mode = LatencyMode::fixed;
    o.latency = delay + period;
    AutosampleLoop loop(o, so, period);
    ASSERT_TRUE(loop.run());
    ASSERT_EQ(loop.session->progress().phase, Phase::done);
    const auto tones = starts(loop.synth);
    ASSERT_EQ(tones.size(), 3U);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(loop.session->records()[i].onset, tones[i].frame);
    }
}

TEST(AutosampleSession, PauseHoldsCancelStopsResumeSkipsRecordedNotes) {
    lockstep::test::TempDir dir("autosample-resume");
    SynthOptions so;
    so.delay = delay;
    AutosampleLoop loop(options(dir.path()), so, period);
    // Pause after 3 notes: nothing new is played while paused.
    bool paused = false;
    std::size_t tones_at_pause = 0;
    std::size_t paused_cycles = 0;
    bool cancelled = false;
    ASSERT_TRUE(
        loop.run(100000,
                 [&] {
                     auto& s = *loop.session;
                     if (!paused && s.records().size() == 3) {
                         s.pause();
                         paused = true;
                     }
                     if (paused && paused_cycles == 0 && s.progress().phase == Phase::paused) {
                         tones_at_pause = loop.synth.starts();
                     }
                     if (paused && s.progress().phase == Phase::paused && ++paused_cycles == 500) {
                         EXPECT_EQ(loop.synth.starts(), tones_at_pause);
                         s.resume();
                     }
                     if (!cancelled && s.records().size() == 5) {
                         s.cancel();
                         cancelled = true;
                     }
                 }))
        << to_string(loop.session->progress().phase) << " records "
        << loop.session->records().size() << " paused_cycles " << paused_cycles;
    EXPECT_EQ(paused_cycles, 500U);
    EXPECT_EQ(loop.session->progress().phase, Phase::cancelled);
    EXPECT_FALSE(std::filesystem::exists(loop.session->sfz_path()));
    EXPECT_EQ(scan_recorded(loop.session->raw_dir(), "synth").size(), 5U);

    // Resume: a new session skips the five, measures again and records the seven left.
    loop.restart(options(dir.path()));
    EXPECT_EQ(loop.session->progress().resumed, 5U);
    ASSERT_TRUE(loop.run());
    const Progress p = loop.session->progress();
    ASSERT_EQ(p.phase, Phase::done) << p.error;
    EXPECT_EQ(p.recorded, 12U);
    EXPECT_EQ(loop.session->records().size(), 7U);
    sampler::KitStore store(48000);
    const auto rep = store.load_kit(loop.session->sfz_path());
    ASSERT_TRUE(rep.ok) << rep.error;
    EXPECT_EQ(rep.regions, 12U);
}

TEST(AutosampleSession, PerFileNormalisationAndClippingAndNoiseWarnings) {
    lockstep::test::TempDir dir("autosample-loud");
    SynthOptions so;
    so.delay = delay;
    so.level = 1.5F;  // clips at velocity 127 (1.5 * e^0 > 1)
    so.noise = 3e-3F; // -50 dBFS: above the -60 dBFS warning
    auto o = options(dir.path(), 2);
    o.plan.round_robins = 1;
    o.normalise = Normalise::file;
    o.target_peak = 0.5F;
    AutosampleLoop loop(o, so, period);
    ASSERT_TRUE(loop.run());
    ASSERT_EQ(loop.session->progress().phase, Phase::done) << loop.session->progress().error;
    std::size_t clipping = 0;
    std::size_t noise = 0;
    for (const auto& l : loop.log) {
        clipping += l.find("clipping") != std::string::npos ? 1 : 0;
        noise += l.find(": noise floor ") != std::string::npos ? 1 : 0;
    }
    EXPECT_EQ(clipping, 3U); // the three notes at velocity 127 (64: 0.76 peak)
    EXPECT_EQ(noise, 6U);
    for (const NoteRecord& r : loop.session->records()) {
        SampleAudio a;
        SampleMeta m;
        std::string err;
        ASSERT_TRUE(read_sample(dir.path() + "/" + file_name("synth", r.id), a, m, err));
        EXPECT_EQ(a.channels, 2U);
        float pk = 0;
        for (const float v : a.samples) {
            pk = std::max(pk, std::fabs(v));
        }
        EXPECT_NEAR(pk, 0.5F, 1e-4F); // every file normalised on its own
    }
}

TEST(AutosampleSession, ResumeRefusesTakesOfAnotherFormat) {
    lockstep::test::TempDir dir("autosample-format");
    SynthOptions so;
    so.delay = delay;
    AutosampleLoop loop(options(dir.path(), 1), so, period);
    ASSERT_TRUE(loop.run(100000, [&] {
        if (loop.session->records().size() == 2) {
            loop.session->cancel();
        }
    }));
    loop.restart(options(dir.path(), 2));
    const Progress p = loop.session->progress();
    EXPECT_EQ(p.phase, Phase::failed);
    EXPECT_NE(p.error.find("holds 1 channels at 48000 Hz, this session records 2"),
              std::string::npos)
        << p.error;
    EXPECT_FALSE(loop.session->step());
}

TEST(AutosampleSession, StereoAndNoSoundFails) {
    lockstep::test::TempDir dir("autosample-silent");
    SynthOptions so;
    so.delay = delay;
    so.level = 0.0F; // an instrument that stays silent
    AutosampleLoop loop(options(dir.path(), 2), so, period);
    ASSERT_TRUE(loop.run());
    const Progress p = loop.session->progress();
    EXPECT_EQ(p.phase, Phase::failed);
    EXPECT_NE(p.error.find("no sound came back"), std::string::npos) << p.error;
}

// A gap in the frames before a scheduled note's window begins loses nothing of it: the
// note is kept, not retaken over its own still queued note-off.
TEST(AutosampleSession, GapBeforeTheWindowKeepsTheNote) {
    lockstep::test::TempDir dir("autosample-gap-before");
    SynthOptions so;
    so.delay = delay;
    auto o = options(dir.path());
    o.plan.round_robins = 1;
    AutosampleLoop loop(o, so, period);
    bool skipped = false;
    ASSERT_TRUE(loop.run(100000, [&] {
        // just scheduled (both messages queued): its window starts lead + latency - preroll
        // frames ahead, more than the gap
        if (!skipped && loop.session->records().size() == 2 && loop.engine().unsent() == 2) {
            loop.skip(128);
            skipped = true;
        }
    }));
    ASSERT_TRUE(skipped);
    ASSERT_EQ(loop.session->progress().phase, Phase::done) << loop.session->progress().error;
    EXPECT_EQ(loop.engine().counters().segments, 2U);
    EXPECT_EQ(loop.engine().counters().late_midi, 0U);
    const auto tones = starts(loop.synth);
    EXPECT_EQ(tones.size(), 7U); // the probe and six notes: nothing played twice
    for (const std::string& l : loop.log) {
        EXPECT_EQ(l.find("frames were lost"), std::string::npos) << l;
    }
}

// A gap inside a note's window: the note is recorded again, after its own note-off and
// release, so the two never overlap and no MIDI goes out late.
TEST(AutosampleSession, GapInsideTheWindowRetakesAfterTheOldNote) {
    lockstep::test::TempDir dir("autosample-gap-inside");
    SynthOptions so;
    so.delay = 3000; // a long round trip: the window starts well before the tone
    auto o = options(dir.path());
    o.plan.round_robins = 1;
    o.preroll = 2400;
    AutosampleLoop loop(o, so, period);
    bool skipped = false;
    Frame sent_by = -1;
    ASSERT_TRUE(loop.run(100000, [&] {
        if (skipped || loop.session->records().size() != 2) {
            return;
        }
        if (sent_by < 0 && loop.engine().unsent() == 1) {
            sent_by = loop.now(); // the third note's note-on went out in this cycle
        }
        if (sent_by >= 0 && loop.now() >= sent_by + 1024) {
            // inside its window (which began 2400 - 3256 before the note-on), the input
            // still quiet (the tone comes 3256 after it): lose a cycle
            ASSERT_EQ(loop.synth.starts(), 3U);
            loop.skip(period);
            skipped = true;
        }
    }));
    ASSERT_TRUE(skipped);
    ASSERT_EQ(loop.session->progress().phase, Phase::done) << loop.session->progress().error;
    EXPECT_EQ(loop.engine().counters().late_midi, 0U);
    const auto tones = starts(loop.synth);
    ASSERT_EQ(tones.size(), 8U); // the probe, six notes, one retake
    EXPECT_EQ(tones[3].note, tones[4].note);
    // the retake starts after the old note was released (its note-off: hold after its
    // start) and had decayed
    EXPECT_GT(tones[4].frame, tones[3].frame + static_cast<Frame>(o.hold) + 2400 * 4);
    const auto& recs = loop.session->records();
    ASSERT_EQ(recs.size(), 6U);
    EXPECT_EQ(recs[2].onset, tones[4].frame);
    for (std::size_t i = 0; i < recs.size(); ++i) {
        EXPECT_EQ(recs[i].onset, tones[i < 2 ? i + 1 : i + 2].frame) << i;
    }
}

// A round trip longer than the hold: the probe's tone comes after its note-off; the end
// is searched after the onset, and "no sound" waits for the maximum tail.
TEST(AutosampleSession, RoundTripLongerThanTheHold) {
    lockstep::test::TempDir dir("autosample-long-trip");
    SynthOptions so;
    so.delay = 3000;
    auto o = options(dir.path());
    o.plan.velocities = {127};
    o.plan.round_robins = 1;
    o.hold = 960;
    AutosampleLoop loop(o, so, period);
    ASSERT_TRUE(loop.run());
    const Progress p = loop.session->progress();
    ASSERT_EQ(p.phase, Phase::done) << p.error;
    EXPECT_EQ(loop.session->latency(), 3000 + period);
    const auto tones = starts(loop.synth);
    ASSERT_EQ(tones.size(), 4U);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(loop.session->records()[i].onset, tones[i + 1].frame);
    }
}

// A latency given too high: the tone starts inside the pre-roll, which is reported.
TEST(AutosampleSession, FixedLatencyTooHighIsReported) {
    lockstep::test::TempDir dir("autosample-too-high");
    SynthOptions so;
    so.delay = delay;
    auto o = options(dir.path());
    o.plan.velocities = {127};
    o.plan.round_robins = 1;
    o.latency_mode = LatencyMode::fixed;
    o.latency = delay + period + 300; // the tone comes 300 frames into the 960 of pre-roll
    AutosampleLoop loop(o, so, period);
    ASSERT_TRUE(loop.run());
    ASSERT_EQ(loop.session->progress().phase, Phase::done) << loop.session->progress().error;
    std::size_t early = 0;
    for (const auto& l : loop.log) {
        early += l.find("sound before the compensated note-on") != std::string::npos ? 1 : 0;
    }
    EXPECT_EQ(early, 3U);
    const auto tones = starts(loop.synth);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(loop.session->records()[i].onset, tones[i].frame);
        // the noise of the pre-roll's first half, not the tone
        EXPECT_LT(loop.session->records()[i].noise, 2.01e-4F) << i;
    }
}

// Started again on a complete set: nothing is played (not even the latency probe), the
// set is written again.
TEST(AutosampleSession, ResumingACompleteSetPlaysNothing) {
    lockstep::test::TempDir dir("autosample-complete");
    SynthOptions so;
    so.delay = delay;
    auto o = options(dir.path());
    o.plan.round_robins = 1;
    AutosampleLoop loop(o, so, period);
    ASSERT_TRUE(loop.run());
    ASSERT_EQ(loop.session->progress().phase, Phase::done);
    const std::size_t played = loop.synth.starts();
    loop.restart(o);
    EXPECT_EQ(loop.session->progress().resumed, 6U);
    ASSERT_TRUE(loop.run());
    EXPECT_EQ(loop.session->progress().phase, Phase::done) << loop.session->progress().error;
    loop.idle(100);
    EXPECT_EQ(loop.synth.starts(), played);
    EXPECT_TRUE(std::filesystem::exists(loop.session->sfz_path()));
}

// Cancel during a note: its note-off goes out in the next cycle, not at its frame.
TEST(AutosampleSession, CancelStopsTheSoundingNoteAtOnce) {
    lockstep::test::TempDir dir("autosample-cancel-now");
    SynthOptions so;
    so.delay = delay;
    auto o = options(dir.path());
    o.hold = 48000; // a second held
    AutosampleLoop loop(o, so, period);
    Frame cancelled_at = -1;
    ASSERT_TRUE(loop.run(100000, [&] {
        if (cancelled_at < 0 && loop.synth.starts() == 2) { // the first note sounds
            loop.session->cancel();
            cancelled_at = loop.now();
        }
    }));
    ASSERT_EQ(loop.session->progress().phase, Phase::cancelled);
    EXPECT_FALSE(loop.engine().cancelled());
    loop.idle(2);
    EXPECT_TRUE(loop.engine().cancelled());
    EXPECT_EQ(loop.engine().unsent(), 0U);
    EXPECT_FALSE(loop.synth.held()); // the note-off (or all-notes-off) came at once
    EXPECT_LT(loop.now() - cancelled_at, 48000);
}

// A note that gives no sound: the others are recorded, the set is written and mapped from
// what is there (the key's one layer covers every velocity, round robins as present), and
// the session ends failed (exit 1) saying what is missing.
TEST(AutosampleSession, NoteWithoutSoundLeavesAPlayablePartialSet) {
    lockstep::test::TempDir dir("autosample-partial");
    SynthOptions so;
    so.delay = delay;
    so.silent_note = 66;
    so.silent_velocity = 64;
    AutosampleLoop loop(options(dir.path()), so, period);
    ASSERT_TRUE(loop.run(200000));
    const Progress p = loop.session->progress();
    EXPECT_EQ(p.phase, Phase::failed);
    EXPECT_EQ(p.failed, 2U);
    EXPECT_EQ(p.recorded, 10U);
    EXPECT_NE(p.error.find("2 of 12 notes gave no sound"), std::string::npos) << p.error;
    sampler::KitStore store(48000);
    const auto rep = store.load_kit(loop.session->sfz_path());
    ASSERT_TRUE(rep.ok) << rep.error;
    EXPECT_EQ(rep.regions, 10U);
    EXPECT_TRUE(rep.warnings.empty());
    std::ifstream in(loop.session->sfz_path());
    std::string sfz;
    for (std::string line; std::getline(in, line);) {
        sfz += line + "\n";
    }
    EXPECT_NE(sfz.find("synth_066_F#4_v127_rr1.wav pitch_keycenter=66 lokey=65 hikey=67 lovel=1 "
                       "hivel=127 seq_length=2 seq_position=1\n"),
              std::string::npos)
        << sfz;
    EXPECT_NE(sfz.find("synth_063_D#4_v064_rr2.wav pitch_keycenter=63 lokey=62 hikey=64 lovel=1 "
                       "hivel=64 seq_length=2 seq_position=2\n"),
              std::string::npos)
        << sfz;
    SampleAudio a;
    SampleMeta m;
    std::string err;
    ASSERT_TRUE(read_sample(dir.path() + "/" + file_name("synth", NoteId{66, 127, 2}), a, m, err));
    EXPECT_EQ(m.root_key, 66);
}

} // namespace
} // namespace lockstep::capture::test
