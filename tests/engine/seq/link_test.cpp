// lockstep-seq's engine with Ableton Link (docs/seq.md, "Ableton Link"), offline against a
// synthetic session: a linear beat grid on JACK's microseconds that changes only when the
// test (as another peer) or the engine's requests (committed between cycles, as the control
// thread does) change it. Expected frames come from the exact reference map (rig.hpp) and
// from the session's grid, never from the engine's output.
#include "rig.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lockstep::seq::test {
namespace {

constexpr std::uint32_t rate = 48000;
constexpr Frame f0 = 480000;          // cycles of 480 frames start on whole microseconds
constexpr std::int64_t us0 = 5000000; // JACK time of frame 0
constexpr std::uint32_t period = 480;
constexpr double frames_per_us = rate / 1e6;

struct Request {
    bool tempo = false;
    bool playing = false;
    double bpm = 0;
    std::int64_t usecs = 0;
};

// A Link session with one other peer (the test). beat(t) = b0 + (t - t0) * bpm / 60e6.
class FakeLink final : public LinkSession {
public:
    FakeLink(double bpm, double t0, double b0) : live_{bpm, t0, b0, false, 0} {}

    // The other peer (or the control thread committing the engine's requests).
    void set_tempo(double bpm, double at) {
        live_.b0 = beat(live_, at);
        live_.t0 = at;
        live_.bpm = bpm;
    }
    void set_playing(bool on, double at) {
        live_.playing = on;
        live_.playing_at = at;
    }
    void commit_requests() {
        for (std::size_t i = 0; i < n_requests_; ++i) {
            const Request& r = requests_[i];
            if (r.tempo) {
                set_tempo(r.bpm, static_cast<double>(r.usecs));
            } else {
                set_playing(r.playing, static_cast<double>(r.usecs));
            }
            committed_.push_back(r);
        }
        n_requests_ = 0;
    }
    const std::vector<Request>& committed() const { return committed_; }
    double time_at(double b) const { return live_.t0 + (b - live_.b0) * 60e6 / live_.bpm; }
    double beat_now(double t) const { return beat(live_, t); }

    void capture() noexcept RT_NONBLOCKING override { snap_ = live_; }
    double tempo() const noexcept RT_NONBLOCKING override { return snap_.bpm; }
    bool playing() const noexcept RT_NONBLOCKING override { return snap_.playing; }
    std::int64_t playing_changed_at() const noexcept RT_NONBLOCKING override {
        return static_cast<std::int64_t>(std::llround(snap_.playing_at));
    }
    double beat_at(std::int64_t usecs) const noexcept RT_NONBLOCKING override {
        return beat(snap_, static_cast<double>(usecs));
    }
    double usecs_at_beat(double b) const noexcept RT_NONBLOCKING override {
        return snap_.t0 + (b - snap_.b0) * 60e6 / snap_.bpm;
    }
    // Fixed storage: the engine's requests never allocate on the audio thread.
    void request_tempo(double bpm, std::int64_t usecs) noexcept RT_NONBLOCKING override {
        if (n_requests_ < requests_.size()) {
            requests_[n_requests_++] = Request{true, false, bpm, usecs};
        }
    }
    void request_playing(bool on, std::int64_t usecs) noexcept RT_NONBLOCKING override {
        if (n_requests_ < requests_.size()) {
            requests_[n_requests_++] = Request{false, on, 0, usecs};
        }
    }

private:
    struct Grid {
        double bpm;
        double t0;
        double b0;
        bool playing;
        double playing_at;
    };
    static double beat(const Grid& g, double t) noexcept RT_NONBLOCKING {
        return g.b0 + (t - g.t0) * g.bpm / 60e6;
    }
    Grid live_;
    Grid snap_ = live_;
    std::array<Request, 64> requests_{};
    std::size_t n_requests_ = 0;
    std::vector<Request> committed_;
};

Model every_step_model() {
    Model m = default_model();
    for (int k = 0; k < 16; ++k) {
        m.pattern[0].grid[0][static_cast<std::size_t>(k)].on = true;
    }
    return m;
}

EngineOptions link_opts(FakeLink& link) {
    EngineOptions o;
    o.tempo = Bpm(120);
    o.link = &link;
    return o;
}

// Frames of the sync port's step messages (one per step, at the step's start).
std::vector<Frame> step_frames(const Rig& rig) {
    std::vector<Frame> v;
    for (const Event& e : rig.out(port_sync)) {
        if (e.bytes.size() > 2 && e.bytes[2] == 0x01) {
            v.push_back(e.frame);
        }
    }
    return v;
}

// Cycles of `period` frames from rig.next() to `end`; `between` runs after each cycle (the
// control thread's turn).
template <typename F>
void run_until(Rig& rig, Frame end, F between) {
    while (rig.next() < end) {
        rig.cycle(rig.next(), period);
        between();
    }
}

double frame_at_us(double us) {
    return (us - static_cast<double>(us0)) * frames_per_us;
}

// A seq started by /seq/play in a session whose bar line (beat 8) falls 12345.6 µs after
// the frame the play applies at: playing starts there (593 = ceil(12345.6 * 0.048)).
struct Started {
    FakeLink link{120, static_cast<double>(us0 + f0 * 1000 / 48) + 12345.6, 8};
    Rig rig{link_opts(link), every_step_model()};
    Frame origin = f0 + 593;
    Started() {
        rig.times(us0);
        rig.send(msg(ToEngineKind::play));
        rig.cycle(f0, period);
        link.commit_requests();
    }
};

TEST(SeqEngineLink, PlayStartsOnTheSessionsNextBarLineAndTellsThePeers) {
    Started s;
    run_until(s.rig, f0 + 2 * 96000, [&] { s.link.commit_requests(); });
    const auto got = step_frames(s.rig);
    ASSERT_EQ(got.size(), 32U);
    for (std::size_t k = 0; k < got.size(); ++k) {
        EXPECT_EQ(got[k], s.origin + static_cast<Frame>(k) * 6000) << k; // 120 BPM sixteenths
    }
    ASSERT_EQ(s.link.committed().size(), 1U);
    EXPECT_FALSE(s.link.committed()[0].tempo);
    EXPECT_TRUE(s.link.committed()[0].playing);
    EXPECT_EQ(s.link.committed()[0].usecs, std::llround(s.link.time_at(8)));
    EXPECT_EQ(s.rig.engine().counters().link_phase_corrections, 0U);
    EXPECT_EQ(s.rig.engine().counters().link_tempo_follows, 0U);
    EXPECT_EQ(s.rig.allocs().allocations, 0U);
}

TEST(SeqEngineLink, PeerTempoChangeLandsAtTheNextStepBoundaryExactly) {
    Started s;
    run_until(s.rig, f0 + 96000 + 2000, [&] { s.link.commit_requests(); });
    // The peer changes to 140 BPM keeping its beat at the next step boundary (bar 1, step
    // 1 = position 17/4, beat 8 + 17/4) where it is.
    const Position at(17, 4);
    s.link.set_tempo(140, s.link.time_at(8 + 17.0 / 4));
    run_until(s.rig, f0 + 4 * 96000, [&] { s.link.commit_requests(); });
    RefMap ref(rate, Bpm(120), s.origin);
    ref.change(at, Bpm(140));
    const auto got = step_frames(s.rig);
    ASSERT_GE(got.size(), 48U);
    for (std::size_t k = 0; k < got.size(); ++k) {
        EXPECT_EQ(got[k], ref.emitted(Position(static_cast<std::int64_t>(k), 4))) << k;
    }
    bool applied = false;
    for (const FromEngine& f : s.rig.feedback()) {
        if (f.kind == FromEngineKind::tempo_applied) {
            applied = true;
            EXPECT_EQ(f.position, at);
            EXPECT_EQ(f.bpm, Bpm(140));
        }
    }
    EXPECT_TRUE(applied);
    EXPECT_EQ(s.rig.engine().counters().link_tempo_follows, 1U);
    EXPECT_EQ(s.rig.engine().counters().link_phase_corrections, 0U);
    EXPECT_EQ(s.link.committed().size(), 1U); // only the start: a followed tempo is not led
    EXPECT_EQ(s.rig.allocs().allocations, 0U);
}

TEST(SeqEngineLink, PhaseIsPulledBackOntoTheSessionsGridAfterAMidStepChange) {
    Started s;
    const Frame change = f0 + 96000 + 2400; // a cycle start 2400 frames into step 16
    run_until(s.rig, change, [&] { s.link.commit_requests(); });
    s.link.set_tempo(140, static_cast<double>(s.rig.usecs(change)));
    run_until(s.rig, f0 + 8 * 96000, [&] { s.link.commit_requests(); });
    const auto got = step_frames(s.rig);
    ASSERT_GE(got.size(), 8U * 16U);
    // Up to the change's step boundary (step 17) and one step on: the exact map with the
    // change at the boundary (corrections start after it).
    RefMap ref(rate, Bpm(120), s.origin);
    ref.change(Position(17, 4), Bpm(140));
    for (std::size_t k = 0; k <= 18; ++k) {
        EXPECT_EQ(got[k], ref.emitted(Position(static_cast<std::int64_t>(k), 4))) << k;
    }
    EXPECT_GE(s.rig.engine().counters().link_phase_corrections, 1U);
    // From two bars after the change on, every step is within the tolerance (1 ms) of the
    // session's grid: step k on beat 8 + k/4.
    for (std::size_t k = 16 * 3; k < got.size(); ++k) {
        const double want = frame_at_us(s.link.time_at(8 + static_cast<double>(k) / 4));
        EXPECT_LE(std::fabs(static_cast<double>(got[k]) - want), 48.0 + 1.0) << k;
    }
    EXPECT_EQ(s.rig.engine().status().bpm, Bpm(140));
    EXPECT_EQ(s.rig.allocs().allocations, 0U);
}

TEST(SeqEngineLink, LocalTempoChangeLeadsTheSessionFromItsStepBoundary) {
    Started s;
    const Frame x = f0 + 96000 + 2400;
    run_until(s.rig, x, [&] { s.link.commit_requests(); });
    s.rig.send(tempo_msg(Bpm(150)));
    run_until(s.rig, f0 + 4 * 96000, [&] { s.link.commit_requests(); });
    RefMap ref(rate, Bpm(120), s.origin);
    ref.change(Position(17, 4), Bpm(150));
    const auto got = step_frames(s.rig);
    ASSERT_GE(got.size(), 48U);
    for (std::size_t k = 0; k < got.size(); ++k) {
        EXPECT_EQ(got[k], ref.emitted(Position(static_cast<std::int64_t>(k), 4))) << k;
    }
    ASSERT_EQ(s.link.committed().size(), 2U);
    const Request& r = s.link.committed()[1];
    EXPECT_TRUE(r.tempo);
    EXPECT_EQ(r.bpm, 150.0);
    // At the boundary's time, so the session's grid and the seq's agree from there on.
    const double boundary_us =
        static_cast<double>(us0) + static_cast<double>(s.origin + 6000 * 17) / frames_per_us;
    EXPECT_LE(std::fabs(static_cast<double>(r.usecs) - boundary_us), 1.0);
    EXPECT_EQ(s.rig.engine().counters().link_tempo_follows, 0U);
    EXPECT_EQ(s.rig.engine().counters().link_phase_corrections, 0U);
    EXPECT_EQ(s.rig.allocs().allocations, 0U);
}

TEST(SeqEngineLink, StartStopSyncFollowsThePeersAndTellsThem) {
    const double t_frame0 = static_cast<double>(us0 + f0 * 1000 / 48);
    FakeLink link(120, t_frame0 + 100000.0, 0); // beat 0 at 100 ms
    Rig rig(link_opts(link), every_step_model());
    rig.times(us0);
    run_until(rig, f0 + 9600, [&] { link.commit_requests(); });
    EXPECT_TRUE(step_frames(rig).empty());
    // The peer starts 1.3 beats after beat 0: the seq starts on the next bar line (beat 4).
    link.set_playing(true, link.time_at(1.3));
    run_until(rig, f0 + 4 * 96000, [&] { link.commit_requests(); });
    const Frame start = static_cast<Frame>(std::ceil(frame_at_us(link.time_at(4))));
    auto got = step_frames(rig);
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got[0], start);
    // The peer stops mid-step, a little ahead: the seq stops at that frame (MIDI stop on
    // `clock`).
    const double stop_us =
        link.time_at(std::floor(link.beat_now(static_cast<double>(rig.usecs(rig.next())))) + 2.3);
    link.set_playing(false, stop_us);
    run_until(rig, f0 + 6 * 96000, [&] { link.commit_requests(); });
    const Frame stop = static_cast<Frame>(std::ceil(frame_at_us(stop_us)));
    bool stopped = false;
    for (const Event& e : rig.out(port_clock)) {
        if (e.bytes == std::vector<std::uint8_t>{0xFC}) {
            stopped = true;
            EXPECT_EQ(e.frame, stop);
        }
    }
    EXPECT_TRUE(stopped);
    got = step_frames(rig);
    EXPECT_LT(got.back(), stop);
    EXPECT_FALSE(rig.engine().status().playing);
    EXPECT_TRUE(link.committed().empty()); // following is not leading
    // Now the seq leads: /seq/play starts the peers at the next bar line, /seq/stop stops.
    rig.send(msg(ToEngineKind::play));
    run_until(rig, rig.next() + 96000, [&] { link.commit_requests(); });
    rig.send(msg(ToEngineKind::stop));
    const Frame stop_frame = rig.next();
    run_until(rig, rig.next() + 4800, [&] { link.commit_requests(); });
    ASSERT_EQ(link.committed().size(), 2U);
    EXPECT_TRUE(link.committed()[0].playing);
    const double b = link.beat_now(link.committed()[0].usecs);
    EXPECT_NEAR(b - 4 * std::round(b / 4), 0, 1e-6); // a bar line
    EXPECT_FALSE(link.committed()[1].playing);
    EXPECT_EQ(link.committed()[1].usecs, rig.usecs(stop_frame));
    EXPECT_EQ(rig.allocs().allocations, 0U);
}

} // namespace
} // namespace lockstep::seq::test
