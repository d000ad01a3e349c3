// lockstep-seq engine and JACK transport: follow (start, locate, stop from Cycle::transport)
// and master (BBT from timebase()). Also the Timeline's RT helpers the engine relies on.
#include "expect.hpp"
#include "rig.hpp"

#include <gtest/gtest.h>

namespace lockstep::seq::test {
namespace {

constexpr std::uint32_t rate = 48000;
const Bpm bpm137(137);

Model sixteenths() {
    Model m = default_model();
    for (int k = 0; k < 16; ++k) {
        Step& s = m.pattern[0].grid[0][static_cast<std::size_t>(k)];
        s.on = true;
        s.velocity = static_cast<std::uint8_t>(20 + k);
    }
    return m;
}

std::vector<Hit> hits16(int instances) {
    std::vector<Hit> v;
    for (int i = 0; i < instances; ++i) {
        for (int k = 0; k < 16; ++k) {
            const Position on = Position(4 * i) + Position(k, 4);
            v.push_back(Hit{0, 0, 9, 36, 20 + k, on, on + Position(1, 8)});
        }
    }
    return v;
}

// The note-off a stop or locate at `cut` sends for a note sounding then.
void add_cut(std::vector<Event>& v, const std::vector<Hit>& hits, const RefMap& ref, Frame cut,
             Frame from) {
    for (const Hit& h : hits) {
        const Frame on = ref.emitted(h.on);
        if (on >= from && on < cut && ref.emitted(h.off) >= cut) {
            v.push_back(note_off(cut, 9, 36));
        }
    }
}

jack::Transport rolling(std::uint32_t frame) {
    return jack::Transport{true, jack::TransportState::rolling, frame};
}
jack::Transport stopped(std::uint32_t frame) {
    return jack::Transport{true, jack::TransportState::stopped, frame};
}

TEST(SeqEngineTransport, FollowStartsLocatesAndStops) {
    EngineOptions o;
    o.tempo = bpm137;
    o.transport = TransportMode::follow;
    Rig rig(o, sixteenths());
    rig.send(msg(ToEngineKind::play)); // ignored: JACK transport decides
    const std::uint32_t n = 256;
    Frame f = 1000000;
    for (int i = 0; i < 10; ++i, f += n) {
        rig.cycle(f, n, stopped(0));
    }
    EXPECT_TRUE(rig.out(port_out).empty());
    const Frame gs = f; // transport rolls from transport frame 0
    const Frame gl = gs + 256 * 300;
    for (; f < gl; f += n) {
        rig.cycle(f, n, rolling(static_cast<std::uint32_t>(f - gs)));
    }
    const std::uint32_t t2 = 100000; // locate while rolling
    const Frame gx = gl + 256 * 400;
    for (; f < gx; f += n) {
        rig.cycle(f, n, rolling(static_cast<std::uint32_t>(t2 + (f - gl))));
    }
    for (int i = 0; i < 10; ++i, f += n) {
        rig.cycle(f, n, stopped(static_cast<std::uint32_t>(t2 + (gx - gl))));
    }
    const auto hits = hits16(6);
    const RefMap a(rate, bpm137, gs);
    std::vector<Event> want = expected(hits, a, gl);
    add_cut(want, hits, a, gl, gs);
    const RefMap b(rate, bpm137, gl - t2); // transport frame 0 = position 0
    const auto after = expected(hits, b, gx, gl);
    want.insert(want.end(), after.begin(), after.end());
    add_cut(want, hits, b, gx, gl);
    EXPECT_EQ(notes(rig.out(port_out)), want);
    EXPECT_EQ(rig.allocs().allocations, 0U);

    const auto& clock = rig.out(port_clock);
    ASSERT_FALSE(clock.empty());
    EXPECT_EQ(clock.front(), (Event{gs, {0xFA}}));
    EXPECT_EQ(clock.back(), (Event{gx, {0xFC}}));
    // Locate: song position pointer (in 16ths) of the first tick at or after transport t2.
    std::int64_t tick = 0;
    while (RefMap(rate, bpm137, 0).emitted(Position(tick, 24)) < t2) {
        ++tick;
    }
    const auto spp = tick / 6;
    const Event sp{
        gl, {0xF2, static_cast<std::uint8_t>(spp & 0x7F), static_cast<std::uint8_t>(spp >> 7)}};
    EXPECT_NE(std::find(clock.begin(), clock.end(), sp), clock.end());
    EXPECT_FALSE(rig.engine().status().playing);
}

TEST(SeqEngineTransport, MasterPublishesExactBbt) {
    EngineOptions o;
    o.tempo = bpm137;
    o.transport = TransportMode::master;
    Rig rig(o, sixteenths());
    jack::Bbt bbt;
    EXPECT_FALSE(rig.engine().timebase(0, bbt)); // no cycle yet: no rate
    rig.send(tempo_at_msg(6, 150));
    rig.cycle(5000, 128, stopped(0));
    RefMap ref(rate, bpm137, 0);
    ref.change(6, 150);
    const cpp_rational change_frame = ref.ideal(6);
    for (const std::uint32_t tf :
         {0U, 1U, 21021U, 21022U, 84087U, 126131U, 126132U, 130000U, 1000000U, 4000000000U}) {
        // Position at tf from the reference: invert the piecewise map exactly.
        const cpp_rational x(tf);
        cpp_rational pos;
        if (x < change_frame) {
            pos = x * 137 / (60 * rate);
        } else {
            pos = cpp_rational(6) + (x - change_frame) * 150 / (60 * rate);
        }
        const cpp_rational scaled = pos * 1920;
        const auto ticks = static_cast<std::int64_t>(cpp_int(
            boost::multiprecision::numerator(scaled) / boost::multiprecision::denominator(scaled)));
        ASSERT_TRUE(rig.engine().timebase(tf, bbt)) << tf;
        EXPECT_EQ(bbt.bar, ticks / (4 * 1920) + 1) << tf;
        EXPECT_EQ(bbt.beat, (ticks / 1920) % 4 + 1) << tf;
        EXPECT_EQ(bbt.tick, ticks % 1920) << tf;
        EXPECT_EQ(bbt.bar_start_tick, static_cast<double>((ticks / (4 * 1920)) * 4 * 1920)) << tf;
        EXPECT_EQ(bbt.ticks_per_beat, 1920.0);
        EXPECT_EQ(bbt.beats_per_bar, 4.0F);
        EXPECT_EQ(bbt.beats_per_minute, x < change_frame ? 137.0 : 150.0) << tf;
    }
    // Master mode also follows JACK transport's rolling state.
    rig.cycle(5128, 128, rolling(0));
    EXPECT_TRUE(rig.engine().status().playing);
    EXPECT_EQ(rig.out(port_out).front(), note_on(5128, 9, 36, 20));
    // Internal mode is never timebase master.
    Rig internal(EngineOptions{}, sixteenths());
    internal.cycle(0, 64);
    EXPECT_FALSE(internal.engine().timebase(0, bbt));
}

TEST(SeqEngineTimeline, ResetAndTruncateOnTheAudioThread) {
    Timeline t(48000, 120);
    t.reserve(8);
    ASSERT_EQ(t.set_tempo_at(4, 140), Timeline::Status::ok);
    ASSERT_EQ(t.set_tempo_at(8, 100), Timeline::Status::ok);
    const Frame at6 = t.emitted_frame(6);
    Timeline::Status st = Timeline::Status::bad_tempo;
    LOCKSTEP_EXPECT_NO_ALLOC(t.truncate_from_rt(8));
    EXPECT_EQ(t.segments().size(), 2U);
    EXPECT_EQ(t.emitted_frame(6), at6);
    EXPECT_EQ(t.tempo_at(9), Bpm(140));
    LOCKSTEP_EXPECT_NO_ALLOC(t.truncate_from_rt(0)); // never the first segment
    EXPECT_EQ(t.segments().size(), 1U);
    LOCKSTEP_EXPECT_NO_ALLOC(st = t.reset_rt(44100, Bpm(1000, 7), 123, Position(1, 2)));
    EXPECT_EQ(st, Timeline::Status::ok);
    const Timeline fresh(44100, Bpm(1000, 7), 123, Position(1, 2));
    for (const Position p : {Position(0), Position(1, 2), Position(7, 3), Position(1000)}) {
        EXPECT_EQ(t.emitted_frame(p), fresh.emitted_frame(p));
    }
    EXPECT_EQ(t.reset_rt(0, 120, 0), Timeline::Status::bad_tempo);
    EXPECT_EQ(t.reset_rt(48000, 0, 0), Timeline::Status::bad_tempo);
    EXPECT_EQ(t.rate(), 44100U); // unchanged by the refused resets
}

} // namespace
} // namespace lockstep::seq::test
