// Expected note output built from docs/seq.md's formulas: the test lists the hits (track,
// layer, note, exact on and off positions), the reference map gives their frames, and the
// order within a frame is docs/seq.md's (note-offs, then note-ons, track then layer order;
// a note-off that falls in its own note-on's frame follows it). No retriggers here: tests
// that use this keep notes of one channel and key from overlapping.
#pragma once

#include "rig.hpp"

#include <algorithm>
#include <tuple>

namespace lockstep::seq::test {

struct Hit {
    int track = 0;
    int layer = 0;
    int channel = 9;
    int note = 36;
    int velocity = 100;
    Position on;
    Position off;
};

inline std::vector<Event> expected(const std::vector<Hit>& hits, const RefMap& ref, Frame end,
                                   Frame from = std::numeric_limits<Frame>::min()) {
    struct K {
        Frame f;
        int cls;
        int track;
        int layer;
        std::size_t seq;
        Event e;
    };
    std::vector<K> ks;
    for (std::size_t i = 0; i < hits.size(); ++i) {
        const Hit& h = hits[i];
        const Frame on = ref.emitted(h.on);
        const Frame off = ref.emitted(h.off);
        if (on < from) {
            continue;
        }
        if (on < end) {
            ks.push_back({on, 1, h.track, h.layer, i, note_on(on, h.channel, h.note, h.velocity)});
        }
        if (off < end && on < end) {
            ks.push_back(
                {off, off == on ? 2 : 0, h.track, h.layer, i, note_off(off, h.channel, h.note)});
        }
    }
    std::sort(ks.begin(), ks.end(), [](const K& a, const K& b) {
        return std::tie(a.f, a.cls, a.track, a.layer, a.seq) <
               std::tie(b.f, b.cls, b.track, b.layer, b.seq);
    });
    std::vector<Event> v;
    for (auto& k : ks) {
        v.push_back(k.e);
    }
    return v;
}

} // namespace lockstep::seq::test
