// MIDI through the adapter lands on the exact frame: a probe sends notes at chosen absolute
// frames, another client records them, and every frame matches with zero difference.
#include "jack_test_common.hpp"

#include <algorithm>
#include <set>

namespace lockstep::test {
namespace {

struct Pair {
    explicit Pair(const TestServer& server) {
        server.use_in_this_process();
        auto so = probe_options(server, "midi-sender");
        so.midi_in = false;
        so.audio_out = true;
        so.connections = {{"out", "midi-receiver:in"}, {"audio_out", "midi-receiver:audio_in"}};
        sender = std::make_unique<Probe>(so);
        auto ro = probe_options(server, "midi-receiver");
        ro.midi_out = false;
        ro.audio_in = true;
        receiver = std::make_unique<Probe>(ro);
    }
    ::testing::AssertionResult start() {
        if (auto r = start_and_run(*receiver); !r) {
            return r;
        }
        if (auto r = start_and_run(*sender); !r) {
            return r;
        }
        if (!wait_until([&] { return sender->client().connected("out", "midi-receiver:in"); },
                        generous)) {
            return ::testing::AssertionFailure() << "sender:out -> receiver:in not connected";
        }
        // A couple of cycles so the new connection is part of the graph.
        return sender->wait_cycles(4, generous) ? ::testing::AssertionSuccess()
                                                : ::testing::AssertionFailure() << "stalled";
    }
    std::unique_ptr<Probe> sender;
    std::unique_ptr<Probe> receiver;
};

std::vector<Frame> frames(const std::vector<ProbeEvent>& events) {
    std::vector<Frame> f;
    for (const auto& e : events) {
        f.push_back(e.frame);
    }
    return f;
}

void expect_clean_counters(Probe& p) {
    const auto c = p.counters();
    const auto s = p.client().stats();
    EXPECT_EQ(c.late, 0U) << p.name();
    EXPECT_EQ(c.record_overflow, 0U) << p.name();
    EXPECT_EQ(s.midi_out_late + s.midi_out_overflow + s.midi_out_invalid, 0U) << p.name();
    EXPECT_EQ(s.midi_in_dropped, 0U) << p.name();
}

TEST(JackMidi, EveryOffsetOfACycleAndAcrossCycleBoundariesIsExact) {
    on_undisturbed_server({.sync = true}, [](TestServer& server) -> std::string {
        Pair pair(server);
        EXPECT_TRUE(pair.start());
        if (::testing::Test::HasFailure()) {
            return "";
        }
        const Window window({pair.sender.get(), pair.receiver.get()});
        CycleTiming t{};
        EXPECT_TRUE(pair.sender->client().timing(t));
        const Frame period = t.nframes;
        EXPECT_EQ(period, server.period());
        // Half a second ahead, so none of them is already past when scheduled.
        const Frame base = t.frame + t.rate / 2;
        std::vector<Frame> want;
        // Steps of period+1 walk through every offset 0..period-1 of a cycle.
        for (Frame i = 0; i < period; ++i) {
            want.push_back(base + i * (period + 1));
        }
        // A burst of consecutive frames across two cycle boundaries.
        const Frame burst = want.back() + 3 * period;
        for (Frame f = burst; f < burst + 2 * period + 3; ++f) {
            want.push_back(f);
        }
        std::uint8_t k = 0;
        for (Frame f : want) {
            EXPECT_TRUE(
                pair.sender->schedule(f, {0x90, static_cast<std::uint8_t>(k++ & 0x7F), 100}));
        }
        const bool all = wait_received(*pair.receiver, want.size());
        pair.sender->wait_cycles(2, generous);
        // Strict: a scheduled note in a skipped cycle would go out late.
        if (auto why = window.disturbance(false); !why.empty()) {
            return why;
        }
        EXPECT_TRUE(all) << explain(*pair.sender, *pair.receiver);
        pair.sender->drain();
        EXPECT_EQ(frames(pair.sender->sent()), want);
        EXPECT_EQ(frames(pair.receiver->received()), want); // zero difference, nothing extra
        for (std::size_t i = 0; i < want.size() && i < pair.receiver->received().size() &&
                                i < pair.sender->sent().size();
             ++i) {
            EXPECT_EQ(pair.receiver->received()[i].data, pair.sender->sent()[i].data) << i;
        }
        // Every offset within a cycle was used (cycles follow each other without gaps, so
        // residues modulo the period are offsets).
        std::set<Frame> residues;
        for (Frame f : want) {
            residues.insert(((f - t.frame) % period + period) % period);
        }
        EXPECT_EQ(residues.size(), static_cast<std::size_t>(period));
        expect_clean_counters(*pair.sender);
        expect_clean_counters(*pair.receiver);
        return "";
    });
}

TEST(JackMidi, ManyCyclesOfPeriodicNotesAndAFrameExactRamp) {
    on_undisturbed_server({.sync = true}, [](TestServer& server) -> std::string {
        Pair pair(server);
        EXPECT_TRUE(pair.start());
        if (::testing::Test::HasFailure()) {
            return "";
        }
        const auto audio_ok_before = pair.receiver->counters().audio_cycles_ok;
        const Window window({pair.sender.get(), pair.receiver.get()});
        // 601 is coprime with the period: the notes visit every offset again and again.
        constexpr Frame every = 601;
        pair.sender->generate_every(every, 5);
        // And a stretch of the audio ramp, recorded at absolute frames.
        Frame now = 0;
        EXPECT_TRUE(pair.receiver->now(now));
        const Frame capture_from = now + server.rate() / 4 + 3;
        constexpr std::size_t capture_frames = 10000;
        EXPECT_TRUE(pair.receiver->capture_audio(capture_from, capture_frames));
        constexpr std::uint64_t cycles = 500;
        EXPECT_TRUE(pair.receiver->wait_cycles(cycles, generous));
        pair.sender->generate_every(0);
        EXPECT_TRUE(pair.sender->wait_cycles(4, generous));
        pair.sender->drain();
        const auto sent = frames(pair.sender->sent());
        const bool all = wait_received(*pair.receiver, sent.size(), 5s);
        if (auto why = window.disturbance(); !why.empty()) {
            return why;
        }
        EXPECT_TRUE(all) << explain(*pair.sender, *pair.receiver);
        const auto received = frames(pair.receiver->received());
        EXPECT_GE(sent.size(), cycles * server.period() / every / 2);
        EXPECT_EQ(received, sent) << explain(*pair.sender, *pair.receiver);
        const auto in_gap = [&](Frame f) {
            return std::any_of(pair.sender->gaps().begin(), pair.sender->gaps().end(),
                               [&](const ProbeGap& g) { return f >= g.from && f < g.to; });
        };
        for (std::size_t i = 0; i < received.size(); ++i) {
            EXPECT_EQ((received[i] - 5) % every, 0) << received[i];
            if (i > 0) {
                // Nothing lost in between, except in frames no cycle covered.
                for (Frame f = received[i - 1] + every; f < received[i]; f += every) {
                    EXPECT_TRUE(in_gap(f)) << "note at " << f << " lost";
                }
            }
        }
        // Audio: the sender's ramp arrives with zero delay in every cycle of the window
        // (the receiver's first cycles ran before the sender existed).
        const auto c = pair.receiver->counters();
        EXPECT_GE(c.audio_cycles_ok - audio_ok_before, cycles);
        EXPECT_LT(c.audio_last_bad_frame, received.empty() ? 0 : received.front())
            << "a cycle with a wrong ramp during the run";
        EXPECT_EQ(c.audio_last_delay, 0);
        EXPECT_TRUE(pair.receiver->audio_captured());
        const auto& audio = pair.receiver->captured_audio();
        std::size_t wrong = 0;
        for (std::size_t k = 0; k < capture_frames; ++k) {
            const Frame f = capture_from + static_cast<Frame>(k);
            wrong += !in_gap(f) && audio[k] != ramp_value(f) ? 1 : 0;
        }
        EXPECT_EQ(wrong, 0U) << "samples not equal to the ramp at their frame";
        expect_clean_counters(*pair.sender);
        expect_clean_counters(*pair.receiver);
        std::printf("jack_midi[%s]: %zu notes over %llu cycles, all at their exact frames\n",
                    to_string(server.backend()), received.size(),
                    static_cast<unsigned long long>(c.cycles));
        return "";
    });
}

} // namespace
} // namespace lockstep::test
