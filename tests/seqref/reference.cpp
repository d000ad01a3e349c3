#include "seqref/reference.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <tuple>
#include <utility>

namespace lockstep::seqref {

cpp_rational to_q(Rational r) {
    return cpp_rational(cpp_int(r.num()), cpp_int(r.den()));
}

cpp_int floor_q(const cpp_rational& q) {
    const cpp_int n = numerator(q);
    const cpp_int d = denominator(q); // > 0
    cpp_int f = n / d;                // truncates toward zero
    if (n < 0 && f * d != n) {
        f -= 1;
    }
    return f;
}

cpp_int ceil_q(const cpp_rational& q) {
    return -floor_q(-q);
}

TempoMap::TempoMap(std::uint32_t rate, const cpp_rational& bpm, Frame origin) : rate_(rate) {
    segs_.push_back({cpp_rational(0), bpm, cpp_rational(origin)});
}

void TempoMap::set_tempo_at(const cpp_rational& at, const cpp_rational& bpm) {
    if (at < segs_.back().start) {
        throw std::invalid_argument("TempoMap: change before the last one");
    }
    if (at == segs_.back().start) {
        segs_.back().bpm = bpm;
        return;
    }
    segs_.push_back({at, bpm, ideal(at)});
}

cpp_rational TempoMap::ideal(const cpp_rational& p) const {
    auto it = std::upper_bound(segs_.begin(), segs_.end(), p,
                               [](const cpp_rational& v, const Seg& s) { return v < s.start; });
    const Seg& s = it == segs_.begin() ? *it : *(it - 1);
    return s.anchor + (p - s.start) * 60 * rate_ / s.bpm;
}

Frame TempoMap::emitted(const cpp_rational& p) const {
    return ceil_q(ideal(p)).convert_to<Frame>();
}

cpp_rational TempoMap::position(const cpp_rational& f) const {
    auto it = std::upper_bound(segs_.begin(), segs_.end(), f,
                               [](const cpp_rational& v, const Seg& s) { return v < s.anchor; });
    const Seg& s = it == segs_.begin() ? *it : *(it - 1);
    return s.start + (f - s.anchor) * s.bpm / (60 * rate_);
}

namespace {

// One play-through of a pattern.
struct Instance {
    int pattern = 0;
    cpp_rational start; // S
    cpp_rational length;
    std::uint64_t number = 0; // instances since the start (probability)
};

// One note of one hit, with what orders it within a frame.
struct Note {
    Frame on = 0;
    Frame off = 0;
    int channel = 0;
    int note = 0;
    int velocity = 0;
    int track = 0;
    int layer = 0;
    std::uint64_t instance = 0;
    int step = 0;
    int hit = 0;
    auto on_order() const { return std::tie(on, track, layer, instance, step, hit); }
};

bool audible(const seq::Model& m, int t) {
    bool any_solo = false;
    for (int u = 0; u < m.tracks; ++u) {
        any_solo = any_solo || m.track[static_cast<std::size_t>(u)].solo;
    }
    const seq::Track& tr = m.track[static_cast<std::size_t>(t)];
    return !tr.mute && (!any_solo || tr.solo);
}

bool fires(const Performance& run, const seq::Step& s, int t, const Instance& in, int k) {
    return s.on && audible(run.model, t) &&
           seq::step_fires(run.seed, t, in.number, k, s.probability);
}

} // namespace

Output play(const Performance& run) {
    const seq::Model& m = run.model;
    Output out;
    TempoMap map(run.rate, run.bpm, run.origin);
    {
        auto changes = run.changes;
        std::stable_sort(
            changes.begin(), changes.end(),
            [](const TempoChange& a, const TempoChange& b) { return a.position < b.position; });
        for (const auto& c : changes) {
            map.set_tempo_at(c.position, c.bpm);
        }
    }
    const Frame start_frame = run.start_frame.value_or(run.origin);
    const cpp_rational from =
        start_frame == run.origin ? cpp_rational(0) : map.position(cpp_rational(start_frame));
    const bool song = m.song.enabled;
    if (song && m.song.length == 0) {
        return out; // refused: nothing plays
    }

    // The instances, in order, from the one that contains `from` until the span's end or
    // the chain's end.
    std::vector<Instance> instances;
    std::optional<cpp_rational> end_position;
    {
        cpp_rational s = 0;
        int slot = 0;
        int repeat = 0;
        bool started = false;
        std::uint64_t number = 0;
        for (;;) {
            const int p = song ? m.song.chain[static_cast<std::size_t>(slot)].pattern : m.selected;
            const cpp_rational len = to_q(m.pattern[static_cast<std::size_t>(p)].length());
            if (map.emitted(s) >= run.until) {
                break;
            }
            if (!started && from < s + len) {
                started = true;
            }
            if (started) {
                instances.push_back({p, s, len, number++});
            }
            s += len;
            if (song) {
                if (++repeat >= m.song.chain[static_cast<std::size_t>(slot)].repeats) {
                    repeat = 0;
                    if (++slot >= m.song.length) {
                        if (!m.song.loop) {
                            end_position = s;
                            break;
                        }
                        slot = 0;
                    }
                }
            }
        }
    }
    out.instances = instances.size();
    std::optional<Frame> stop = run.stop_frame;
    if (end_position) {
        const Frame e = map.emitted(*end_position);
        out.end = e;
        if (!stop || e < *stop) {
            stop = e;
        }
    }
    const Frame limit = stop ? std::min(*stop, run.until) : run.until; // events before it

    // Hits and sync SysEx.
    std::vector<Note> notes;
    for (const Instance& in : instances) {
        const seq::Pattern& pat = m.pattern[static_cast<std::size_t>(in.pattern)];
        const int n = pat.steps;
        const cpp_rational d = in.length / n;
        const cpp_rational w = cpp_rational(pat.swing) / 1000;
        for (int k = 0; k < n; ++k) {
            const cpp_rational step_start = in.start + k * d;
            std::uint64_t mask = 0;
            for (int t = 0; t < m.tracks; ++t) {
                const seq::Step& st =
                    pat.grid[static_cast<std::size_t>(t)][static_cast<std::size_t>(k)];
                if (!fires(run, st, t, in, k)) {
                    continue;
                }
                mask |= std::uint64_t{1} << t;
                const seq::Track& tr = m.track[static_cast<std::size_t>(t)];
                const int r = st.ratchet;
                for (int j = 0; j < r; ++j) {
                    cpp_rational e = step_start + (k % 2 == 1 ? w * d / 2 : cpp_rational(0)) +
                                     cpp_rational(st.micro) * d / 96 + j * d / r;
                    if (e < in.start) {
                        e = in.start; // never before its instance's start
                    }
                    if (e < from) {
                        continue; // before a located start
                    }
                    const Frame on = map.emitted(e);
                    const Frame off = map.emitted(e + cpp_rational(tr.gate) * (d / r) / 96);
                    for (int l = 0; l < seq::max_layers; ++l) {
                        const int note = tr.notes[static_cast<std::size_t>(l)];
                        if ((st.layers & (1U << l)) == 0 || note < 0) {
                            continue;
                        }
                        notes.push_back(
                            Note{on, off, tr.channel, note, st.velocity, t, l, in.number, k, j});
                    }
                }
            }
            if (step_start >= from) {
                const Frame f = map.emitted(step_start);
                if (f < limit) {
                    out.sync.push_back(
                        {f,
                         {0xF0, 0x7D, 0x01, static_cast<std::uint8_t>(in.pattern),
                          static_cast<std::uint8_t>(k), static_cast<std::uint8_t>(mask & 0x7F),
                          static_cast<std::uint8_t>((mask >> 7) & 0x7F),
                          static_cast<std::uint8_t>((mask >> 14) & 0x7F),
                          static_cast<std::uint8_t>((mask >> 21) & 0x7F),
                          static_cast<std::uint8_t>((mask >> 28) & 0x7F), 0xF7}});
                }
            }
        }
    }
    std::stable_sort(notes.begin(), notes.end(),
                     [](const Note& a, const Note& b) { return a.on_order() < b.on_order(); });

    // Notes in frame order, with at most one pending note-off per channel and note.
    struct Pending {
        Frame off;
        int track, layer;
    };
    std::map<std::pair<int, int>, Pending> held; // (channel, note)
    auto note_off = [](int channel, int note) {
        return std::vector<std::uint8_t>{static_cast<std::uint8_t>(0x80 | channel),
                                         static_cast<std::uint8_t>(note), 0};
    };
    // Emits the pending note-offs due at or before `f` (all of them at `f` when `at_stop`):
    // by frame, then track, then layer.
    auto flush = [&](Frame f, bool at_stop) {
        std::vector<std::tuple<Frame, int, int, int, int>> due; // frame, track, layer, ch, note
        for (auto it = held.begin(); it != held.end();) {
            if (at_stop || it->second.off <= f) {
                due.emplace_back(at_stop ? f : it->second.off, it->second.track, it->second.layer,
                                 it->first.first, it->first.second);
                it = held.erase(it);
            } else {
                ++it;
            }
        }
        std::sort(due.begin(), due.end());
        for (const auto& [frame, t, l, ch, note] : due) {
            out.out.push_back({frame, note_off(ch, note)});
        }
    };
    for (const Note& nt : notes) {
        if (nt.on >= limit) {
            break; // not emitted before the stop (or outside the span)
        }
        flush(nt.on, false);
        const auto key = std::make_pair(nt.channel, nt.note);
        if (held.count(key) != 0) {
            // Still held (its note-off is later): ended just before the new note-on.
            out.out.push_back({nt.on, note_off(nt.channel, nt.note)});
            held.erase(key);
        }
        out.out.push_back(
            {nt.on,
             {static_cast<std::uint8_t>(0x90 | nt.channel), static_cast<std::uint8_t>(nt.note),
              static_cast<std::uint8_t>(nt.velocity)}});
        held[key] = Pending{nt.off, nt.track, nt.layer};
    }
    if (stop && *stop < run.until) {
        flush(*stop - 1, false);
        flush(*stop, true);
    } else {
        flush(run.until - 1, false);
    }

    // Clock: 24 per beat at positions n/24, FA (or F2 + FB after a locate) at the start, FC
    // at the stop.
    if (run.clock && start_frame < limit) {
        if (from == 0) {
            out.clock.push_back({start_frame, {0xFA}});
        } else {
            // Song position in MIDI beats (sixteenths), then continue.
            const auto spp = floor_q(from * 4).convert_to<std::int64_t>();
            out.clock.push_back({start_frame,
                                 {0xF2, static_cast<std::uint8_t>(spp & 0x7F),
                                  static_cast<std::uint8_t>((spp >> 7) & 0x7F)}});
            out.clock.push_back({start_frame, {0xFB}});
        }
        for (cpp_int n = ceil_q(from * 24);; ++n) {
            const Frame f = map.emitted(cpp_rational(n, 24));
            if (f >= limit) {
                break;
            }
            out.clock.push_back({f, {0xF8}});
        }
    }
    if (stop && *stop < run.until) {
        if (run.clock) {
            out.clock.push_back({*stop, {0xFC}});
        }
        out.sync.push_back({*stop, {0xF0, 0x7D, 0x02, 0xF7}});
    }
    return out;
}

std::string to_string(const Event& e) {
    std::string s = std::to_string(e.frame);
    for (const auto b : e.bytes) {
        char buf[8];
        std::snprintf(buf, sizeof buf, " %02x", b);
        s += buf;
    }
    return s;
}

} // namespace lockstep::seqref
