// Test rig for lockstep-seq's engine: drives Engine::process with hand-built Cycles (so
// tests can set JACK transport and vary cycle sizes), counts allocations inside process()
// only, and collects output with absolute frames. Also an exact reference for frames:
// a piecewise tempo map in boost::multiprecision::cpp_rational, written from
// docs/timing.md's formula (ideal = anchor + (p - start) * 60 * rate / bpm, emitted = ceil).
#pragma once

#include "engine.hpp"
#include "model.hpp"
#include "rt/alloc_check.hpp"

#include <boost/multiprecision/cpp_int.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace lockstep::seq::test {

using boost::multiprecision::cpp_int;
using boost::multiprecision::cpp_rational;

inline cpp_rational q(Rational r) {
    return cpp_rational(cpp_int(r.num()), cpp_int(r.den()));
}

inline Frame ceil_q(const cpp_rational& x) {
    cpp_int n = boost::multiprecision::numerator(x);
    const cpp_int d = boost::multiprecision::denominator(x);
    cpp_int fl = n / d;
    if (n % d != 0 && n > 0) {
        fl += 1;
    }
    return static_cast<Frame>(fl);
}

// Exact reference tempo map: position 0 at frame `origin` (any integer), changes appended
// in position order.
class RefMap {
public:
    RefMap(std::uint32_t rate, Bpm bpm, Frame origin = 0) : rate_(rate) {
        segs_.push_back(Seg{Position(0), bpm, cpp_rational(origin)});
    }
    void change(Position at, Bpm bpm) {
        const cpp_rational a = ideal(at);
        segs_.push_back(Seg{at, bpm, a});
    }
    cpp_rational ideal(Position p) const {
        const Seg* s = &segs_.front();
        for (const Seg& x : segs_) {
            if (x.start <= p) {
                s = &x;
            }
        }
        return s->anchor + (q(p) - q(s->start)) * 60 * rate_ / q(s->bpm);
    }
    Frame emitted(Position p) const { return ceil_q(ideal(p)); }

private:
    struct Seg {
        Position start;
        Bpm bpm;
        cpp_rational anchor;
    };
    std::uint32_t rate_;
    std::vector<Seg> segs_;
};

struct Event {
    Frame frame = 0;
    std::vector<std::uint8_t> bytes;
    friend bool operator==(const Event&, const Event&) = default;
};

inline constexpr std::size_t rig_ports = port_track0 + max_tracks;

class Rig {
public:
    explicit Rig(EngineOptions o, const Model& m = default_model(), std::uint32_t rate = 48000)
        : rate_(rate), published_(std::make_unique<const Model>(m)), engine_(o, published_) {
        for (std::size_t i = 0; i < rig_ports; ++i) {
            writers_.emplace_back(8192, 8192 * 12);
        }
        out_.resize(rig_ports);
    }

    Engine& engine() { return engine_; }
    void publish(const Model& m) {
        published_.publish(std::make_unique<const Model>(m));
        published_.collect();
    }
    bool send(ToEngine m) { return engine_.send(m); }
    // Gives every cycle JACK times (Cycle::usecs, next_usecs): frame f starts at
    // us0 + f * 1e6 / rate µs (floor); exact when cycles start on multiples of rate/1000.
    void times(std::int64_t us0) {
        times_ = true;
        us0_ = us0;
    }
    std::int64_t usecs(Frame f) const {
        return us0_ + f * 1000000 / static_cast<std::int64_t>(rate_);
    }

    // One cycle [start, start + n); process() runs inside a RealtimeScope.
    void cycle(Frame start, std::uint32_t n, jack::Transport t = {}) {
        for (auto& w : writers_) {
            w.reset(n);
        }
        jack::Cycle c;
        c.start = start;
        c.nframes = n;
        c.rate = rate_;
        c.transport = t;
        c.midi_out = writers_;
        if (times_) {
            c.usecs = static_cast<std::uint64_t>(usecs(start));
            c.next_usecs = static_cast<std::uint64_t>(usecs(start + n));
        }
        {
            RealtimeScope scope;
            engine_.process(c);
            const AllocCounts a = scope.counts();
            allocs_.allocations += a.allocations;
            allocs_.deallocations += a.deallocations;
        }
        for (std::size_t p = 0; p < rig_ports; ++p) {
            late_ += writers_[p].late() + writers_[p].overflow();
            for (const auto& e : writers_[p].events()) {
                const auto b = writers_[p].bytes(e);
                out_[p].push_back(Event{start + e.offset, {b.begin(), b.end()}});
            }
        }
        next_ = start + n;
    }
    // Back-to-back cycles of n frames from `start` until `end` (the last one may be shorter).
    void run(Frame start, Frame end, std::uint32_t n) {
        Frame f = start;
        while (f < end) {
            const auto len = static_cast<std::uint32_t>(std::min<Frame>(n, end - f));
            cycle(f, len);
            f += len;
        }
    }
    Frame next() const { return next_; }

    const std::vector<Event>& out(std::size_t port) const { return out_[port]; }
    std::vector<FromEngine> feedback() {
        std::vector<FromEngine> v;
        FromEngine m;
        while (engine_.receive(m)) {
            v.push_back(m);
        }
        return v;
    }
    AllocCounts allocs() const { return allocs_; }
    std::uint64_t late() const { return late_; }
    void clear() {
        for (auto& o : out_) {
            o.clear();
        }
    }

private:
    std::uint32_t rate_;
    Published<Model> published_;
    Engine engine_;
    std::vector<jack::MidiWriter> writers_;
    std::vector<std::vector<Event>> out_;
    AllocCounts allocs_;
    std::uint64_t late_ = 0;
    Frame next_ = 0;
    bool times_ = false;
    std::int64_t us0_ = 0;
};

inline ToEngine msg(ToEngineKind k, Frame f = asap) {
    ToEngine m;
    m.kind = k;
    m.frame = f;
    return m;
}
inline ToEngine tempo_msg(Bpm b, Frame f = asap) {
    ToEngine m = msg(ToEngineKind::tempo, f);
    m.bpm = b;
    return m;
}
inline ToEngine tempo_at_msg(Position p, Bpm b, Frame f = asap) {
    ToEngine m = tempo_msg(b, f);
    m.has_position = true;
    m.position = p;
    return m;
}

inline Event note_on(Frame f, int ch, int note, int vel) {
    return Event{f,
                 {static_cast<std::uint8_t>(0x90 | ch), static_cast<std::uint8_t>(note),
                  static_cast<std::uint8_t>(vel)}};
}
inline Event note_off(Frame f, int ch, int note) {
    return Event{f, {static_cast<std::uint8_t>(0x80 | ch), static_cast<std::uint8_t>(note), 0}};
}

// Only note-on/off messages of a port's output.
inline std::vector<Event> notes(const std::vector<Event>& v) {
    std::vector<Event> r;
    for (const Event& e : v) {
        if (!e.bytes.empty() && (e.bytes[0] & 0xE0) == 0x80) {
            r.push_back(e);
        }
    }
    return r;
}

} // namespace lockstep::seq::test
