// lockstep-seq engine under a stream of model edits: 1,000 random versions published while
// playing, and every note-on that comes out must be a hit of one step as some single
// published version held it (no step mixes two versions), with no allocation in process().
#include "rig.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace lockstep::seq::test {
namespace {

constexpr std::uint32_t rate = 48000;
constexpr int tracks = 8;
constexpr int versions = 1000;

// Every step of version v carries velocity v % 127 + 1, so a note-on names its version
// among any 127 consecutive ones.
int velocity_of(int v) {
    return v % 127 + 1;
}

void randomize(Model& m, int v, std::mt19937& rng) {
    auto& grid = m.pattern[0].grid;
    const int edits = v == 0 ? 64 : 6;
    for (int e = 0; e < edits; ++e) {
        Step& s = grid[rng() % tracks][rng() % 16];
        s.on = rng() % 4 != 0;
        s.ratchet = static_cast<std::uint8_t>(1 + rng() % 4);
        s.micro = static_cast<std::int8_t>(static_cast<int>(rng() % 97) - 48);
        s.layers = static_cast<std::uint8_t>(1 + rng() % 3);
    }
    for (int t = 0; t < tracks; ++t) {
        for (Step& s : grid[static_cast<std::size_t>(t)]) {
            s.velocity = static_cast<std::uint8_t>(velocity_of(v));
        }
    }
}

// Frames of every hit of version `m` in instance `i` of track t with note `note`.
void hits_of(const Model& m, const RefMap& ref, int i, int t, int note, std::vector<Frame>& out) {
    const Pattern& p = m.pattern[0];
    const Track& tr = m.track[static_cast<std::size_t>(t)];
    int layer = -1;
    for (int l = 0; l < max_layers; ++l) {
        if (tr.notes[static_cast<std::size_t>(l)] == note) {
            layer = l;
        }
    }
    const Position d = p.step_length();
    const Position s0 = p.length() * Position(i);
    for (int k = 0; k < p.steps; ++k) {
        const Step& s = p.grid[static_cast<std::size_t>(t)][static_cast<std::size_t>(k)];
        if (!s.on || layer < 0 || (s.layers & (1U << layer)) == 0) {
            continue;
        }
        for (int j = 0; j < s.ratchet; ++j) {
            Position e = s0 + d * Position(k) + (k % 2 == 1 ? d * Position(p.swing, 2000) : 0) +
                         d * Position(s.micro, 96) + d * Position(j, s.ratchet);
            if (e < s0) {
                e = s0;
            }
            out.push_back(ref.emitted(e));
        }
    }
}

TEST(SeqEngineEdits, EveryNoteComesFromOnePublishedVersion) {
    Model m = default_model();
    m.tracks = tracks;
    m.pattern[0].swing = 250;
    for (int t = 0; t < tracks; ++t) {
        m.track[static_cast<std::size_t>(t)].notes[1] = static_cast<std::int8_t>(60 + t);
        m.track[static_cast<std::size_t>(t)].channel = static_cast<std::uint8_t>(t);
    }
    std::mt19937 rng(7);
    std::vector<Model> history;
    std::vector<Frame> published_at; // first frame of the first cycle that can see it
    randomize(m, 0, rng);
    history.push_back(m);
    published_at.push_back(0);

    EngineOptions o;
    o.tempo = Bpm(240);
    Rig rig(o, m);
    const Frame f0 = 777;
    rig.send(msg(ToEngineKind::play));
    Frame f = f0;
    const std::uint32_t n = 64;
    int v = 1;
    while (v < versions) {
        const int gap = 1 + static_cast<int>(rng() % 4);
        for (int c = 0; c < gap; ++c, f += n) {
            rig.cycle(f, n);
        }
        randomize(m, v, rng);
        rig.publish(m);
        history.push_back(m);
        published_at.push_back(f);
        ++v;
    }
    for (int c = 0; c < 200; ++c, f += n) {
        rig.cycle(f, n);
    }
    EXPECT_EQ(rig.allocs().allocations, 0U);
    EXPECT_EQ(rig.allocs().deallocations, 0U);

    const RefMap ref(rate, Bpm(240), f0);
    const Frame bar = ref.emitted(4) - f0; // the tempo is one integer: bars are whole frames
    std::size_t checked = 0;
    for (const Event& e : rig.out(port_out)) {
        if ((e.bytes[0] & 0xF0) != 0x90) {
            continue;
        }
        const int t = e.bytes[0] & 0x0F;
        const int note = e.bytes[1];
        const int vel = e.bytes[2];
        // The instance the hit belongs to: the one containing it, or the one before (late
        // microtiming, ratchets and swing reach into the next instance).
        const int i = static_cast<int>((e.frame - f0) / bar);
        bool found = false;
        for (int cand = 0; cand < static_cast<int>(history.size()) && !found; ++cand) {
            const auto c = static_cast<std::size_t>(cand);
            // Live around the hit: published before it, replaced at most 20000 frames
            // (a few steps) before it.
            const bool live = published_at[c] <= e.frame &&
                              (c + 1 == history.size() || published_at[c + 1] > e.frame - 20000);
            if (velocity_of(cand) != vel || !live) {
                continue;
            }
            for (int inst = std::max(0, i - 1); inst <= i && !found; ++inst) {
                std::vector<Frame> frames;
                hits_of(history[static_cast<std::size_t>(cand)], ref, inst, t, note, frames);
                found = std::find(frames.begin(), frames.end(), e.frame) != frames.end();
            }
        }
        EXPECT_TRUE(found) << "note-on at " << e.frame << " track " << t << " note " << note
                           << " velocity " << vel;
        if (!found) {
            break;
        }
        ++checked;
    }
    EXPECT_GT(checked, 800U);
}

} // namespace
} // namespace lockstep::seq::test
