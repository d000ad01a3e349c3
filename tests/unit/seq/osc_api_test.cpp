// lockstep-seq's OSC API on a real Endpoint (free port) driven by a test peer, with a fake
// engine link that records ToEngine messages and injects FromEngine feedback.
#include "osc_api.hpp"

#include "harness/osc_peer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace lockstep::seq {
namespace {

using namespace std::chrono_literals;
using osc::Arg;
using osc::Message;

struct FakeEngine final : EngineLink {
    explicit FakeEngine(Published<Model>& m) : model(m) {}
    bool send(const ToEngine& message) override {
        if (full) {
            return false;
        }
        sent.push_back(message);
        Published<Model>::Reader r(model); // what the audio thread would see now
        model_at_send.push_back(*r);
        return true;
    }
    bool receive(FromEngine& out) override {
        if (feedback.empty()) {
            return false;
        }
        out = feedback.front();
        feedback.pop_front();
        return true;
    }
    EngineStatus status() const override { return st; }
    EngineCounters counters() const override { return counters_; }

    Published<Model>& model;
    bool full = false;
    std::vector<ToEngine> sent;
    std::vector<Model> model_at_send;
    std::deque<FromEngine> feedback;
    EngineStatus st;
    EngineCounters counters_;
};

Message m(std::string path, std::vector<Arg> args = {}) {
    return Message(std::move(path), std::move(args));
}
Arg i(int v) {
    return Arg::int32(v);
}

osc::Endpoint::Config config() {
    osc::Endpoint::Config c;
    c.default_port = 0;
    c.mapper = [](std::uint64_t) { return std::optional<std::int64_t>(123456); };
    return c;
}

class SeqOsc : public ::testing::Test {
protected:
    explicit SeqOsc(OscApi::Options options = {}, State initial = {})
        : model_(std::make_unique<const Model>(initial.model)), engine_(model_),
          api_(endpoint_, engine_, model_, initial, std::move(options)),
          peer_(endpoint_.local_address().port()) {}

    // Sends `message`, then /ping, runs the endpoint until /pong and returns what came back
    // in between (replies, errors, notifications).
    std::vector<Message> exchange(const Message& message) {
        peer_.send(message);
        return until_pong();
    }
    std::vector<Message> exchange_bytes(const std::vector<std::uint8_t>& bytes) {
        peer_.send_bytes(bytes);
        return until_pong();
    }
    std::vector<Message> until_pong() {
        api_.poll(); // feedback already queued goes out before the /pong
        peer_.send(m("/ping"));
        std::vector<Message> got;
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (std::chrono::steady_clock::now() < deadline) {
            endpoint_.run_once(20ms);
            api_.poll();
            while (auto r = peer_.receive(0ms)) {
                if (r->path == "/pong") {
                    return got;
                }
                got.push_back(*r);
            }
        }
        ADD_FAILURE() << "no /pong";
        return got;
    }
    void subscribe() { EXPECT_TRUE(exchange(m("/subscribe")).empty()); }

    Model published() {
        Published<Model>::Reader r(model_);
        return *r;
    }
    static std::vector<Message> with_path(const std::vector<Message>& all, const std::string& p) {
        std::vector<Message> out;
        for (const auto& x : all) {
            if (x.path == p) {
                out.push_back(x);
            }
        }
        return out;
    }
    // Expects exactly one /error for `message` with `reason` in it, and no change at all.
    void expect_refused(const Message& message, const std::string& reason) {
        const Model before = published();
        const auto rev = api_.revision();
        const auto sent = engine_.sent.size();
        const auto got = exchange(message);
        ASSERT_EQ(got.size(), 1U) << osc::to_string(message);
        EXPECT_EQ(got[0].path, "/error");
        ASSERT_EQ(got[0].args.size(), 2U);
        EXPECT_EQ(got[0].args[0].s(), message.path);
        EXPECT_NE(got[0].args[1].s().find(reason), std::string::npos)
            << osc::to_string(message) << " -> " << got[0].args[1].s();
        EXPECT_EQ(api_.revision(), rev);
        EXPECT_EQ(engine_.sent.size(), sent);
        EXPECT_TRUE(published() == before);
        EXPECT_TRUE(api_.state().model == before);
    }

    osc::Endpoint endpoint_{config()};
    Published<Model> model_;
    FakeEngine engine_;
    OscApi api_;
    test::OscPeer peer_;
};

TEST_F(SeqOsc, StepOnSelectedPatternIsPublishedAndNotified) {
    subscribe();
    const auto got = exchange(m("/seq/step", {i(2), i(5), i(1)}));
    ASSERT_EQ(got.size(), 1U);
    EXPECT_EQ(got[0], m("/seq/step", {i(0), i(2), i(5), i(1)})) << osc::to_string(got[0]);
    EXPECT_TRUE(published().pattern[0].grid[2][5].on);
    EXPECT_EQ(api_.revision(), 1U);
    // The same value again changes nothing and says nothing.
    EXPECT_TRUE(exchange(m("/seq/step", {i(2), i(5), i(1)})).empty());
    EXPECT_EQ(api_.revision(), 1U);
}

TEST_F(SeqOsc, ExplicitPatternFormAndSelect) {
    subscribe();
    exchange(m("/seq/step/velocity", {i(7), i(1), i(63), i(17)}));
    EXPECT_EQ(published().pattern[7].grid[1][63].velocity, 17);
    EXPECT_EQ(published().pattern[0].grid[1][63].velocity, 100);
    const auto got = exchange(m("/seq/pattern/select", {i(7)}));
    ASSERT_EQ(got.size(), 1U);
    EXPECT_EQ(got[0], m("/seq/pattern/select", {i(7)}));
    exchange(m("/seq/step/micro", {i(1), i(63), i(-48)})); // now on pattern 7
    EXPECT_EQ(published().pattern[7].grid[1][63].micro, -48);
    EXPECT_EQ(published().selected, 7);
}

TEST_F(SeqOsc, EveryStepFieldWithItsRange) {
    struct F {
        const char* path;
        int lo, hi;
    };
    for (const F f : {F{"/seq/step", 0, 1}, F{"/seq/step/velocity", 1, 127},
                      F{"/seq/step/probability", 0, 100}, F{"/seq/step/ratchet", 1, 8},
                      F{"/seq/step/micro", -48, 48}, F{"/seq/step/layers", 0, 15}}) {
        SCOPED_TRACE(f.path);
        for (const int v : {f.lo, f.hi}) {
            EXPECT_TRUE(with_path(exchange(m(f.path, {i(3), i(4), i(v)})), "/error").empty());
            EXPECT_TRUE(with_path(exchange(m(f.path, {i(9), i(3), i(4), i(v)})), "/error").empty());
        }
        expect_refused(m(f.path, {i(3), i(4), i(f.lo - 1)}), "out of range");
        expect_refused(m(f.path, {i(3), i(4), i(f.hi + 1)}), "out of range");
        expect_refused(m(f.path, {i(32), i(4), i(f.lo)}), "argument 1 out of range");
        expect_refused(m(f.path, {i(3), i(64), i(f.lo)}), "argument 2 out of range");
        expect_refused(m(f.path, {i(64), i(3), i(4), i(f.lo)}), "argument 1 out of range");
        expect_refused(m(f.path, {i(3), i(4), Arg::float32(1)}), "wrong types");
        expect_refused(m(f.path, {i(3), i(4)}), "wrong types");
    }
    const Step& s = api_.state().model.pattern[9].grid[3][4];
    EXPECT_EQ(s, (Step{true, 127, 100, 8, 48, 15}));
}

TEST_F(SeqOsc, PatternLengthBeatsSwingCopyClear) {
    subscribe();
    exchange(m("/seq/pattern/length", {i(12)}));
    auto got = exchange(m("/seq/pattern/beats", {i(8), i(6)}));
    ASSERT_EQ(got.size(), 1U);
    EXPECT_EQ(got[0], m("/seq/pattern/beats", {i(0), i(4), i(3)})) << "reduced";
    got = exchange(m("/seq/swing", {Arg::float32(0.5F)}));
    ASSERT_EQ(got.size(), 1U);
    EXPECT_EQ(got[0], m("/seq/swing", {i(0), Arg::float32(0.5F)}));
    exchange(m("/seq/swing", {i(2), Arg::float32(0.0125F)}));
    EXPECT_EQ(published().pattern[2].swing, 13) << "read to 1/1000";
    exchange(m("/seq/step", {i(1), i(1), i(1)}));
    const Pattern p0 = published().pattern[0];
    EXPECT_EQ(p0.steps, 12);
    EXPECT_EQ(p0.length(), Rational(4, 3));
    EXPECT_EQ(p0.swing, 500);
    got = exchange(m("/seq/pattern/copy", {i(0), i(5)}));
    EXPECT_EQ(with_path(got, "/seq/step"), (std::vector{m("/seq/step", {i(5), i(1), i(1), i(1)})}));
    EXPECT_EQ(published().pattern[5], p0);
    got = exchange(m("/seq/pattern/clear", {i(5)}));
    EXPECT_EQ(got, (std::vector{m("/seq/step", {i(5), i(1), i(1), i(0)})}));
    EXPECT_EQ(published().pattern[5].steps, 12) << "clear keeps the length";
    EXPECT_TRUE(published().pattern[0].grid[1][1].on);
    expect_refused(m("/seq/pattern/length", {i(0)}), "out of range");
    expect_refused(m("/seq/pattern/length", {i(65)}), "out of range");
    expect_refused(m("/seq/pattern/beats", {i(0), i(1)}), "out of range");
    expect_refused(m("/seq/pattern/beats", {i(1), i(6145)}), "out of range");
    expect_refused(m("/seq/swing", {Arg::float32(1.01F)}), "out of range");
    expect_refused(m("/seq/swing", {Arg::float32(std::nanf(""))}), "finite");
    expect_refused(m("/seq/pattern/select", {i(64)}), "out of range");
    expect_refused(m("/seq/pattern/copy", {i(0), i(64)}), "out of range");
    expect_refused(m("/seq/pattern/clear", {i(64)}), "out of range");
}

TEST_F(SeqOsc, Tracks) {
    subscribe();
    EXPECT_EQ(exchange(m("/seq/tracks", {i(32)})), (std::vector{m("/seq/tracks", {i(32)})}));
    EXPECT_EQ(exchange(m("/seq/track/channel", {i(31), i(1)})),
              (std::vector{m("/seq/track/channel", {i(31), i(1)})}));
    exchange(m("/seq/track/note", {i(31), i(3), i(127)}));
    exchange(m("/seq/track/note", {i(31), i(0), i(-1)}));
    exchange(m("/seq/track/gate", {i(31), i(96)}));
    exchange(m("/seq/track/mute", {i(31), i(1)}));
    exchange(m("/seq/track/solo", {i(30), i(1)}));
    const Model p = published();
    EXPECT_EQ(p.tracks, 32);
    EXPECT_EQ(p.track[31], (Track{0, {-1, -1, -1, 127}, 96, true, false}));
    EXPECT_TRUE(p.track[30].solo);
    expect_refused(m("/seq/tracks", {i(0)}), "out of range");
    expect_refused(m("/seq/tracks", {i(33)}), "out of range");
    expect_refused(m("/seq/track/channel", {i(0), i(0)}), "out of range");
    expect_refused(m("/seq/track/channel", {i(0), i(17)}), "out of range");
    expect_refused(m("/seq/track/note", {i(0), i(4), i(1)}), "out of range");
    expect_refused(m("/seq/track/note", {i(0), i(0), i(128)}), "out of range");
    expect_refused(m("/seq/track/note", {i(0), i(0), i(-2)}), "out of range");
    expect_refused(m("/seq/track/gate", {i(0), i(0)}), "out of range");
    expect_refused(m("/seq/track/gate", {i(0), i(97)}), "out of range");
    expect_refused(m("/seq/track/mute", {i(0), i(2)}), "out of range");
    expect_refused(m("/seq/track/solo", {i(32), i(0)}), "out of range");
    expect_refused(m("/seq/track/mute", {i(0), Arg::boolean(true)}), "wrong types");
}

TEST_F(SeqOsc, SongAndChain) {
    subscribe();
    exchange(m("/seq/song", {i(1)}));
    exchange(m("/seq/song/loop", {i(0)}));
    auto got = exchange(m("/seq/chain/set", {i(0), i(3), i(2)})); // appends
    EXPECT_EQ(got, (std::vector{m("/seq/chain/length", {i(1)}),
                                m("/seq/chain/set", {i(0), i(3), i(2)})}));
    exchange(m("/seq/chain/insert", {i(0), i(4)})); // repeats default 1
    exchange(m("/seq/chain/insert", {i(2), i(5), i(64)}));
    Song s = published().song;
    ASSERT_EQ(s.length, 3);
    EXPECT_EQ(s.chain[0], (ChainSlot{4, 1}));
    EXPECT_EQ(s.chain[1], (ChainSlot{3, 2}));
    EXPECT_EQ(s.chain[2], (ChainSlot{5, 64}));
    EXPECT_TRUE(s.enabled);
    EXPECT_FALSE(s.loop);
    got = exchange(m("/seq/chain/remove", {i(0)}));
    EXPECT_EQ(got,
              (std::vector{m("/seq/chain/length", {i(2)}), m("/seq/chain/set", {i(0), i(3), i(2)}),
                           m("/seq/chain/set", {i(1), i(5), i(64)})}));
    s = published().song;
    EXPECT_EQ(s.length, 2);
    EXPECT_EQ(s.chain[2], ChainSlot{}) << "slots past the end are reset";
    expect_refused(m("/seq/chain/set", {i(3), i(0)}), "past the chain's end (length 2)");
    expect_refused(m("/seq/chain/remove", {i(2)}), "past the chain's end");
    expect_refused(m("/seq/chain/insert", {i(3), i(0)}), "past the chain's end");
    expect_refused(m("/seq/chain/set", {i(0), i(64)}), "out of range");
    expect_refused(m("/seq/chain/set", {i(0), i(1), i(65)}), "out of range");
    expect_refused(m("/seq/chain/set", {i(0), i(1), i(0)}), "out of range");
    expect_refused(m("/seq/chain/length", {i(129)}), "out of range");
    exchange(m("/seq/chain/length", {i(128)}));
    EXPECT_EQ(published().song.length, 128);
    EXPECT_EQ(published().song.chain[127], ChainSlot{});
    expect_refused(m("/seq/chain/insert", {i(0), i(1)}), "chain full");
    exchange(m("/seq/chain/clear"));
    EXPECT_EQ(published().song.length, 0);
    EXPECT_EQ(published().song.chain[0], ChainSlot{});
}

TEST_F(SeqOsc, BadInputChangesNothing) {
    expect_refused(m("/seq/nope"), "unknown path");
    expect_refused(m("/seq/step/*", {i(0), i(0), i(1)}), "unknown path");
    expect_refused(m("/seq/play", {i(1)}), "wrong types");
    expect_refused(m("/seq/tempo", {i(120)}), "wrong types");
    expect_refused(m("/seq/tempo", {Arg::float32(19.9F)}), "out of range");
    expect_refused(m("/seq/tempo", {Arg::float32(1000)}), "out of range");
    expect_refused(m("/seq/tempo", {Arg::float32(std::nanf(""))}), "finite");
    expect_refused(m("/seq/tempo", {Arg::string("fast")}), "decimal or a fraction");
    expect_refused(m("/seq/tempo", {Arg::string("1000")}), "out of range");
    expect_refused(m("/seq/tempo", {Arg::string("120.0000000001")}), "precise");
    expect_refused(m("/seq/tempo/at", {i(1), i(0), Arg::float32(120)}), "out of range");
    expect_refused(m("/seq/tempo/at", {i(-1), i(1), Arg::float32(120)}), "out of range");
    expect_refused(m("/seq/tempo/at", {i(1), i(1), Arg::string("x")}), "decimal");
    expect_refused(m("/seq/locate", {i(-1)}), "out of range");
    expect_refused(m("/seq/locate", {i(1), i(0)}), "out of range");
    // A bundle with one bad message runs none of its messages.
    const auto good = osc::encode(m("/seq/step", {i(0), i(0), i(1)}));
    const auto bad = osc::encode(m("/seq/step", {i(0), i(0), i(2)}));
    const std::vector<std::vector<std::uint8_t>> elements{good, bad};
    const auto got = exchange_bytes(osc::encode_bundle(osc::kImmediate, elements));
    EXPECT_EQ(with_path(got, "/error").size(), 1U);
    EXPECT_FALSE(published().pattern[0].grid[0][0].on);
    EXPECT_EQ(api_.revision(), 0U);
    // Garbage: refused, nothing changes.
    const std::vector<std::uint8_t> garbage{'/', 's', 'e', 'q', 0, 0, 0};
    EXPECT_EQ(with_path(exchange_bytes(garbage), "/error").size(), 1U);
    EXPECT_EQ(api_.revision(), 0U);
    EXPECT_TRUE(engine_.sent.empty());
}

TEST_F(SeqOsc, TempoGoesToTheEngineExactly) {
    subscribe();
    auto got = exchange(m("/seq/tempo", {Arg::float32(137.3F)}));
    ASSERT_EQ(engine_.sent.size(), 1U);
    EXPECT_EQ(engine_.sent[0].kind, ToEngineKind::tempo);
    EXPECT_EQ(engine_.sent[0].bpm, Bpm(1373, 10));
    EXPECT_FALSE(engine_.sent[0].has_position);
    EXPECT_EQ(engine_.sent[0].frame, asap);
    EXPECT_EQ(api_.state().tempo, Bpm(1373, 10));
    EXPECT_EQ(got, (std::vector{m("/seq/tempo", {Arg::float32(137.3F)})})) << "stopped: at once";
    exchange(m("/seq/tempo", {Arg::string("1000/7")}));
    EXPECT_EQ(engine_.sent.back().bpm, Bpm(1000, 7));
    exchange(m("/seq/tempo/at", {i(33), i(2), Arg::string("90.5")}));
    EXPECT_EQ(engine_.sent.back().kind, ToEngineKind::tempo);
    EXPECT_TRUE(engine_.sent.back().has_position);
    EXPECT_EQ(engine_.sent.back().position, Position(33, 2));
    EXPECT_EQ(engine_.sent.back().bpm, Bpm(181, 2));
    EXPECT_EQ(api_.state().tempo, Bpm(1000, 7)) << "scheduled changes are not the saved tempo";
    exchange(m("/seq/tempo/clear"));
    EXPECT_EQ(engine_.sent.back().kind, ToEngineKind::clear_tempo);
    exchange(m("/seq/locate", {i(3), i(4)}));
    EXPECT_EQ(engine_.sent.back().kind, ToEngineKind::locate);
    EXPECT_EQ(engine_.sent.back().position, Position(3, 4));
    // Full queue: refused, the saved tempo stays.
    engine_.full = true;
    got = exchange(m("/seq/tempo", {Arg::float32(100)}));
    ASSERT_EQ(with_path(got, "/error").size(), 1U);
    EXPECT_EQ(with_path(got, "/error")[0].args[1].s(), "engine queue full");
    EXPECT_EQ(api_.state().tempo, Bpm(1000, 7));
}

TEST_F(SeqOsc, PlaySeesTheEditsSentBeforeIt) {
    // One bundle: select pattern 3, then play. The engine must get the new model first.
    const std::vector<std::vector<std::uint8_t>> elements{
        osc::encode(m("/seq/pattern/select", {i(3)})), osc::encode(m("/seq/play"))};
    exchange_bytes(osc::encode_bundle(osc::kImmediate, elements));
    ASSERT_EQ(engine_.sent.size(), 1U);
    EXPECT_EQ(engine_.sent[0].kind, ToEngineKind::play);
    EXPECT_EQ(engine_.model_at_send[0].selected, 3);
    exchange(m("/seq/stop"));
    EXPECT_EQ(engine_.sent.back().kind, ToEngineKind::stop);
}

TEST_F(SeqOsc, TimetaggedBundleCarriesItsFrame) {
    const auto when = osc::ntp_now() + osc::ntp_from_ns(200'000'000);
    const std::vector<std::vector<std::uint8_t>> elements{osc::encode(m("/seq/play"))};
    peer_.send_bytes(osc::encode_bundle(when, elements));
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (engine_.sent.empty() && std::chrono::steady_clock::now() < deadline) {
        endpoint_.run_once(20ms);
        api_.poll();
    }
    ASSERT_EQ(engine_.sent.size(), 1U);
    EXPECT_EQ(engine_.sent[0].frame, 123456);
}

TEST_F(SeqOsc, EngineFeedbackReachesSubscribers) {
    subscribe();
    FromEngine f;
    f.kind = FromEngineKind::started;
    engine_.feedback.push_back(f);
    f.kind = FromEngineKind::step;
    f.pattern = 2;
    f.step = 7;
    engine_.feedback.push_back(f);
    f.kind = FromEngineKind::tempo_applied;
    f.bpm = Bpm(140);
    engine_.feedback.push_back(f);
    f.kind = FromEngineKind::tempo_refused;
    f.reason = Reason::bad_position;
    engine_.feedback.push_back(f);
    f.kind = FromEngineKind::stopped;
    f.reason = Reason::empty_chain;
    engine_.feedback.push_back(f);
    const auto got = until_pong();
    ASSERT_EQ(got.size(), 6U);
    EXPECT_EQ(got[0], m("/seq/play"));
    EXPECT_EQ(got[1], m("/seq/position", {i(2), i(7)}));
    EXPECT_EQ(got[2], m("/seq/tempo", {Arg::float32(140)}));
    EXPECT_EQ(got[3].path, "/seq/error");
    EXPECT_EQ(got[3].args[0].s(), "/seq/tempo");
    EXPECT_EQ(got[4], m("/seq/stop"));
    EXPECT_EQ(got[5].path, "/seq/error");
    EXPECT_EQ(got[5].args[0].s(), "/seq/play");
    EXPECT_FALSE(api_.playing());
}

TEST_F(SeqOsc, QueryDumpsTheState) {
    exchange(m("/seq/step/ratchet", {i(4), i(1), i(9), i(3)}));
    exchange(m("/seq/chain/set", {i(0), i(4), i(2)}));
    exchange(m("/seq/tempo", {Arg::string("1000/7")}));
    const auto got = exchange(m("/query"));
    const auto has = [&](const Message& want) {
        for (const auto& x : got) {
            if (x == want) {
                return true;
            }
        }
        return false;
    };
    EXPECT_TRUE(has(m("/seq/stop")));
    EXPECT_TRUE(has(m("/seq/tempo/exact", {Arg::string("1000/7")})));
    EXPECT_TRUE(has(m("/seq/tracks", {i(8)})));
    EXPECT_TRUE(has(m("/seq/track/note", {i(7), i(0), i(43)})));
    EXPECT_TRUE(has(m("/seq/track/channel", {i(0), i(10)})));
    EXPECT_TRUE(has(m("/seq/pattern/length", {i(4), i(16)})));
    EXPECT_TRUE(has(m("/seq/step/ratchet", {i(4), i(1), i(9), i(3)})));
    EXPECT_TRUE(has(m("/seq/chain/length", {i(1)})));
    EXPECT_TRUE(has(m("/seq/chain/set", {i(0), i(4), i(2)})));
    EXPECT_TRUE(has(m("/seq/counter", {Arg::string("cycles"), Arg::int64(0)})));
    EXPECT_FALSE(has(m("/seq/pattern/length", {i(5), i(16)}))) << "blank patterns are left out";
    // The dump is exactly what dump() produces (same messages, same order).
    std::vector<Message> direct;
    api_.dump([&](const Message& x) { direct.push_back(x); });
    EXPECT_EQ(got.size(), direct.size());
}

class SeqOscFollow : public SeqOsc {
protected:
    static OscApi::Options options(std::vector<bool>& calls) {
        OscApi::Options o;
        o.transport = TransportMode::follow;
        o.jack_transport = [&calls](bool start) {
            calls.push_back(start);
            return true;
        };
        return o;
    }
    SeqOscFollow() : SeqOsc(options(calls_)) {}
    std::vector<bool> calls_;
};

TEST_F(SeqOscFollow, PlayAndStopGoToJackTransportOnly) {
    exchange(m("/seq/play"));
    exchange(m("/seq/stop"));
    EXPECT_EQ(calls_, (std::vector<bool>{true, false}));
    EXPECT_TRUE(engine_.sent.empty());
}

TEST(SeqOscStart, StartsFromTheGivenState) {
    State s;
    s.model = demo_model();
    s.tempo = Bpm(90);
    osc::Endpoint endpoint(config());
    Published<Model> model(std::make_unique<const Model>(s.model));
    FakeEngine engine(model);
    OscApi api(endpoint, engine, model, s);
    EXPECT_EQ(api.state(), s);
    std::vector<Message> dump;
    api.dump([&](const Message& x) { dump.push_back(x); });
    EXPECT_NE(std::find(dump.begin(), dump.end(), m("/seq/step", {i(0), i(2), i(0), i(1)})),
              dump.end());
}

} // namespace
} // namespace lockstep::seq
