// lockstep-sampler's engine, offline: frame exactness at every offset and across cycles,
// kit reloads that leave sounding voices untouched, click-free steals and chokes, velocity,
// pan, tune, round robin, envelopes, group outputs; process() never allocates.
#include "engine.hpp"
#include "jack/offline.hpp"
#include "loader.hpp"
#include "rt/alloc_check.hpp"
#include "test_audio.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <numbers>
#include <vector>

namespace lockstep::sampler {
namespace {

constexpr std::uint32_t rate = 48000;

// Drives the engine cycle by cycle with its own buffers, so that only process() runs
// inside the real-time scope (OfflineDriver allocates while collecting output).
struct Rig {
    KitStore store;
    Engine engine;
    std::vector<float> out_l, out_r;       // one sample per frame since frame 0
    std::vector<std::vector<float>> group; // ports 2.. (group pairs), likewise
    std::size_t ports = 2;                 // audio ports handed to process()
    Frame now = 0;
    struct Ev {
        Frame frame;
        std::array<std::uint8_t, 3> bytes;
    };
    std::vector<Ev> events;
    AllocCounts allocs;

    explicit Rig(EngineOptions o = {}) : Rig(o, 2 + 2 * o.group_outs) {}
    Rig(EngineOptions o, std::size_t audio_ports)
        : store(rate, {}, static_cast<int>(o.group_outs)), engine(o, store.published()),
          group(audio_ports - 2), ports(audio_ports) {}

    void note_on(Frame f, std::uint8_t note, std::uint8_t vel = 127, std::uint8_t ch = 0) {
        events.push_back({f, {static_cast<std::uint8_t>(0x90 | ch), note, vel}});
    }
    void note_off(Frame f, std::uint8_t note, std::uint8_t ch = 0) {
        events.push_back({f, {static_cast<std::uint8_t>(0x80 | ch), note, 0}});
    }

    void run(std::uint32_t nframes, std::size_t cycles,
             const std::function<void(std::size_t)>& between = {}) {
        // Sorted by frame, equal frames in the order added (std::stable_sort's temporary
        // buffer is deprecated under clang 22 with libstdc++ 12).
        std::vector<std::size_t> order(events.size());
        for (std::size_t i = 0; i < order.size(); ++i) {
            order[i] = i;
        }
        std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            return events[a].frame != events[b].frame ? events[a].frame < events[b].frame : a < b;
        });
        std::vector<Ev> sorted;
        for (std::size_t i : order) {
            sorted.push_back(events[i]);
        }
        events = std::move(sorted);
        std::vector<std::vector<float>> bufs(ports, std::vector<float>(nframes));
        std::vector<std::span<float>> ports_out(bufs.begin(), bufs.end());
        for (std::size_t c = 0; c < cycles; ++c) {
            for (auto& b : bufs) {
                std::fill(b.begin(), b.end(), 1e9F); // a frame left unwritten shows
            }
            if (between) {
                between(c);
            }
            std::vector<jack::MidiEvent> in;
            for (const Ev& e : events) {
                if (e.frame >= now && e.frame < now + nframes) {
                    in.push_back({static_cast<std::uint32_t>(e.frame - now), e.bytes});
                }
            }
            const std::span<const jack::MidiEvent> ports_in[1] = {in};
            jack::Cycle cycle;
            cycle.start = now;
            cycle.nframes = nframes;
            cycle.rate = rate;
            cycle.midi_in = ports_in;
            cycle.audio_out = ports_out;
            {
                RealtimeScope scope;
                engine.process(cycle);
                const AllocCounts a = scope.counts();
                allocs.allocations += a.allocations;
                allocs.deallocations += a.deallocations;
            }
            out_l.insert(out_l.end(), bufs[0].begin(), bufs[0].end());
            out_r.insert(out_r.end(), bufs[1].begin(), bufs[1].end());
            for (std::size_t p = 2; p < ports; ++p) {
                group[p - 2].insert(group[p - 2].end(), bufs[p].begin(), bufs[p].end());
            }
            now += nframes;
        }
    }
};

using Part = std::pair<Region, std::shared_ptr<SampleData>>;

std::shared_ptr<Kit> kit_of(std::vector<Part> parts, std::uint32_t kit_rate = rate) {
    auto kit = std::make_shared<Kit>();
    kit->rate = kit_rate;
    for (auto& [region, sample] : parts) {
        region.data = sample.get();
        kit->regions.push_back(region);
        kit->samples.push_back(sample);
    }
    return kit;
}

Region key(std::uint8_t note) {
    Region r;
    r.lokey = r.hikey = r.keycenter = note;
    return r;
}

std::shared_ptr<SampleData> mono(const std::vector<float>& x) {
    return SampleData::make(x, 1, "mono");
}

std::vector<float> ramp_values(std::size_t n) {
    std::vector<float> x(n);
    for (std::size_t k = 0; k < n; ++k) {
        x[k] = static_cast<float>(k + 1) / 4096.0F; // distinct, exact in float
    }
    return x;
}

std::vector<float> sine(std::size_t n, double hz, double phase = 0.0, double amp = 1.0) {
    std::vector<float> x(n);
    for (std::size_t k = 0; k < n; ++k) {
        x[k] = static_cast<float>(amp * std::sin(2 * std::numbers::pi * hz * k / rate + phase));
    }
    return x;
}

float max_step(const std::vector<float>& y) {
    float worst = 0;
    for (std::size_t i = 1; i < y.size(); ++i) {
        worst = std::max(worst, std::fabs(y[i] - y[i - 1]));
    }
    return worst;
}

TEST(SamplerEngine, FrameKOfANoteAtFSoundsAtFPlusKForEveryOffset) {
    for (const std::uint32_t period : {16U, 64U, 100U, 256U}) {
        Rig rig;
        const std::size_t len = 2 * period + 3; // spans three cycles
        const auto x = ramp_values(len);
        rig.store.publish(kit_of({{key(60), mono(x)}}));
        const Frame spacing = 4 * period + 1; // > len; o * spacing = o (mod period)
        std::vector<Frame> starts;
        for (std::uint32_t o = 0; o < period; ++o) {
            starts.push_back(1000 + o * spacing);
        }
        std::vector<bool> seen(period, false);
        for (Frame f : starts) {
            rig.note_on(f, 60);
            seen[static_cast<std::size_t>(f % period)] = true;
        }
        EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](bool b) { return b; }))
            << "every offset within a cycle is covered";
        rig.run(period, static_cast<std::size_t>((starts.back() + spacing) / period + 2));
        for (Frame f : starts) {
            const auto F = static_cast<std::size_t>(f);
            ASSERT_EQ(rig.out_l[F - 1], 0.0F) << "period " << period << " note at " << f;
            for (std::size_t k = 0; k < len; ++k) {
                ASSERT_EQ(rig.out_l[F + k], x[k])
                    << "period " << period << " F " << f << " k " << k;
                ASSERT_EQ(rig.out_r[F + k], x[k]);
            }
            ASSERT_EQ(rig.out_l[F + len], 0.0F) << "no repeated frame at the end";
        }
        EXPECT_EQ(rig.allocs.allocations, 0U);
        EXPECT_EQ(rig.allocs.deallocations, 0U);
    }
}

TEST(SamplerEngine, StereoImpulsesAcrossCycleBoundaries) {
    const std::uint32_t period = 64;
    std::vector<float> x(2 * (3 * period), 0.0F);
    for (std::size_t k : {std::size_t{0}, std::size_t{period - 1}, std::size_t{period},
                          std::size_t{2 * period + 1}}) {
        x[2 * k] = 1.0F;
        x[2 * k + 1] = -0.5F;
    }
    Rig rig;
    rig.store.publish(kit_of({{key(36), SampleData::make(x, 2, "imp")}}));
    for (Frame f : {Frame{63}, Frame{640}, Frame{1281}}) {
        rig.note_on(f, 36);
    }
    rig.run(period, 40);
    std::vector<std::size_t> hits_l, hits_r;
    for (std::size_t i = 0; i < rig.out_l.size(); ++i) {
        if (rig.out_l[i] != 0.0F) {
            EXPECT_EQ(rig.out_l[i], 1.0F);
            hits_l.push_back(i);
        }
        if (rig.out_r[i] != 0.0F) {
            EXPECT_EQ(rig.out_r[i], -0.5F);
            hits_r.push_back(i);
        }
    }
    std::vector<std::size_t> expect;
    for (std::size_t f : {63U, 640U, 1281U}) {
        for (std::size_t k : {0U, 63U, 64U, 129U}) {
            expect.push_back(f + k);
        }
    }
    std::sort(expect.begin(), expect.end());
    EXPECT_EQ(hits_l, expect);
    EXPECT_EQ(hits_r, expect);
}

// Files on disk, loaded through KitStore, as the real client does.
struct KitDir {
    test::TempDir dir;
    KitDir() {
        test::write_file(dir.path / "a.wav", test::wav(sine(48000, 220.0, 0.3, 0.5)));
        test::write_file(dir.path / "b.wav",
                         test::wav(test::ramp(30000, 2), {.channels = 2, .rate = 44100}));
        test::write_text(dir.path / "kit.sfz",
                         "<region> sample=a.wav key=60 ampeg_release=0.05\n"
                         "<region> sample=b.wav lokey=62 hikey=72 pitch_keycenter=64 pan=30\n"
                         "<region> sample=a.wav key=50 group=1 off_by=1 loop_mode=one_shot\n");
    }
};

TEST(SamplerEngine, LoadingAKit100TimesNeverChangesVoicesThatSound) {
    KitDir files;
    auto play = [&](bool reload) {
        Rig rig;
        EXPECT_TRUE(rig.store.load_kit(files.dir.path / "kit.sfz").ok);
        rig.note_on(10, 60);
        rig.note_on(77, 62, 90); // interpolated (ratio 2^(-2/12)), stereo, converted rate
        rig.note_on(300, 50, 100);
        rig.note_on(5000, 50, 60); // chokes the first one
        rig.note_off(9000, 60);
        rig.note_on(12000, 70, 127); // after some reloads: same content
        std::size_t loads = 0;
        rig.run(128, 600, [&](std::size_t c) { // 600 cycles: every voice ends
            if (reload && c >= 5 && c < 105) {
                EXPECT_TRUE(rig.store.load_kit(files.dir.path / "kit.sfz").ok);
                rig.store.collect();
                ++loads;
            }
        });
        EXPECT_EQ(rig.allocs.allocations, 0U);
        EXPECT_EQ(rig.allocs.deallocations, 0U);
        if (reload) {
            EXPECT_EQ(loads, 100U);
            rig.store.collect();
            EXPECT_EQ(rig.store.alive(), 1U) << "kits no voice plays are freed";
        }
        return std::make_pair(rig.out_l, rig.out_r);
    };
    const auto quiet = play(false);
    const auto busy = play(true);
    ASSERT_EQ(quiet.first.size(), busy.first.size());
    float energy = 0;
    for (std::size_t i = 0; i < quiet.first.size(); ++i) {
        ASSERT_EQ(quiet.first[i], busy.first[i]) << "frame " << i;
        ASSERT_EQ(quiet.second[i], busy.second[i]) << "frame " << i;
        energy += std::fabs(quiet.first[i]);
    }
    EXPECT_GT(energy, 100.0F) << "the render is not silent";
}

TEST(SamplerEngine, OldKitIsFreedOnlyAfterItsLastVoiceEnds) {
    Rig rig;
    rig.store.publish(kit_of({{key(60), mono(std::vector<float>(1000, 0.25F))}}));
    rig.note_on(0, 60);
    rig.run(64, 2);
    rig.store.publish(kit_of({{key(60), mono(std::vector<float>(1000, 0.5F))}}));
    rig.run(64, 2);
    rig.store.collect();
    EXPECT_EQ(rig.store.alive(), 2U) << "the old kit still sounds";
    EXPECT_EQ(rig.out_l.back(), 0.25F);
    rig.run(64, 20);
    EXPECT_EQ(rig.store.collect(), 1U);
    EXPECT_EQ(rig.store.alive(), 1U);
}

// A full-scale 50 Hz sine: its own largest step is 2*pi*50/48000 = 0.0065. A hard cut at
// its peak would step by 1.0; a fade of f frames adds at most 1/f.
TEST(SamplerEngine, StealingFadesInsteadOfCutting) {
    EngineOptions o;
    o.voices = 1;
    o.fade_ms = 2.0;
    Rig rig(o);
    const auto x = sine(48000, 50.0);
    rig.store.publish(kit_of({{key(60), mono(x)}, {key(61), mono(x)}}));
    rig.note_on(0, 60);
    rig.note_on(240, 61); // the first voice is at its peak (+1.0)
    rig.run(64, 20);
    const float omega = static_cast<float>(2 * std::numbers::pi * 50 / rate);
    const float fade_frames = 96;
    EXPECT_EQ(rig.engine.counters().steals, 1U);
    EXPECT_LE(max_step(rig.out_l), 2 * omega + 1.0F / fade_frames + 1e-5F);
    EXPECT_GT(rig.out_l[239], 0.999F);
    // After the fade only the new voice sounds, exactly.
    for (std::size_t k = 96; k < 1000; ++k) {
        ASSERT_EQ(rig.out_l[240 + k], x[k]) << k;
    }
}

TEST(SamplerEngine, ChokeGroupsFadeInsteadOfCutting) {
    Rig rig;
    const auto x = sine(48000, 50.0);
    Region open = key(46);
    open.group = 1;
    open.off_by = 2;
    Region closed = key(42);
    closed.group = 2;
    rig.store.publish(kit_of({{open, mono(x)}, {closed, mono(x)}}));
    rig.note_on(0, 46);
    rig.note_on(240, 42);
    rig.run(64, 20);
    const float omega = static_cast<float>(2 * std::numbers::pi * 50 / rate);
    EXPECT_EQ(rig.engine.counters().chokes, 1U);
    EXPECT_LE(max_step(rig.out_l), 2 * omega + 1.0F / 96 + 1e-5F);
    for (std::size_t k = 96; k < 1000; ++k) {
        ASSERT_EQ(rig.out_l[240 + k], x[k]) << k;
    }
}

TEST(SamplerEngine, FullPoolStealsOldestFirst) {
    EngineOptions o;
    o.voices = 4;
    Rig rig(o);
    rig.store.publish(kit_of({{key(60), mono(std::vector<float>(20000, 0.01F))}}));
    for (int i = 0; i < 8; ++i) {
        rig.note_on(10 + i * 300, 60);
    }
    rig.run(64, 60);
    const auto c = rig.engine.counters();
    EXPECT_EQ(c.notes, 8U);
    EXPECT_EQ(c.steals, 4U);
    EXPECT_EQ(c.dropped, 0U);
    // Frame 2500: notes 4..7 play (the first four were faded out, oldest first).
    EXPECT_NEAR(rig.out_l[2500], 0.04F, 1e-6F);
}

TEST(SamplerEngine, VelocityVolumeAndPan) {
    Rig rig;
    Region left = key(40);
    pan_gains(-100, left.gain_l, left.gain_r);
    Region quieter = key(41);
    quieter.gain_l = quieter.gain_r = static_cast<float>(std::pow(10.0, -6.0 / 20.0));
    const auto dc = mono(std::vector<float>(100, 0.5F));
    rig.store.publish(kit_of({{key(39), dc}, {left, dc}, {quieter, dc}}));
    rig.note_on(0, 39, 64);
    rig.note_on(200, 40, 127);
    rig.note_on(400, 41, 127);
    rig.run(64, 10);
    EXPECT_FLOAT_EQ(rig.out_l[50], 0.5F * (64.0F / 127) * (64.0F / 127));
    EXPECT_FLOAT_EQ(velocity_gain(127), 1.0F);
    EXPECT_FLOAT_EQ(velocity_gain(0), 0.0F);
    EXPECT_FLOAT_EQ(rig.out_l[250], 0.5F * std::numbers::sqrt2_v<float>);
    EXPECT_NEAR(rig.out_r[250], 0.0F, 1e-7F);
    EXPECT_NEAR(rig.out_l[450], 0.5 * std::pow(10.0, -6.0 / 20.0), 1e-7);
    EXPECT_EQ(rig.out_l[450], rig.out_r[450]);
}

TEST(SamplerEngine, TuneTransposeAndKeyTrackingInterpolate) {
    Rig rig;
    const auto x = ramp_values(400);
    Region octave_up = key(50);
    octave_up.cents = 1200;
    Region semitone = key(70);
    semitone.cents = 100;
    const auto s = sine(48000, 500.0);
    Region tracked = key(72);
    tracked.keycenter = 60;
    rig.store.publish(kit_of({{octave_up, mono(x)}, {tracked, mono(x)}, {semitone, mono(s)}}));
    rig.note_on(0, 50);    // tune +1200: ratio 2, integer positions: exact samples
    rig.note_on(1000, 72); // key 72 over keycenter 60: also ratio 2
    rig.note_on(2000, 70); // +100 cents: interpolated
    rig.run(64, 100);
    for (std::size_t k = 0; k < 200; ++k) {
        ASSERT_EQ(rig.out_l[k], x[2 * k]) << k;
        ASSERT_EQ(rig.out_l[1000 + k], x[2 * k]) << k;
    }
    EXPECT_EQ(rig.out_l[200], 0.0F) << "ends after its last frame";
    const double hz = 500.0 * std::pow(2.0, 1.0 / 12.0);
    double worst = 0;
    for (std::size_t k = 0; k < 2000; ++k) {
        const double ideal = std::sin(2 * std::numbers::pi * hz * k / rate);
        worst = std::max(worst, std::fabs(ideal - rig.out_l[2000 + k]));
    }
    EXPECT_LT(worst, 2e-3) << "cubic interpolation of a 500 Hz sine";
}

TEST(SamplerEngine, RoundRobinAndRandomSelection) {
    Rig rig;
    std::vector<Part> parts;
    for (int i = 0; i < 3; ++i) {
        Region r = key(38);
        r.seq_length = 3;
        r.seq_position = static_cast<std::uint16_t>(i + 1);
        parts.push_back({r, mono(std::vector<float>(10, 0.1F * static_cast<float>(i + 1)))});
    }
    for (int i = 0; i < 2; ++i) {
        Region r = key(42);
        r.lorand = i == 0 ? 0.0F : 0.5F;
        r.hirand = i == 0 ? 0.5F : 1.0F;
        parts.push_back({r, mono(std::vector<float>(10, i == 0 ? 0.25F : 0.75F))});
    }
    rig.store.publish(kit_of(parts));
    for (int i = 0; i < 6; ++i) {
        rig.note_on(i * 20, 38);
    }
    for (int i = 0; i < 400; ++i) {
        rig.note_on(1000 + i * 20, 42);
    }
    rig.run(64, 200);
    for (int i = 0; i < 6; ++i) {
        EXPECT_FLOAT_EQ(rig.out_l[static_cast<std::size_t>(i * 20 + 5)],
                        0.1F * static_cast<float>(i % 3 + 1));
    }
    int low = 0, high = 0;
    for (int i = 0; i < 400; ++i) {
        const float v = rig.out_l[static_cast<std::size_t>(1000 + i * 20 + 5)];
        low += v == 0.25F;
        high += v == 0.75F;
    }
    EXPECT_EQ(low + high, 400);
    EXPECT_GT(low, 150);
    EXPECT_GT(high, 150);
}

TEST(SamplerEngine, GatedEnvelopeAndOneShot) {
    Rig rig;
    Region gated = key(60);
    gated.attack = 100;
    gated.release = 480;
    Region shot = key(61);
    shot.one_shot = true;
    const auto dc = mono(std::vector<float>(48000, 1.0F));
    rig.store.publish(kit_of({{gated, dc}, {shot, dc}}));
    rig.note_on(0, 60);
    rig.note_off(1000, 60);
    rig.note_on(5000, 61);
    rig.note_off(5100, 61);
    rig.run(64, 200);
    EXPECT_FLOAT_EQ(rig.out_l[0], 0.0F);
    EXPECT_NEAR(rig.out_l[50], 0.5F, 1e-5F);
    EXPECT_FLOAT_EQ(rig.out_l[999], 1.0F);
    EXPECT_NEAR(rig.out_l[1240], 0.5F, 1e-4F);
    EXPECT_LT(rig.out_l[1479], 0.01F);
    EXPECT_EQ(rig.out_l[1480], 0.0F);
    EXPECT_EQ(rig.out_l[4000], 0.0F);
    EXPECT_EQ(rig.out_l[5200], 1.0F) << "one_shot ignores note-off";
    EXPECT_LE(max_step({rig.out_l.begin(), rig.out_l.begin() + 4000}), 1.0F / 100 + 1e-5F)
        << "attack and release ramp";
}

TEST(SamplerEngine, KitForAnotherRateIsNotPlayed) {
    Rig rig;
    rig.store.publish(kit_of({{key(60), mono(std::vector<float>(10, 1.0F))}}, 44100));
    rig.note_on(0, 60);
    rig.run(64, 2);
    EXPECT_EQ(rig.engine.counters().rate_mismatch, 1U);
    EXPECT_EQ(rig.out_l[5], 0.0F);
}

// ---- group outputs ----------------------------------------------------------------

// A stereo ramp whose every frame names itself: L = (k + 1) / 4096, R = -L / 2.
std::vector<float> stereo_ramp(std::size_t frames) {
    std::vector<float> x(2 * frames);
    for (std::size_t k = 0; k < frames; ++k) {
        x[2 * k] = static_cast<float>(k + 1) / 4096.0F;
        x[2 * k + 1] = -x[2 * k] / 2;
    }
    return x;
}

Region routed(std::uint8_t note, std::uint8_t output) {
    Region r = key(note);
    r.output = output;
    return r;
}

// Through jack::OfflineDriver (the cycle driver of offline renders, which pre-fills every
// output with 1e9 so a frame the engine leaves unwritten shows): four notes, on the main
// pair (output 0), group pairs 2 and 1, and output 5 beyond --group-outs 2 (main). Each
// port must hold exactly its notes' frames, at F + k, and zeros everywhere else.
TEST(SamplerEngine, GroupOutputsCarryTheirRegionsExactlyAndOnlyThem) {
    const std::uint32_t period = 64;
    const std::size_t len = 150; // spans three cycles
    const auto x = stereo_ramp(len);
    const auto sample = SampleData::make(x, 2, "ramp");
    KitStore store(rate, {}, 2);
    store.publish(kit_of({{routed(60, 0), sample},
                          {routed(62, 2), sample},
                          {routed(64, 1), sample},
                          {routed(66, 5), sample}}));
    EngineOptions o;
    o.group_outs = 2;
    Engine engine(o, store.published());
    jack::OfflineDriver driver({.midi_in = 1, .audio_out = 6}, rate);
    const Frame f_main = 10, f_two = 300, f_one = 555, f_beyond = 801;
    driver.add_midi_in(0, f_main, {0x90, 60, 127});
    driver.add_midi_in(0, f_two, {0x90, 62, 127});
    driver.add_midi_in(0, f_one, {0x90, 64, 127});
    driver.add_midi_in(0, f_beyond, {0x90, 66, 127});
    const std::size_t cycles = 20;
    driver.run(engine, 0, period, cycles);

    const std::size_t total = cycles * period;
    std::vector<std::vector<float>> want(6, std::vector<float>(total, 0.0F));
    const auto place = [&](std::size_t pair, Frame f) {
        for (std::size_t k = 0; k < len; ++k) {
            want[2 * pair][static_cast<std::size_t>(f) + k] += x[2 * k];
            want[2 * pair + 1][static_cast<std::size_t>(f) + k] += x[2 * k + 1];
        }
    };
    place(0, f_main);
    place(2, f_two);
    place(1, f_one);
    place(0, f_beyond); // output 5 > 2 group pairs: the main pair
    const char* names[6] = {"out_L", "out_R", "out_1_L", "out_1_R", "out_2_L", "out_2_R"};
    EXPECT_EQ(port_group_l(1), 2U);
    EXPECT_EQ(port_group_r(2), 5U);
    for (std::size_t p = 0; p < 6; ++p) {
        const auto& got = driver.audio_out(p);
        ASSERT_EQ(got.size(), total) << names[p];
        for (std::size_t i = 0; i < total; ++i) {
            ASSERT_EQ(got[i], want[p][i]) << names[p] << " frame " << i;
        }
    }
    EXPECT_EQ(engine.counters().notes, 4U);
}

// The same notes routed to group pair 2 sound there frame for frame as they sound on the
// main pair of an engine without group outputs, at every period and offset.
TEST(SamplerEngine, AGroupPairPlaysWhatTheMainPairWouldHave) {
    for (const std::uint32_t period : {16U, 64U, 100U}) {
        const auto x = sine(3000, 440.0, 0.1, 0.5);
        const auto render = [&](std::size_t group_outs, std::uint8_t output) {
            EngineOptions o;
            o.group_outs = group_outs;
            Rig rig(o);
            Region pitched = routed(61, output); // interpolated: ratio 2^(1/12)
            pitched.keycenter = 60;
            Region enveloped = routed(62, output);
            enveloped.attack = 50;
            enveloped.release = 300;
            rig.store.publish(kit_of({{routed(60, output), mono(x)},
                                      {pitched, SampleData::make(stereo_ramp(1000), 2, "r")},
                                      {enveloped, mono(x)}}));
            for (std::uint32_t o2 = 0; o2 < 7; ++o2) {
                rig.note_on(5 + o2 * 333, static_cast<std::uint8_t>(60 + o2 % 3),
                            static_cast<std::uint8_t>(40 + 10 * o2));
                rig.note_off(200 + o2 * 333, static_cast<std::uint8_t>(60 + o2 % 3));
            }
            rig.run(period, 6000 / period);
            EXPECT_EQ(rig.allocs.allocations, 0U);
            std::vector<std::vector<float>> ports = {rig.out_l, rig.out_r};
            ports.insert(ports.end(), rig.group.begin(), rig.group.end());
            return ports; // out_L, out_R, out_1_L, out_1_R, ...
        };
        const auto plain = render(0, 0);
        const auto grouped = render(2, 2);
        ASSERT_EQ(plain.size(), 2U);
        ASSERT_EQ(grouped.size(), 6U);
        EXPECT_EQ(grouped[4], plain[0]) << "out_2_L, period " << period;
        EXPECT_EQ(grouped[5], plain[1]) << "out_2_R, period " << period;
        const std::vector<float> silence(plain[0].size(), 0.0F);
        EXPECT_EQ(grouped[0], silence) << "a routed region is not on the main pair";
        EXPECT_EQ(grouped[1], silence);
        EXPECT_EQ(grouped[2], silence) << "out_1_L: written with zeros every cycle";
        EXPECT_EQ(grouped[3], silence);
        float energy = 0;
        for (float v : plain[0]) {
            energy += std::fabs(v);
        }
        EXPECT_GT(energy, 10.0F) << "the render is not silent";
        // Output 0 with group pairs present: main only, as without them.
        const auto main_only = render(2, 0);
        EXPECT_EQ(main_only[0], plain[0]);
        EXPECT_EQ(main_only[1], plain[1]);
        for (std::size_t p = 2; p < main_only.size(); ++p) {
            EXPECT_EQ(main_only[p], silence) << p;
        }
    }
}

TEST(SamplerEngine, GroupPairsShareChokesAndStealsWithTheMainPair) {
    EngineOptions o;
    o.group_outs = 1;
    Rig rig(o);
    const auto dc = mono(std::vector<float>(48000, 0.5F));
    Region open = routed(46, 1);
    open.group = 1;
    open.off_by = 2;
    Region closed = routed(42, 0);
    closed.group = 2;
    rig.store.publish(kit_of({{open, dc}, {closed, dc}}));
    rig.note_on(0, 46);   // open hat on out_1
    rig.note_on(640, 42); // closed hat on main chokes it
    rig.run(64, 40);
    EXPECT_EQ(rig.engine.counters().chokes, 1U);
    EXPECT_EQ(rig.group[0][639], 0.5F);
    EXPECT_GT(rig.group[0][640], 0.0F) << "a fade, not a cut";
    EXPECT_EQ(rig.group[0][640 + 96], 0.0F) << "faded out over 2 ms";
    EXPECT_EQ(rig.out_l[639], 0.0F);
    EXPECT_EQ(rig.out_l[700], 0.5F);
}

TEST(SamplerEngine, FewerPortsThanGroupPairsLeaveTheMainPairIntact) {
    EngineOptions o;
    o.group_outs = 3;
    Rig rig(o, 4); // a cycle with only out_L/R and out_1_L/R
    const auto x = ramp_values(100);
    rig.store.publish(
        kit_of({{routed(60, 0), mono(x)}, {routed(61, 3), mono(x)}, {routed(62, 1), mono(x)}}));
    rig.note_on(10, 60);
    rig.note_on(10, 61); // its pair has no port: dropped, nowhere else
    rig.note_on(300, 62);
    rig.run(64, 10);
    for (std::size_t k = 0; k < x.size(); ++k) {
        ASSERT_EQ(rig.out_l[10 + k], x[k]) << k;
        ASSERT_EQ(rig.group[0][300 + k], x[k]) << k;
        ASSERT_EQ(rig.group[0][10 + k], 0.0F) << k;
    }
    EXPECT_EQ(rig.allocs.allocations, 0U);
}

TEST(SamplerEngine, ProcessNeverAllocatesUnderLoad) {
    EngineOptions o;
    o.voices = 8;
    o.group_outs = max_group_outs;
    Rig rig(o);
    Region choke = key(42);
    choke.group = 1;
    choke.off_by = 1;
    Region pitched = key(50);
    pitched.cents = 37;
    pitched.output = max_group_outs; // voices on the main pair and on the last group pair
    rig.store.publish(kit_of({{choke, mono(sine(4000, 300))}, {pitched, mono(sine(4000, 300))}}));
    for (int i = 0; i < 300; ++i) {
        rig.note_on(i * 13, i % 2 == 0 ? 42 : 50, static_cast<std::uint8_t>(1 + i % 127));
    }
    for (int i = 0; i < 20; ++i) {
        rig.events.push_back({static_cast<Frame>(i * 200), {0xB0, 120, 0}});
    }
    LOCKSTEP_EXPECT_NO_ALLOC((void)0);
    rig.run(64, 100, [&](std::size_t c) {
        if (c % 10 == 0) {
            rig.store.publish(kit_of({{choke, mono(sine(4000, 300))}}));
        }
    });
    EXPECT_EQ(rig.allocs.allocations, 0U);
    EXPECT_EQ(rig.allocs.deallocations, 0U);
    EXPECT_GT(rig.engine.counters().steals + rig.engine.counters().chokes, 0U);
}

} // namespace
} // namespace lockstep::sampler
