// Must-show 1 of lockstep-sampler on a real server (jackd2 -S, and PipeWire with the
// 'pipewire' test setup): a note-on at frame F makes sample frame k sound at frame F + k
// exactly, for every offset 0..period-1 within a cycle and across cycle boundaries, with
// no repeated or skipped frame.
//
// The sample is an impulse train that is also a ramp: frame k holds (k + 1) / 1024, so
// every output frame names the sample frame it came from (a repeat, a skip or a shift of
// one frame changes the value). It is float32, velocity 127 and the slot at 0 dB and
// centre pan are exactly unity, so the recording must equal the expectation bit for bit.
// Note i starts at base + i * (period + 1): its offset in the cycle is i, and ramps longer
// than period - i run into the next cycle.
//
// With group outputs (--group-outs 2, the slot routed with /sampler/output to pair 2) the
// same holds on out_2_L/out_2_R, and the main pair stays silent.
#include "sampler_common.hpp"

namespace lockstep::test {
namespace {

using osc::Arg;
using osc::Message;

void frame_exact(std::uint32_t period, std::uint32_t length, int group = 0) {
    ServerOptions opts;
    opts.period = period;
    opts.sync = true;
    on_undisturbed_server(opts, [&](TestServer& server) -> std::string {
        TempDir dir;
        std::vector<float> ramp(length);
        for (std::uint32_t k = 0; k < length; ++k) {
            ramp[k] = static_cast<float>(k + 1) / 1024.0F;
        }
        const std::string wav = dir.path() + "/ramp.wav";
        write_float_wav(wav, ramp, server.rate());

        const std::string tag = std::to_string(period) + (group > 0 ? "g" : "");
        SamplerProcess sampler(server, "sx-" + tag,
                               group > 0 ? std::vector<std::string>{"--group-outs", "2"}
                                         : std::vector<std::string>{});
        EXPECT_TRUE(sampler.wait_ready());
        OscPeer osc(sampler.port());
        const auto loaded = request(
            osc, Message("/sampler/load", {Arg::int32(60), Arg::string(wav)}), "/sampler/load");
        EXPECT_TRUE(loaded && loaded->path == "/sampler/load") << describe(loaded);
        if (group > 0) {
            const Message route("/sampler/output", {Arg::int32(60), Arg::int32(group)});
            const auto routed = request(osc, route, "/sampler/output");
            EXPECT_TRUE(routed && *routed == route) << describe(routed);
        }
        if (::testing::Test::HasFailure()) {
            return {};
        }

        const Frame stride = period + 1;
        const std::size_t notes = period; // offsets 0 .. period - 1
        const std::size_t frames = notes * static_cast<std::size_t>(stride) + length + period;
        const std::string pair = group > 0 ? "out_" + std::to_string(group) + "_" : "out_";
        SamplerRig rig(server, sampler, "sx" + tag, frames, pair + "L", pair + "R");
        // With a group pair: the main pair's left channel too, which must stay silent.
        std::optional<Probe> main_left;
        if (group > 0) {
            main_left.emplace(SamplerRig::recorder(server, "sx" + tag + "-main",
                                                   sampler.port_name("out_L"), frames));
        }
        EXPECT_TRUE(rig.start(server, sampler));
        if (main_left) {
            EXPECT_TRUE(start_and_run(*main_left));
            EXPECT_TRUE(wait_until(
                [&] {
                    return main_left->client().connected(sampler.port_name("out_L"), "audio_in");
                },
                generous));
        }
        if (::testing::Test::HasFailure()) {
            return {};
        }
        std::vector<Probe*> probes = {&rig.sender, &rig.left, &rig.right};
        if (main_left) {
            probes.push_back(&*main_left);
        }
        Window window(probes);
        const Frame base = rig.ahead(period, 16);
        std::vector<float> want(frames, 0.0F);
        for (std::size_t i = 0; i < notes; ++i) {
            const Frame f = base + static_cast<Frame>(i) * stride;
            EXPECT_TRUE(rig.sender.schedule(f, {0x90, 60, 127}));
            EXPECT_TRUE(rig.sender.schedule(f + 1, {0x80, 60, 0})); // one-shot: ignored
            for (std::uint32_t k = 0; k < length; ++k) {
                want[static_cast<std::size_t>(f - base) + k] = ramp[k];
            }
        }
        if (main_left) {
            EXPECT_TRUE(main_left->capture_audio(base, frames));
        }
        EXPECT_TRUE(rig.record(base, frames)) << "recording did not finish";
        if (main_left) {
            EXPECT_TRUE(wait_until([&] { return main_left->audio_captured(); },
                                   std::chrono::milliseconds(120000)));
        }
        if (const std::string why = window.disturbance(false); !why.empty()) {
            return why;
        }
        rig.sender.drain();
        EXPECT_EQ(rig.sender.counters().late, 0U);
        EXPECT_EQ(rig.sender.sent().size(), 2 * notes);
        const auto& l = rig.left.captured_audio();
        const auto& r = rig.right.captured_audio();
        EXPECT_EQ(first_difference(l, want, base, frames), "") << rig.left_port;
        EXPECT_EQ(first_difference(r, want, base, frames), "") << rig.right_port;
        if (main_left) {
            const std::vector<float> silence(frames, 0.0F);
            EXPECT_EQ(first_difference(main_left->captured_audio(), silence, base, frames), "")
                << "out_L: a note routed to a group pair is not on the main pair";
        }
        // Every note sounded on its own frame: the first frame of each ramp is 1/1024, and
        // the frame before it is silent.
        std::size_t onsets = 0;
        for (std::size_t i = 0; i < frames; ++i) {
            if (l[i] == ramp[0] && (i == 0 || l[i - 1] == 0.0F)) {
                ++onsets;
            }
        }
        EXPECT_EQ(onsets, notes);
        return {};
    });
}

TEST(SamplerExact, EveryOffsetOfA64FramePeriod) {
    frame_exact(64, 48); // ramps end in the next cycle from offset 17 on
}

TEST(SamplerExact, EveryOffsetOfA256FramePeriod) {
    frame_exact(256, 250); // ramps end in the next cycle from offset 7 on
}

TEST(SamplerExact, EveryOffsetOfA64FramePeriodOnGroupPair2) {
    frame_exact(64, 48, 2);
}

} // namespace
} // namespace lockstep::test
