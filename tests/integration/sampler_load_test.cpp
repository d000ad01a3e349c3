// Must-show 2 of lockstep-sampler on a real server: loading a kit 100 times over OSC while
// notes sound never changes the output of the voices already sounding. The same notes are
// played twice at the same offsets from a cycle start: once with no loads (the reference)
// and once while kits A and B (B maps the same notes to other samples) are loaded 100
// times in turn; both recordings must be equal bit for bit. In the RTSan build (which runs
// this suite) the sampler aborts on any real-time violation, so this also shows none.
#include "sampler_common.hpp"

#include <cmath>

namespace lockstep::test {
namespace {

using osc::Arg;
using osc::Message;

constexpr std::uint32_t period = 256;
constexpr std::size_t length = 144000;                     // 3 s at 48 kHz
constexpr std::array<Frame, 4> offsets{0, 77, 1000, 2049}; // from a cycle start
constexpr std::array<std::uint8_t, 4> notes{36, 38, 40, 43};

std::vector<float> decaying(std::size_t n, double freq, std::uint32_t channels) {
    std::vector<float> x(n * channels);
    for (std::size_t i = 0; i < n; ++i) {
        const double t = static_cast<double>(i) / 48000.0;
        for (std::uint32_t c = 0; c < channels; ++c) {
            x[i * channels + c] =
                static_cast<float>(0.2 * std::exp(-t) * std::sin(2 * M_PI * freq * (c + 1) * t));
        }
    }
    return x;
}

std::optional<osc::Message> status(OscPeer& osc) {
    return request(osc, Message("/sampler/status", {}), "/sampler/status");
}

void loads_do_not_touch_sounding_voices() {
    ServerOptions opts;
    opts.period = period;
    opts.sync = true;
    on_undisturbed_server(
        opts,
        [&](TestServer& server) -> std::string {
            TempDir dir;
            const std::string d = dir.path();
            write_float_wav(d + "/long_a.wav", decaying(length, 110, 1));
            write_float_wav(d + "/long_b.wav", decaying(length, 220, 2), 48000, 2);
            write_float_wav(d + "/short.wav", decaying(4800, 440, 1), 44100); // resampled
            // A: notes 36-43 from long_a (38 and 43 transposed: interpolated), 40 stereo.
            write_text(d + "/a.sfz", "<region> sample=long_a.wav key=36\n"
                                     "<region> sample=long_a.wav lokey=37 hikey=39 "
                                     "pitch_keycenter=36 pan=-30\n"
                                     "<region> sample=long_b.wav key=40 volume=-6\n"
                                     "<region> sample=long_a.wav key=43 tune=33\n"
                                     "<region> sample=short.wav key=50\n");
            // B and C, loaded in turn while A's voices sound: the same notes, other samples.
            write_float_wav(d + "/short2.wav", decaying(9600, 330, 2), 48000, 2);
            write_text(d + "/b.sfz", "<region> sample=short2.wav lokey=30 hikey=45 pan=40\n"
                                     "<region> sample=short.wav key=51\n");
            write_text(d + "/c.sfz", "<region> sample=short.wav lokey=30 hikey=45 volume=3\n");

            SamplerProcess sampler(server, "sl");
            EXPECT_TRUE(sampler.wait_ready());
            OscPeer osc(sampler.port());
            const auto a =
                request(osc, Message("/sampler/kit", {Arg::string(d + "/a.sfz")}), "/sampler/kit");
            EXPECT_TRUE(a && a->path == "/sampler/kit") << describe(a);
            if (::testing::Test::HasFailure()) {
                return {};
            }
            const std::size_t frames = length + static_cast<std::size_t>(offsets.back()) + period;
            SamplerRig rig(server, sampler, "sl", frames);
            EXPECT_TRUE(rig.start(server, sampler));
            if (::testing::Test::HasFailure()) {
                return {};
            }
            Window window({&rig.sender, &rig.left, &rig.right});

            const auto play = [&](Frame base) {
                for (std::size_t i = 0; i < notes.size(); ++i) {
                    EXPECT_TRUE(rig.sender.schedule(base + offsets[i], {0x90, notes[i], 100}));
                }
            };
            // 1. Reference: no loads.
            const Frame base1 = rig.ahead(period);
            play(base1);
            EXPECT_TRUE(rig.record(base1, frames));
            const std::vector<float> ref_l = rig.left.captured_audio();
            const std::vector<float> ref_r = rig.right.captured_audio();

            // 2. The same notes while kits are loaded 100 times, starting once they sound.
            const Frame base2 = rig.ahead(period);
            play(base2);
            EXPECT_TRUE(rig.left.capture_audio(base2, frames));
            EXPECT_TRUE(rig.right.capture_audio(base2, frames));
            EXPECT_TRUE(wait_until(
                [&] {
                    Frame now = 0;
                    return rig.sender.now(now) && now > base2 + offsets.back();
                },
                generous));
            int loaded = 0;
            for (int i = 0; i < 100; ++i) {
                const std::string kit = d + (i % 2 == 0 ? "/b.sfz" : "/c.sfz");
                const auto r =
                    request(osc, Message("/sampler/kit", {Arg::string(kit)}), "/sampler/kit");
                if (!r || r->path != "/sampler/kit" || r->args[0].s() != kit) {
                    ADD_FAILURE() << "load " << i << ": " << describe(r);
                    break;
                }
                ++loaded;
            }
            EXPECT_EQ(loaded, 100);
            Frame after = 0;
            rig.sender.now(after);
            // The loads happened while every voice still sounded (the shortest, transposed up
            // two semitones, lasts length / 1.12 frames). All ratios are >= 1, so every voice
            // has ended by the end of the recording and the second run starts from silence.
            EXPECT_LT(after, base2 + static_cast<Frame>(length * 8 / 10))
                << "the machine is too slow: the loads outlasted the notes";
            EXPECT_TRUE(
                wait_until([&] { return rig.left.audio_captured() && rig.right.audio_captured(); },
                           std::chrono::milliseconds(120000)));
            if (const std::string why = window.disturbance(false); !why.empty()) {
                return why;
            }
            EXPECT_EQ(first_difference(rig.left.captured_audio(), ref_l, base2, frames), "")
                << "out_L";
            EXPECT_EQ(first_difference(rig.right.captured_audio(), ref_r, base2, frames), "")
                << "out_R";
            // Not silence that equals silence.
            float peak = 0;
            for (float x : ref_l) {
                peak = std::max(peak, std::abs(x));
            }
            EXPECT_GT(peak, 0.01F);

            // Old kits are freed once their voices have ended: only the current one is left.
            EXPECT_TRUE(wait_until(
                [&] {
                    const auto s = status(osc);
                    return s && s->args.size() > 7 && s->args[7].i() == 1;
                },
                generous))
                << describe(status(osc));
            EXPECT_TRUE(sampler.process().running()) << sampler.output();
            EXPECT_EQ(sampler.output().find("RealtimeSanitizer"), std::string::npos)
                << sampler.output();
            return {};
        },
        5); // PipeWire on a busy machine skips cycles now and then: a fresh server
}

TEST(SamplerLoad, HundredKitLoadsWhilePlayingLeaveSoundingVoicesUnchanged) {
    loads_do_not_touch_sounding_voices();
}

} // namespace
} // namespace lockstep::test
