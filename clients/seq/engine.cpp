// lockstep-seq's engine (docs/seq.md is the definition of what it plays and when).
//
// How a cycle works. Positions are exact rationals; frames come from an engine-owned tempo
// map (Timeline) in "song frames" (song frame 0 = position 0), and frame time = song frame +
// offset_, an integer, so ceil() commutes with it and every emitted frame is exact.
// A step's hits all lie at or after its scheduling point Q_k = max(S, S + k*d - d/2)
// (microtiming is at most half a step early, swing and ratchets only delay), so the
// scheduler reads a step when the cycle reaches Q_k's frame: it computes every hit's
// note-on and note-off frame once, from the model version of that cycle, and puts them in a
// fixed-capacity heap ordered by (frame, off/on class, track, layer). Everything whose frame
// is before the next scheduling point can then be written: nothing scheduled later can come
// before it. A tempo change re-times what is pending (frames of positions after the change).
//
// Threads: see engine.hpp. Everything reached from process() and timebase() is
// RT_NONBLOCKING and works in storage allocated by the constructor.
#include "engine.hpp"

#include "chance.hpp"
#include "jack/seqlock.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

namespace lockstep::seq {

namespace {

constexpr std::uint8_t class_off = 0;      // note-off of a note that began at an earlier frame
constexpr std::uint8_t class_on = 1;       // note-on
constexpr std::uint8_t class_off_late = 2; // note-off in the same frame as its own note-on
constexpr std::size_t held_slots = 16 * 128;
constexpr std::size_t sync_capacity = 512;
constexpr std::uint8_t midi_note_on = 0x90;
constexpr std::uint8_t midi_note_off = 0x80;
constexpr std::uint8_t midi_clock = 0xF8;
constexpr std::uint8_t midi_start = 0xFA;
constexpr std::uint8_t midi_continue = 0xFB;
constexpr std::uint8_t midi_stop = 0xFC;
constexpr std::uint8_t midi_song_position = 0xF2;
constexpr std::uint8_t sysex_id = 0x7D;
constexpr std::int64_t clock_ppqn = 24;
constexpr std::int64_t bbt_ticks = 1920;
constexpr std::int64_t beats_per_bar = 4;
// Link phase lock: how far (seconds) a step boundary may be off Link's grid before the
// next step is nudged back onto it.
constexpr double link_tolerance_s = 0.001;

// A pending note-on or note-off. The heap holds small entries (frame, order key, index);
// the events themselves stay put in a pool.
struct NoteEvent {
    Position pos;             // where this event sits
    Position on_pos;          // note-off: its note-on's position (to tell class_off_late)
    std::uint64_t serial = 0; // one per note: its on and off share it
    std::uint8_t track = 0;
    std::uint8_t layer = 0;
    std::uint8_t channel = 0;
    std::uint8_t note = 0;
    std::uint8_t velocity = 0;
    bool on = true;
};

// Order within a frame packed into one word: class, track, layer, then the note's serial.
constexpr std::uint64_t serial_bits = 55;
constexpr std::uint64_t make_key(std::uint8_t cls, std::uint8_t track, std::uint8_t layer,
                                 std::uint64_t serial) noexcept RT_NONBLOCKING {
    return (std::uint64_t{cls} << 62) | (std::uint64_t{track} << 57) |
           (std::uint64_t{layer} << serial_bits) |
           (serial & ((std::uint64_t{1} << serial_bits) - 1));
}

struct Slot {
    Frame frame = 0;
    std::uint64_t key = 0;
    std::uint32_t index = 0; // into the pool
};

inline bool before(const Slot& a, const Slot& b) noexcept RT_NONBLOCKING {
    return a.frame != b.frame ? a.frame < b.frame : a.key < b.key;
}

struct SyncEntry {
    Frame frame = 0;
    Position pos;
    std::uint32_t mask = 0;
    std::uint8_t pattern = 0;
    std::uint8_t step = 0;
    std::uint8_t slot = 0;
};

struct Held {
    std::uint64_t serial = 0; // 0: not sounding
    std::uint8_t track = 0;
    std::uint8_t layer = 0;
    std::uint8_t channel = 0;
    std::uint8_t note = 0;
};

inline bool held_before(const Held& a, const Held& b) noexcept RT_NONBLOCKING {
    if (a.track != b.track) {
        return a.track < b.track;
    }
    if (a.layer != b.layer) {
        return a.layer < b.layer;
    }
    return a.serial < b.serial;
}

// What made a tempo change, and what it tells Link.
enum class TempoKind : std::uint8_t {
    plain,      // /seq/tempo, or a Link tempo followed (Link already knows)
    lead_at,    // /seq/tempo/at with --link: committed to Link when it is reached
    correction, // Link phase lock: a one-step nudge (replaced by any other change)
};

struct TempoEntry {
    Position pos;
    Bpm bpm;
    TempoKind kind = TempoKind::plain;
};

// Where a tempo message came from (docs/seq.md, "Ableton Link").
enum class TempoOrigin : std::uint8_t { local, link, correction };

constexpr Frame no_frame = std::numeric_limits<Frame>::max();

// One pattern instance as the scheduler plays it. Shape and swing are read when the
// instance begins; steps are read one by one as they come due.
struct Instance {
    Position start;  // S
    Position length; // L
    Position step;   // d = L / N
    std::uint64_t number = 0;
    std::int16_t swing = 0;
    std::uint8_t pattern = 0;
    std::uint8_t steps = 1;
    std::uint8_t slot = 0;
    std::uint8_t repeat = 0;
    bool song = false; // played from the song chain (slot/repeat meaningful)
};

bool valid_bpm(Bpm b) noexcept RT_NONBLOCKING {
    return b.num() > 0 && b.num() <= Timeline::max_tempo_term &&
           b.den() <= Timeline::max_tempo_term;
}

} // namespace

struct Engine::Impl {
    Impl(const EngineOptions& o, Engine& e)
        : opt(o), owner(e), timeline(48000, valid_bpm(o.tempo) ? o.tempo : Bpm(120)),
          start_tempo(valid_bpm(o.tempo) ? o.tempo : Bpm(120)), bpm_now(start_tempo) {
        timeline.reserve(2 * o.tempo_changes + 4);
        const std::size_t pending = std::max<std::size_t>(o.max_pending, 64);
        heap.resize(pending);
        pool.resize(pending);
        free_list.resize(pending);
        reset_pool();
        sync.resize(sync_capacity);
        tempos.resize(std::max<std::size_t>(o.tempo_changes, 1));
        held.resize(held_slots);
        stop_scratch.resize(held_slots);
        fallback = std::make_unique<Model>(default_model());
    }

    const EngineOptions opt;
    Engine& owner;

    // ---- audio thread state ----
    Timeline timeline;
    std::uint32_t rate = 0; // 0 until the first cycle
    Bpm start_tempo;        // tempo at position 0 of the next start
    Bpm bpm_now;            // tempo in force at the last cycle's end

    std::vector<Slot> heap;
    std::size_t heap_n = 0;
    std::vector<NoteEvent> pool;
    std::vector<std::uint32_t> free_list;
    std::size_t free_n = 0;
    std::vector<SyncEntry> sync;
    std::size_t sync_head = 0;
    std::size_t sync_n = 0;
    std::vector<TempoEntry> tempos; // sorted by position; internal mode: only pending ones
    std::size_t tempo_n = 0;
    std::size_t next_tempo = 0; // first entry not yet reached (follow/master keep the past)
    std::vector<Held> held;
    std::vector<Held> stop_scratch;
    std::unique_ptr<Model> fallback;

    bool playing = false;
    Frame offset = 0; // frame time of song frame 0
    bool has_cue = false;
    Position cue;

    // Filter for the first instance after a start or locate: hits at or after the start.
    enum class Filter : std::uint8_t { none, position, frame };
    Filter filter = Filter::none;
    Position filter_pos;
    Frame filter_song_frame = 0;

    Instance cur;
    int next_step = 0;
    Position next_q;
    Frame next_q_frame = 0;

    std::int64_t next_tick = 0;
    Frame next_tick_frame = 0;
    std::uint64_t serial = 0;

    // follow/master
    bool t_prev_rolling = false;
    std::uint32_t t_expected = 0;
    bool start_refused = false;

    // Ableton Link (opt.link): start/stop sync, tempo and phase (docs/seq.md).
    bool link_start_pending = false; // playing starts when Link reaches link_start_beat
    double link_start_beat = 0;
    Position link_start_pos;        // the position that lands there
    bool link_seen_playing = false; // Link's start/stop state as last acted on
    bool link_expect_play = false;  // our own start/stop request, until Link shows it
    bool link_expect_play_valid = false;
    Frame link_expect_play_until = 0;
    Bpm link_expect_bpm; // our own tempo request, until Link shows it
    bool link_expect_bpm_valid = false;
    Frame link_expect_bpm_until = 0;
    Frame link_stop_frame = no_frame; // Link stopped: the frame the seq stops at
    std::atomic<std::uint64_t> n_link_follows{0};
    std::atomic<std::uint64_t> n_link_corrections{0};

    std::uint8_t st_pattern = 0;
    std::uint8_t st_step = 0;
    std::uint8_t st_slot = 0;

    jack::Cycle* cyc = nullptr;
    const Model* model = nullptr;

    std::atomic<std::uint64_t> n_cycles{0};
    std::atomic<std::uint64_t> n_notes{0};
    std::atomic<std::uint64_t> n_refused{0};
    std::atomic<std::uint64_t> n_feedback_dropped{0};
    std::atomic<std::uint64_t> n_tempo_refused{0};
    std::atomic<std::uint64_t> n_dropped{0};
    jack::SeqLock<EngineStatus> status;

    // ---------------------------------------------------------------------------------
    bool following() const noexcept RT_NONBLOCKING {
        return opt.transport != TransportMode::internal;
    }
    static void bump(std::atomic<std::uint64_t>& c) noexcept RT_NONBLOCKING {
        c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    Frame song_emitted(Position p) const noexcept RT_NONBLOCKING {
        return timeline.emitted_frame(p);
    }
    Frame frame_of(Position p) const noexcept RT_NONBLOCKING { return song_emitted(p) + offset; }

    void feedback(const FromEngine& m) noexcept RT_NONBLOCKING {
        if (!owner.from_engine_.try_push(m)) {
            bump(n_feedback_dropped);
        }
    }

    void write(std::size_t port, Frame f,
               std::initializer_list<std::uint8_t> bytes) noexcept RT_NONBLOCKING {
        write_span(port, f, std::span<const std::uint8_t>(bytes.begin(), bytes.size()));
    }
    void write_span(std::size_t port, Frame f,
                    std::span<const std::uint8_t> bytes) noexcept RT_NONBLOCKING {
        if (port >= cyc->midi_out.size()) {
            return;
        }
        const Frame off = f - cyc->start;
        const std::uint32_t o = (off < 0 || off >= cyc->nframes) ? jack::max_buffer_size * 4U
                                                                 : static_cast<std::uint32_t>(off);
        if (!cyc->midi_out[port].write(o, bytes)) {
            bump(n_refused);
        }
    }
    void write_note(std::uint8_t track, Frame f, std::uint8_t st, std::uint8_t note,
                    std::uint8_t vel) noexcept RT_NONBLOCKING {
        write(port_out, f, {st, note, vel});
        if (opt.track_ports) {
            write(port_track0 + track, f, {st, note, vel});
        }
    }

    // ---- heap ------------------------------------------------------------------------
    void reset_pool() noexcept RT_NONBLOCKING {
        heap_n = 0;
        free_n = free_list.size();
        for (std::size_t i = 0; i < free_n; ++i) {
            free_list[i] = static_cast<std::uint32_t>(free_n - 1 - i);
        }
    }
    void sift_up(std::size_t i) noexcept RT_NONBLOCKING {
        const Slot e = heap[i];
        while (i > 0) {
            const std::size_t parent = (i - 1) / 2;
            if (!before(e, heap[parent])) {
                break;
            }
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = e;
    }
    void sift_down(std::size_t i) noexcept RT_NONBLOCKING {
        const Slot e = heap[i];
        for (;;) {
            std::size_t c = 2 * i + 1;
            if (c >= heap_n) {
                break;
            }
            if (c + 1 < heap_n && before(heap[c + 1], heap[c])) {
                ++c;
            }
            if (!before(heap[c], e)) {
                break;
            }
            heap[i] = heap[c];
            i = c;
        }
        heap[i] = e;
    }
    // Caller checked there is room (free_n > 0).
    void push(const NoteEvent& e, Frame frame, std::uint8_t cls) noexcept RT_NONBLOCKING {
        const std::uint32_t idx = free_list[--free_n];
        pool[idx] = e;
        heap[heap_n] = Slot{frame, make_key(cls, e.track, e.layer, e.serial), idx};
        sift_up(heap_n);
        ++heap_n;
    }
    void pop() noexcept RT_NONBLOCKING {
        free_list[free_n++] = heap[0].index;
        --heap_n;
        if (heap_n > 0) {
            heap[0] = heap[heap_n];
            sift_down(0);
        }
    }

    // ---- emission --------------------------------------------------------------------
    void emit_event(const NoteEvent& e, Frame frame) noexcept RT_NONBLOCKING {
        Held& h = held[std::size_t{e.channel} * 128 + e.note];
        if (e.on) {
            if (h.serial != 0) {
                // Same note still held: its note-off now, just before the new note-on; its
                // own pending note-off no longer matches h.serial and is skipped.
                write_note(h.track, frame, midi_note_off | e.channel, e.note, 0);
            }
            write_note(e.track, frame, midi_note_on | e.channel, e.note, e.velocity);
            bump(n_notes);
            h.serial = e.serial;
            h.track = e.track;
            h.layer = e.layer;
            h.channel = e.channel;
            h.note = e.note;
        } else if (h.serial == e.serial) {
            write_note(e.track, frame, midi_note_off | e.channel, e.note, 0);
            h.serial = 0;
        }
    }

    void emit_until(Frame t) noexcept RT_NONBLOCKING {
        while (heap_n > 0 && heap[0].frame < t) {
            const Frame frame = heap[0].frame;
            const std::uint32_t idx = heap[0].index;
            pop(); // the pool entry stays valid until the next push
            emit_event(pool[idx], frame);
        }
        while (sync_n > 0 && sync[sync_head].frame < t) {
            const SyncEntry& s = sync[sync_head];
            const std::array<std::uint8_t, 11> b{0xF0,
                                                 sysex_id,
                                                 0x01,
                                                 s.pattern,
                                                 s.step,
                                                 static_cast<std::uint8_t>(s.mask & 0x7FU),
                                                 static_cast<std::uint8_t>((s.mask >> 7) & 0x7FU),
                                                 static_cast<std::uint8_t>((s.mask >> 14) & 0x7FU),
                                                 static_cast<std::uint8_t>((s.mask >> 21) & 0x7FU),
                                                 static_cast<std::uint8_t>((s.mask >> 28) & 0x7FU),
                                                 0xF7};
            write_span(port_sync, s.frame, b);
            st_pattern = s.pattern;
            st_step = s.step;
            st_slot = s.slot;
            FromEngine m;
            m.kind = FromEngineKind::step;
            m.pattern = s.pattern;
            m.step = s.step;
            m.slot = s.slot;
            m.frame = s.frame;
            m.position = s.pos;
            feedback(m);
            sync_head = (sync_head + 1) % sync.size();
            --sync_n;
        }
        while (next_tick_frame < t) {
            write(port_clock, next_tick_frame, {midi_clock});
            ++next_tick;
            next_tick_frame = frame_of(Position(next_tick, clock_ppqn));
        }
    }

    // Note-offs for every sounding note at f, in track then layer order; drops what is
    // pending. Used by stop, locate and the end of a song.
    void all_notes_off(Frame f) noexcept RT_NONBLOCKING {
        std::size_t n = 0;
        for (Held& h : held) {
            if (h.serial != 0) {
                stop_scratch[n++] = h;
                h.serial = 0;
            }
        }
        // Insertion sort: usually a handful of notes, at most held_slots.
        for (std::size_t i = 1; i < n; ++i) {
            const Held h = stop_scratch[i];
            std::size_t j = i;
            while (j > 0 && held_before(h, stop_scratch[j - 1])) {
                stop_scratch[j] = stop_scratch[j - 1];
                --j;
            }
            stop_scratch[j] = h;
        }
        for (std::size_t i = 0; i < n; ++i) {
            const Held& h = stop_scratch[i];
            write_note(h.track, f, midi_note_off | h.channel, h.note, 0);
        }
        reset_pool();
        sync_n = 0;
        sync_head = 0;
    }

    // ---- tempo map -------------------------------------------------------------------
    // Applies one change to the map; on not_exact re-anchors at the change (rebased = true).
    Timeline::Status apply_tempo(const TempoEntry& e, bool& rebased) noexcept RT_NONBLOCKING {
        Timeline::Status st = timeline.set_tempo_at_rt(e.pos, e.bpm);
        if (st == Timeline::Status::not_exact) {
            timeline.rebase_at_rt(e.pos);
            st = timeline.set_tempo_at_rt(e.pos, e.bpm);
            rebased = true;
        }
        return st;
    }

    // The map from scratch: start tempo at position 0 on song frame 0, then every entry.
    void rebuild_map() noexcept RT_NONBLOCKING {
        (void)timeline.reset_rt(rate, start_tempo, 0, 0);
        bool rebased = false;
        for (std::size_t i = 0; i < tempo_n; ++i) {
            (void)apply_tempo(tempos[i], rebased);
        }
    }

    // Re-computes every pending frame after the map changed (positions after the change
    // move; the others compute to the frames they had).
    void retime() noexcept RT_NONBLOCKING {
        if (!playing) {
            return;
        }
        for (std::size_t i = 0; i < heap_n; ++i) {
            Slot& sl = heap[i];
            const NoteEvent& e = pool[sl.index];
            sl.frame = frame_of(e.pos);
            if (!e.on) {
                const std::uint8_t cls =
                    (frame_of(e.on_pos) == sl.frame) ? class_off_late : class_off;
                sl.key = make_key(cls, e.track, e.layer, e.serial);
            }
        }
        for (std::size_t i = heap_n / 2; i-- > 0;) {
            sift_down(i);
        }
        for (std::size_t i = 0; i < sync_n; ++i) {
            SyncEntry& s = sync[(sync_head + i) % sync.size()];
            s.frame = frame_of(s.pos);
        }
        next_q_frame = frame_of(next_q);
        next_tick_frame = frame_of(Position(next_tick, clock_ppqn));
    }

    void refuse_tempo(Frame f, Reason r, Position p, Bpm b) noexcept RT_NONBLOCKING {
        bump(n_tempo_refused);
        FromEngine m;
        m.kind = FromEngineKind::tempo_refused;
        m.reason = r;
        m.frame = f;
        m.position = p;
        m.bpm = b;
        feedback(m);
    }

    bool map_live() const noexcept RT_NONBLOCKING { return rate != 0 && (playing || following()); }

    void tempo_message(const ToEngine& msg, Frame f,
                       TempoOrigin origin = TempoOrigin::local) noexcept RT_NONBLOCKING {
        if (!valid_bpm(msg.bpm)) {
            refuse_tempo(f, Reason::bad_tempo, msg.position, msg.bpm);
            return;
        }
        const bool lead = origin == TempoOrigin::local && link_live();
        Position at;
        if (!msg.has_position) {
            if (!playing) {
                // While stopped: the start tempo, at once.
                start_tempo = msg.bpm;
                bpm_now = msg.bpm;
                if (map_live()) {
                    rebuild_map();
                }
                if (lead) {
                    link_lead_tempo(msg.bpm, usecs_at(static_cast<double>(f)));
                }
                FromEngine m;
                m.kind = FromEngineKind::tempo_applied;
                m.frame = f;
                m.position = Position(0);
                m.bpm = msg.bpm;
                feedback(m);
                return;
            }
            at = next_step_boundary(f);
        } else {
            at = msg.position;
            if (at < Position(0) || (playing && frame_of(at) < f)) {
                refuse_tempo(f, Reason::bad_position, at, msg.bpm);
                return;
            }
        }
        // Any change but a phase correction replaces the corrections still pending (they
        // were computed for the tempo it changes).
        Position from = at;
        if (origin != TempoOrigin::correction) {
            std::size_t k = 0;
            for (std::size_t j = 0; j < tempo_n; ++j) {
                if (tempos[j].kind == TempoKind::correction &&
                    (!playing || frame_of(tempos[j].pos) >= f)) {
                    from = std::min(from, tempos[j].pos);
                } else {
                    tempos[k++] = tempos[j];
                }
            }
            tempo_n = k;
            next_tempo = std::min(next_tempo, tempo_n);
        }
        const TempoKind kind = origin == TempoOrigin::correction ? TempoKind::correction
                               : (lead && msg.has_position)      ? TempoKind::lead_at
                                                                 : TempoKind::plain;
        // Insert into the sorted list (a change at the same position replaces it).
        std::size_t i = 0;
        while (i < tempo_n && tempos[i].pos < at) {
            ++i;
        }
        if (i < tempo_n && tempos[i].pos == at) {
            tempos[i].bpm = msg.bpm;
            tempos[i].kind = kind;
        } else {
            if (tempo_n == tempos.size()) {
                refuse_tempo(f, Reason::tempo_map_full, at, msg.bpm);
                if (map_live() && from < at) {
                    reapply_from(from);
                }
                return;
            }
            for (std::size_t j = tempo_n; j > i; --j) {
                tempos[j] = tempos[j - 1];
            }
            tempos[i] = TempoEntry{at, msg.bpm, kind};
            ++tempo_n;
        }
        bool rebased = false;
        if (map_live()) {
            std::size_t first = 0;
            while (first < tempo_n && tempos[first].pos < from) {
                ++first;
            }
            timeline.truncate_from_rt(from);
            for (std::size_t j = first; j < tempo_n; ++j) {
                if (apply_tempo(tempos[j], rebased) == Timeline::Status::full) {
                    // No room: forget this entry (and the ones after it stay out of the map
                    // until re-applied): refuse the new change.
                    for (std::size_t k = j; k + 1 < tempo_n; ++k) {
                        tempos[k] = tempos[k + 1];
                    }
                    --tempo_n;
                    refuse_tempo(f, Reason::tempo_map_full, at, msg.bpm);
                    retime();
                    return;
                }
            }
            retime();
        }
        if (lead && !msg.has_position && playing) {
            // Link gets the change at the boundary's time, so its grid and ours agree from
            // the boundary on (the beat at that time stays where it is).
            link_lead_tempo(msg.bpm, usecs_at(ideal_at(at)));
        }
        if (origin == TempoOrigin::correction) {
            return;
        }
        FromEngine m;
        m.kind = FromEngineKind::tempo_applied;
        m.reason = rebased ? Reason::not_exact : Reason::none;
        m.frame = playing ? frame_of(at) : 0;
        m.position = at;
        m.bpm = msg.bpm;
        feedback(m);
    }

    // The map from `from` on again, from the entries (after entries were removed).
    void reapply_from(Position from) noexcept RT_NONBLOCKING {
        timeline.truncate_from_rt(from);
        bool rebased = false;
        for (std::size_t j = 0; j < tempo_n; ++j) {
            if (!(tempos[j].pos < from)) {
                (void)apply_tempo(tempos[j], rebased);
            }
        }
        retime();
    }

    // The first step start of the current instance whose frame is at or after f, else the
    // next instance's start.
    Position next_step_boundary(Frame f) const noexcept RT_NONBLOCKING {
        std::int64_t n = timeline.first_step_at_or_after(f - offset, cur.start, cur.step);
        if (n < 0) {
            n = 0;
        }
        if (n >= cur.steps) {
            return cur.start + cur.length;
        }
        return cur.start + cur.step * Position(n);
    }

    void clear_tempo(Frame f) noexcept RT_NONBLOCKING {
        // Drop the changes not reached yet.
        std::size_t keep = 0;
        if (playing) {
            while (keep < tempo_n && frame_of(tempos[keep].pos) < f) {
                ++keep;
            }
        }
        if (keep == tempo_n) {
            return;
        }
        const Position from = tempos[keep].pos;
        tempo_n = keep;
        if (next_tempo > tempo_n) {
            next_tempo = tempo_n;
        }
        if (map_live()) {
            timeline.truncate_from_rt(from);
            retime();
        }
    }

    // Phase corrections are for the playing seq only.
    void drop_corrections() noexcept RT_NONBLOCKING {
        std::size_t k = 0;
        for (std::size_t j = 0; j < tempo_n; ++j) {
            if (tempos[j].kind != TempoKind::correction) {
                tempos[k++] = tempos[j];
            }
        }
        tempo_n = k;
        next_tempo = std::min(next_tempo, tempo_n);
    }

    // Called at the end of each cycle: changes whose frame has passed are in force.
    void pass_tempos(Frame end) noexcept RT_NONBLOCKING {
        if (!playing) {
            return;
        }
        while (next_tempo < tempo_n && frame_of(tempos[next_tempo].pos) < end) {
            bpm_now = tempos[next_tempo].bpm;
            if (tempos[next_tempo].kind == TempoKind::lead_at && link_live()) {
                link_lead_tempo(bpm_now, usecs_at(ideal_at(tempos[next_tempo].pos)));
            }
            if (following()) {
                ++next_tempo;
            } else {
                // Internal mode consumes changes: the map keeps only what is still needed.
                timeline.forget_before_rt(tempos[0].pos);
                for (std::size_t k = 0; k + 1 < tempo_n; ++k) {
                    tempos[k] = tempos[k + 1];
                }
                --tempo_n;
            }
        }
    }

    // ---- where to start --------------------------------------------------------------
    // A start target: a position (internal) or a song frame (follow: transport frame).
    struct Target {
        bool by_frame = false;
        Position pos;
        Frame song_frame = 0;
    };
    // Largest n >= 0 with base + n*step at or before the target (0 if none).
    std::int64_t count(const Target& t, Position base,
                       Position step) const noexcept RT_NONBLOCKING {
        std::int64_t n = 0;
        if (t.by_frame) {
            n = timeline.first_step_at_or_after(t.song_frame + 1, base, step) - 1;
        } else {
            const auto diff = checked_sub(t.pos, base);
            if (!diff) {
                return 0;
            }
            const auto q = checked_div(*diff, step);
            if (!q) {
                return 0;
            }
            n = q->floor();
        }
        return n < 0 ? 0 : n;
    }

    void begin_instance(const Model& m, Position start, std::uint8_t pattern, bool song,
                        std::uint8_t slot, std::uint8_t repeat,
                        std::uint64_t number) noexcept RT_NONBLOCKING {
        const Pattern& p = m.pattern[pattern % max_patterns];
        cur.start = start;
        cur.length = p.length();
        cur.steps = p.steps;
        cur.step = p.step_length();
        cur.swing = p.swing;
        cur.pattern = pattern;
        cur.song = song;
        cur.slot = slot;
        cur.repeat = repeat;
        cur.number = number;
        next_step = 0;
        next_q = start;
        next_q_frame = frame_of(next_q);
    }

    // Finds the instance containing the target and begins it. False when there is none
    // (song mode past the end of a chain that does not loop, or an empty chain).
    bool locate_instance(const Model& m, const Target& t) noexcept RT_NONBLOCKING {
        if (!m.song.enabled) {
            const Position len = m.pattern[m.selected].length();
            const std::int64_t n = count(t, Position(0), len);
            begin_instance(m, len * Position(n), m.selected, false, 0, 0,
                           static_cast<std::uint64_t>(n));
            return true;
        }
        const int slots = m.song.length;
        if (slots == 0) {
            return false;
        }
        Position total(0);
        std::uint64_t total_repeats = 0;
        for (int s = 0; s < slots; ++s) {
            const ChainSlot& c = m.song.chain[static_cast<std::size_t>(s)];
            total = total + m.pattern[c.pattern].length() * Position(c.repeats);
            total_repeats += c.repeats;
        }
        std::int64_t loops = m.song.loop ? count(t, Position(0), total) : 0;
        Position base = total * Position(loops);
        std::uint64_t number = static_cast<std::uint64_t>(loops) * total_repeats;
        for (int s = 0; s < slots; ++s) {
            const ChainSlot& c = m.song.chain[static_cast<std::size_t>(s)];
            const Position len = m.pattern[c.pattern].length();
            const Position span = len * Position(c.repeats);
            if (count(t, base, span) >= 1) {
                base = base + span;
                number += c.repeats;
                continue;
            }
            const std::int64_t rep = std::min<std::int64_t>(count(t, base, len), c.repeats - 1);
            begin_instance(m, base + len * Position(rep), c.pattern, true,
                           static_cast<std::uint8_t>(s), static_cast<std::uint8_t>(rep),
                           number + static_cast<std::uint64_t>(rep));
            return true;
        }
        return false;
    }

    // At the end of the current instance: the next one (pattern select, song chain), or
    // false when the song ends there.
    bool next_instance(const Model& m) noexcept RT_NONBLOCKING {
        const Position start = cur.start + cur.length;
        const std::uint64_t number = cur.number + 1;
        if (!m.song.enabled) {
            begin_instance(m, start, m.selected, false, 0, 0, number);
            return true;
        }
        const int slots = m.song.length;
        int slot = 0;
        int repeat = 0;
        if (cur.song) {
            slot = cur.slot;
            repeat = cur.repeat + 1;
            if (slot >= slots || repeat >= m.song.chain[cur.slot].repeats) {
                slot += 1;
                repeat = 0;
            }
        }
        if (slot >= slots) {
            if (!m.song.loop || slots == 0) {
                return false;
            }
            slot = 0;
        }
        begin_instance(m, start, m.song.chain[static_cast<std::size_t>(slot)].pattern, true,
                       static_cast<std::uint8_t>(slot), static_cast<std::uint8_t>(repeat), number);
        return true;
    }

    // ---- scheduling ------------------------------------------------------------------
    bool keep(Position pos, Frame frame) const noexcept RT_NONBLOCKING {
        switch (filter) {
        case Filter::none:
            return true;
        case Filter::position:
            return pos >= filter_pos;
        case Filter::frame:
            return frame - offset >= filter_song_frame;
        }
        return true;
    }

    void schedule_step(const Model& m, int k) noexcept RT_NONBLOCKING {
        const Pattern& pat = m.pattern[cur.pattern];
        const int tracks = std::min<int>(m.tracks, max_tracks);
        bool any_solo = false;
        for (int t = 0; t < tracks; ++t) {
            any_solo = any_solo || m.track[static_cast<std::size_t>(t)].solo;
        }
        const Position d = cur.step;
        const Position step_start = cur.start + d * Position(k);
        // Offsets within the step in units of d / (2000 * 96 * r): swing (w * d / 2),
        // microtiming (m * d / 96) and ratchet hits (j * d / r) share one denominator.
        const std::int64_t swing_u = (k % 2 == 1) ? std::int64_t{cur.swing} * 96 : 0;
        std::uint32_t mask = 0;
        for (int t = 0; t < tracks; ++t) {
            const Track& tr = m.track[static_cast<std::size_t>(t)];
            const Step& st = pat.grid[static_cast<std::size_t>(t)][static_cast<std::size_t>(k)];
            if (!st.on || tr.mute || (any_solo && !tr.solo)) {
                continue;
            }
            if (!step_fires(opt.seed, t, cur.number, k, st.probability)) {
                continue;
            }
            mask |= std::uint32_t{1} << t;
            const std::int64_t r = std::clamp<std::int64_t>(st.ratchet, 1, max_ratchet);
            // Hit j at S + rel_u * d / unit_den (one exact Rational each, few operations).
            const std::int64_t unit_den = 2000 * 96 * r;
            const std::int64_t hit_u = 2000 * 96;                     // one ratchet hit: d / r
            const std::int64_t gate_u = std::int64_t{tr.gate} * 2000; // g * (d / r) / 96
            const std::int64_t first_u =
                k * unit_den + (swing_u + std::int64_t{st.micro} * 2000) * r;
            const std::int64_t den = unit_den * d.den();
            for (std::int64_t j = 0; j < r; ++j) {
                // Never before the instance's start (an early step 0 plays at S).
                const std::int64_t rel_u = std::max<std::int64_t>(first_u + j * hit_u, 0);
                const Position e = cur.start + Position(rel_u * d.num(), den);
                const Frame on_frame = frame_of(e);
                if (!keep(e, on_frame)) {
                    continue;
                }
                const Position off = cur.start + Position((rel_u + gate_u) * d.num(), den);
                const Frame off_frame = frame_of(off);
                for (int l = 0; l < max_layers; ++l) {
                    const std::int8_t note = tr.notes[static_cast<std::size_t>(l)];
                    if ((st.layers & (1U << l)) == 0 || note < 0) {
                        continue;
                    }
                    NoteEvent ev;
                    ev.serial = ++serial;
                    ev.track = static_cast<std::uint8_t>(t);
                    ev.layer = static_cast<std::uint8_t>(l);
                    ev.channel = static_cast<std::uint8_t>(tr.channel & 0x0FU);
                    ev.note = static_cast<std::uint8_t>(note);
                    ev.velocity = st.velocity;
                    ev.on = true;
                    ev.pos = e;
                    if (free_n < 2) {
                        bump(n_dropped); // the pair stays whole: a note-on never hangs
                        continue;
                    }
                    push(ev, on_frame, class_on);
                    ev.on = false;
                    ev.on_pos = e;
                    ev.pos = off;
                    push(ev, off_frame, off_frame == on_frame ? class_off_late : class_off);
                }
            }
        }
        const Frame sync_frame = frame_of(step_start);
        if (keep(step_start, sync_frame)) {
            if (sync_n == sync.size()) {
                bump(n_dropped);
            } else {
                SyncEntry& s = sync[(sync_head + sync_n) % sync.size()];
                s.frame = sync_frame;
                s.pos = step_start;
                s.mask = mask;
                s.pattern = cur.pattern;
                s.step = static_cast<std::uint8_t>(k);
                s.slot = cur.slot;
                ++sync_n;
            }
        }
    }

    // The scheduling point of step k of the current instance (k == steps: the boundary).
    void set_next_q(int k) noexcept RT_NONBLOCKING {
        next_step = k;
        if (k == 0) {
            next_q = cur.start;
        } else if (k >= cur.steps) {
            next_q = cur.start + cur.length;
        } else {
            next_q = cur.start + cur.step * Position(2 * k - 1, 2);
        }
        next_q_frame = frame_of(next_q);
    }

    void schedule_next(const Model& m) noexcept RT_NONBLOCKING {
        if (next_step < cur.steps) {
            schedule_step(m, next_step);
            set_next_q(next_step + 1);
            return;
        }
        const Frame at = next_q_frame;
        filter = Filter::none; // later instances start after any start position
        if (!next_instance(m)) {
            stop_at(at, Reason::chain_end);
        }
    }

    void render(Frame from, Frame to) noexcept RT_NONBLOCKING {
        (void)from;
        while (playing) {
            const Frame t = next_q_frame < to ? next_q_frame : to;
            emit_until(t);
            if (next_q_frame >= to) {
                break;
            }
            schedule_next(*model);
        }
    }

    // ---- transport -------------------------------------------------------------------
    void started(Frame f, Position p) noexcept RT_NONBLOCKING {
        FromEngine m;
        m.kind = FromEngineKind::started;
        m.frame = f;
        m.position = p;
        feedback(m);
    }

    // Starts (or relocates) at frame f from the target. `fresh`: a new start (the map is
    // rebuilt in internal mode, FA when from position 0).
    void start_at(Frame f, const Target& t, bool fresh) noexcept RT_NONBLOCKING {
        const Model& m = *model;
        if (m.song.enabled && m.song.length == 0) {
            if (playing) {
                stop_at(f, Reason::empty_chain); // a locate into an emptied chain
                return;
            }
            FromEngine fb;
            fb.kind = FromEngineKind::stopped;
            fb.reason = Reason::empty_chain;
            fb.frame = f;
            feedback(fb);
            return;
        }
        if (playing) {
            all_notes_off(f);
        }
        if (!following()) {
            if (fresh) {
                rebuild_map();
                next_tempo = 0;
                bpm_now = start_tempo;
            }
            offset = f - song_emitted(t.pos);
            filter = t.pos == Position(0) ? Filter::none : Filter::position;
            filter_pos = t.pos;
        } else {
            offset = f - t.song_frame;
            filter = Filter::frame;
            filter_song_frame = t.song_frame;
            next_tempo = 0;
            bpm_now = start_tempo;
            while (next_tempo < tempo_n && song_emitted(tempos[next_tempo].pos) < t.song_frame) {
                bpm_now = tempos[next_tempo].bpm;
                ++next_tempo;
            }
        }
        playing = true;
        if (!locate_instance(m, t)) {
            playing = false;
            stop_at(f, Reason::chain_end);
            return;
        }
        // Clock: the first tick at or after the start.
        if (t.by_frame) {
            next_tick =
                timeline.first_step_at_or_after(t.song_frame, Position(0), Position(1, clock_ppqn));
        } else {
            next_tick = (t.pos * Position(clock_ppqn)).ceil();
        }
        if (next_tick < 0) {
            next_tick = 0;
        }
        next_tick_frame = frame_of(Position(next_tick, clock_ppqn));
        const bool from_zero = t.by_frame ? t.song_frame == 0 : t.pos == Position(0);
        if (from_zero && fresh) {
            write(port_clock, f, {midi_start});
        } else {
            const std::int64_t spp = std::min<std::int64_t>(next_tick / 6, 0x3FFF);
            write(port_clock, f,
                  {midi_song_position, static_cast<std::uint8_t>(spp & 0x7F),
                   static_cast<std::uint8_t>((spp >> 7) & 0x7F)});
            write(port_clock, f, {midi_continue});
        }
        if (t.by_frame) {
            started(f, Position(count(t, Position(0), Position(1, bbt_ticks)), bbt_ticks));
        } else {
            started(f, t.pos);
        }
    }

    void stop_at(Frame f, Reason why) noexcept RT_NONBLOCKING {
        if (playing) {
            all_notes_off(f);
            write(port_clock, f, {midi_stop});
            write(port_sync, f, {0xF0, sysex_id, 0x02, 0xF7});
            if (!following()) {
                // The tempo in force at f is the next start's tempo; changes not reached
                // stay scheduled.
                pass_tempos(f + 1);
                start_tempo = bpm_now;
                drop_corrections();
            }
        }
        link_stop_frame = no_frame;
        playing = false;
        has_cue = false;
        filter = Filter::none;
        FromEngine m;
        m.kind = FromEngineKind::stopped;
        m.reason = why;
        m.frame = f;
        feedback(m);
    }

    void apply(const ToEngine& msg, Frame f) noexcept RT_NONBLOCKING {
        switch (msg.kind) {
        case ToEngineKind::play:
            if (following() || playing || link_start_pending) {
                return;
            }
            if (link_live()) {
                // With Link: at the session's next bar line (start/stop sync tells the
                // other peers to start there too).
                Position p = msg.has_position ? msg.position : (has_cue ? cue : Position(0));
                if (p < Position(0)) {
                    p = Position(0);
                }
                has_cue = false;
                link_arm_start(usecs_at(static_cast<double>(f)), p);
                link_lead_playing(true, opt.link->usecs_at_beat(link_start_beat));
                return;
            }
            {
                Target t;
                t.pos = msg.has_position ? msg.position : (has_cue ? cue : Position(0));
                if (t.pos < Position(0)) {
                    t.pos = Position(0);
                }
                has_cue = false;
                start_at(f, t, true);
            }
            return;
        case ToEngineKind::stop:
            if (link_live() && (playing || link_start_pending)) {
                link_start_pending = false;
                link_lead_playing(false, usecs_at(static_cast<double>(f)));
            }
            if (!following() && playing) {
                stop_at(f, Reason::user);
            }
            return;
        case ToEngineKind::locate:
            if (following() || msg.position < Position(0)) {
                return;
            }
            if (playing) {
                Target t;
                t.pos = msg.position;
                start_at(f, t, false);
            } else {
                cue = msg.position;
                has_cue = true;
            }
            return;
        case ToEngineKind::tempo:
            tempo_message(msg, f);
            return;
        case ToEngineKind::clear_tempo:
            clear_tempo(f);
            return;
        }
    }

    // follow/master: JACK transport at the cycle start drives start, stop and locate.
    void follow_transport(const jack::Cycle& c) noexcept RT_NONBLOCKING {
        if (!following() || !c.transport.valid) {
            return;
        }
        const bool rolling = c.transport.state == jack::TransportState::rolling;
        const std::uint32_t tf = c.transport.frame;
        if (rolling) {
            Target t;
            t.by_frame = true;
            t.song_frame = tf;
            if (!playing) {
                if (!start_refused) {
                    start_at(c.start, t, true);
                    start_refused = !playing;
                }
            } else if (tf != t_expected) {
                start_at(c.start, t, false);
            }
            t_expected = tf + c.nframes;
        } else {
            start_refused = false;
            if (playing) {
                stop_at(c.start, Reason::user);
            }
        }
    }

    // ---- Ableton Link (docs/seq.md, "Ableton Link") -------------------------------------
    bool link_live() const noexcept RT_NONBLOCKING {
        return opt.link != nullptr && opt.transport == TransportMode::internal && cyc != nullptr &&
               rate != 0 && cyc->usecs != 0 && cyc->next_usecs > cyc->usecs && cyc->nframes > 0;
    }
    // JACK µs at a (fractional) frame and back, along this cycle's line (as
    // jack_frames_to_time and jack_time_to_frames draw it).
    double usecs_at(double frame) const noexcept RT_NONBLOCKING {
        const double span = static_cast<double>(cyc->next_usecs - cyc->usecs);
        return static_cast<double>(cyc->usecs) +
               (frame - static_cast<double>(cyc->start)) * span / cyc->nframes;
    }
    double frame_at(double usecs) const noexcept RT_NONBLOCKING {
        const double span = static_cast<double>(cyc->next_usecs - cyc->usecs);
        return static_cast<double>(cyc->start) +
               (usecs - static_cast<double>(cyc->usecs)) * cyc->nframes / span;
    }
    // The ideal frame of a position as a double (frame time).
    double ideal_at(Position p) const noexcept RT_NONBLOCKING {
        const IdealFrame i = timeline.ideal_frame(p);
        return static_cast<double>(i.floor() + offset) + i.fraction();
    }
    // Link keeps a tempo as whole microseconds per beat: two tempos are the same to Link
    // when they give the same.
    static bool same_link_tempo(double link_bpm, Bpm ours) noexcept RT_NONBLOCKING {
        return std::llround(60e6 / link_bpm) == std::llround(60e6 / ours.to_double());
    }
    // A Link tempo as the seq takes it: to 1/1000 BPM, as a float over OSC.
    static Bpm link_round(double bpm) noexcept RT_NONBLOCKING {
        return Bpm(std::llround(bpm * 1000.0), 1000);
    }
    // The tempo the seq is at, or is about to be at (pending plain changes and phase
    // corrections; a /seq/tempo/at change is Link's business only once it is reached).
    Bpm link_target_tempo() const noexcept RT_NONBLOCKING {
        for (std::size_t j = tempo_n; j-- > 0;) {
            if (tempos[j].kind != TempoKind::lead_at) {
                return tempos[j].bpm;
            }
        }
        return playing ? bpm_now : start_tempo;
    }
    void link_lead_tempo(Bpm bpm, double usecs) noexcept RT_NONBLOCKING {
        opt.link->request_tempo(bpm.to_double(), std::llround(usecs));
        link_expect_bpm = bpm;
        link_expect_bpm_valid = true;
        link_expect_bpm_until = cyc->start + rate; // Link shows it within ms; else give up
    }
    void link_lead_playing(bool on, double usecs) noexcept RT_NONBLOCKING {
        opt.link->request_playing(on, std::llround(usecs));
        link_expect_play = on;
        link_expect_play_valid = true;
        link_expect_play_until = cyc->start + rate;
        link_seen_playing = on;
    }
    // Playing starts at the first Link beat at or after the one at `usecs` that has the
    // phase of `pos` in a bar (position 0 starts on a bar line).
    void link_arm_start(double usecs, Position pos) noexcept RT_NONBLOCKING {
        const double b = opt.link->beat_at(std::llround(usecs));
        const double phase = std::fmod(pos.to_double(), link_quantum);
        constexpr double on_the_line = 1e-3; // beats: Link's µs rounding, not a late start
        link_start_beat =
            phase + link_quantum * std::ceil((b - on_the_line - phase) / link_quantum);
        link_start_pos = pos;
        link_start_pending = true;
        link_stop_frame = no_frame;
    }
    // The next frame at which Link starts or stops the seq (no_frame: none).
    Frame link_event_frame() const noexcept RT_NONBLOCKING {
        if (!link_live()) {
            return no_frame;
        }
        if (link_start_pending) {
            const double f = frame_at(opt.link->usecs_at_beat(link_start_beat));
            return static_cast<Frame>(std::ceil(f - 1e-6));
        }
        return link_stop_frame;
    }
    void link_event(Frame f) noexcept RT_NONBLOCKING {
        if (link_start_pending) {
            link_start_pending = false;
            const Bpm t = link_round(opt.link->tempo());
            if (valid_bpm(t) && !same_link_tempo(opt.link->tempo(), start_tempo)) {
                start_tempo = t;
                bpm_now = t;
            }
            Target target;
            target.pos = link_start_pos;
            start_at(f, target, true);
            return;
        }
        link_stop_frame = no_frame;
        if (playing) {
            stop_at(f, Reason::user);
        }
    }

    // Once per cycle, at its start: Link's snapshot; start/stop, tempo, then phase.
    void link_cycle(const jack::Cycle& c) noexcept RT_NONBLOCKING {
        if (!link_live()) {
            return;
        }
        LinkSession& link = *opt.link;
        link.capture();
        // Start/stop sync. Our own requests show up in the session a little later: until
        // they do (or for a second), the session's older state is not news.
        const bool lp = link.playing();
        if (link_expect_play_valid &&
            (lp == link_expect_play || c.start >= link_expect_play_until)) {
            link_expect_play_valid = false;
        }
        if (!link_expect_play_valid && lp != link_seen_playing) {
            link_seen_playing = lp;
            const double since = static_cast<double>(link.playing_changed_at());
            if (lp) {
                if (!playing && !link_start_pending) {
                    link_arm_start(std::max(since, usecs_at(static_cast<double>(c.start))),
                                   has_cue ? cue : Position(0));
                    has_cue = false;
                }
            } else if (link_start_pending) {
                link_start_pending = false;
            } else if (playing) {
                link_stop_frame =
                    std::max(static_cast<Frame>(std::ceil(frame_at(since) - 1e-6)), c.start);
            }
        }
        // Tempo: a change in the session lands at the next step boundary, like /seq/tempo.
        const double lt = link.tempo();
        if (link_expect_bpm_valid &&
            (same_link_tempo(lt, link_expect_bpm) || c.start >= link_expect_bpm_until)) {
            link_expect_bpm_valid = false;
        }
        if (!link_expect_bpm_valid && !same_link_tempo(lt, link_target_tempo())) {
            ToEngine m;
            m.kind = ToEngineKind::tempo;
            m.bpm = link_round(lt);
            if (valid_bpm(m.bpm)) {
                tempo_message(m, c.start, TempoOrigin::link);
                bump(n_link_follows);
            }
        }
        link_phase(c);
    }

    // Phase lock: when the next step boundary is off Link's grid by more than the
    // tolerance, the step from it is played at the tempo that lands its end on the grid,
    // then the session's tempo again (two exact tempo changes, never a jump).
    void link_phase(const jack::Cycle& c) noexcept RT_NONBLOCKING {
        if (!playing || link_start_pending || link_stop_frame != no_frame) {
            return;
        }
        const Position pb = next_step_boundary(c.start);
        const Position pe = pb + cur.step;
        for (std::size_t j = 0; j < tempo_n; ++j) {
            if (tempos[j].kind != TempoKind::lead_at || !(pe < tempos[j].pos)) {
                return; // a change is on its way: look again once it is in force
            }
        }
        LinkSession& link = *opt.link;
        const double ib = ideal_at(pb);
        const double b = link.beat_at(std::llround(usecs_at(ib)));
        // The beat with pb's phase in a bar nearest to where Link is.
        const double pbd = std::fmod(pb.to_double(), link_quantum);
        double diff = std::fmod(b - pbd, link_quantum);
        if (diff < 0) {
            diff += link_quantum;
        }
        if (diff > link_quantum / 2) {
            diff -= link_quantum;
        }
        const double target = b - diff;
        const double err = frame_at(link.usecs_at_beat(target)) - ib;
        const double tolerance = std::max(1.0, static_cast<double>(rate) * link_tolerance_s);
        if (std::fabs(err) <= tolerance) {
            return;
        }
        const Bpm tempo = link_target_tempo();
        const double d = cur.step.to_double();
        const double nominal = d * 60.0 * rate / tempo.to_double();
        double span = frame_at(link.usecs_at_beat(target + d)) - ib;
        span = std::clamp(span, nominal * 3 / 4, nominal * 4 / 3);
        const Bpm nudge = link_round(d * 60.0 * rate / span);
        if (!valid_bpm(nudge)) {
            return;
        }
        ToEngine m;
        m.kind = ToEngineKind::tempo;
        m.has_position = true;
        m.position = pb;
        m.bpm = nudge;
        tempo_message(m, c.start, TempoOrigin::correction);
        m.position = pe;
        m.bpm = tempo;
        tempo_message(m, c.start, TempoOrigin::correction);
        bump(n_link_corrections);
    }

    void publish_status(const jack::Cycle& c) noexcept RT_NONBLOCKING {
        EngineStatus s;
        s.playing = playing;
        s.pattern = playing ? st_pattern : model->selected;
        s.step = st_step;
        s.slot = st_slot;
        s.instances = playing ? cur.number + 1 : 0;
        s.frame = c.end();
        s.bpm = bpm_now;
        status.store(s);
    }

    void process(jack::Cycle& c) noexcept RT_NONBLOCKING {
        cyc = &c;
        const Model* m = owner.model_.acquire();
        model = m != nullptr ? m : fallback.get();
        if (c.rate != 0 && c.rate != rate) {
            // First cycle, or a new sample rate: start over (nothing can carry over).
            if (playing) {
                stop_at(c.start, Reason::user);
            }
            rate = c.rate;
            rebuild_map();
        }
        follow_transport(c);
        link_cycle(c);
        Frame cur_frame = c.start;
        const Frame end = c.end();
        for (;;) {
            const ToEngine* msg = owner.to_engine_.try_front();
            Frame at = end;
            if (msg != nullptr) {
                at = msg->frame == asap ? c.start : msg->frame;
                at = std::max(at, cur_frame); // due already: as soon as possible
            }
            // Link starts and stops the seq at exact frames too (before a message there).
            const Frame lf = std::max(link_event_frame(), cur_frame);
            if (lf < end && lf <= at && rate != 0) {
                render(cur_frame, lf);
                cur_frame = lf;
                link_event(lf);
                continue;
            }
            if (msg == nullptr || at >= end) {
                break; // none, or a later cycle's
            }
            const ToEngine copy = *msg;
            owner.to_engine_.pop_front();
            if (rate != 0) {
                render(cur_frame, at);
                cur_frame = at;
                apply(copy, at);
            }
        }
        if (rate != 0) {
            render(cur_frame, end);
            pass_tempos(end);
        }
        publish_status(c);
        owner.model_.release();
        bump(n_cycles);
        cyc = nullptr;
        model = nullptr;
    }

    bool timebase(std::uint32_t transport_frame, jack::Bbt& out) const noexcept RT_NONBLOCKING {
        if (opt.transport != TransportMode::master || rate == 0) {
            return false;
        }
        // floor(position * 1920): the last tick whose ideal frame is at or before the frame.
        std::int64_t ticks = timeline.first_step_at_or_after(Frame{transport_frame} + 1,
                                                             Position(0), Position(1, bbt_ticks)) -
                             1;
        if (ticks < 0) {
            ticks = 0;
        }
        const std::int64_t per_bar = bbt_ticks * beats_per_bar;
        const std::int64_t bar = ticks / per_bar;
        out.bar = static_cast<std::int32_t>(bar + 1);
        out.beat = static_cast<std::int32_t>((ticks / bbt_ticks) % beats_per_bar + 1);
        out.tick = static_cast<std::int32_t>(ticks % bbt_ticks);
        out.bar_start_tick = static_cast<double>(bar * per_bar);
        out.beats_per_bar = static_cast<float>(beats_per_bar);
        out.beat_type = 4;
        out.ticks_per_beat = static_cast<double>(bbt_ticks);
        out.beats_per_minute = timeline.tempo_at(Position(ticks, bbt_ticks)).to_double();
        return true;
    }
};

Engine::Engine(EngineOptions options, Published<Model>& model)
    : options_(options), model_(model), to_engine_(options.queue_capacity),
      from_engine_(options.queue_capacity), impl_(new Impl(options_, *this)) {}

Engine::~Engine() {
    delete impl_;
}

void Engine::process(jack::Cycle& cycle) noexcept RT_NONBLOCKING {
    impl_->process(cycle);
}

bool Engine::timebase(std::uint32_t transport_frame, jack::Bbt& out) noexcept RT_NONBLOCKING {
    return impl_->timebase(transport_frame, out);
}

bool Engine::send(const ToEngine& message) noexcept {
    return to_engine_.try_push(message);
}

bool Engine::receive(FromEngine& out) noexcept {
    return from_engine_.try_pop(out);
}

EngineStatus Engine::status() const noexcept {
    EngineStatus s;
    if (!impl_->status.load(s)) {
        s.bpm = options_.tempo; // no cycle yet
    }
    return s;
}

EngineCounters Engine::counters() const noexcept {
    EngineCounters c;
    c.cycles = impl_->n_cycles.load(std::memory_order_relaxed);
    c.notes = impl_->n_notes.load(std::memory_order_relaxed);
    c.midi_refused = impl_->n_refused.load(std::memory_order_relaxed);
    c.feedback_dropped = impl_->n_feedback_dropped.load(std::memory_order_relaxed);
    c.tempo_refused = impl_->n_tempo_refused.load(std::memory_order_relaxed);
    c.events_dropped = impl_->n_dropped.load(std::memory_order_relaxed);
    c.link_tempo_follows = impl_->n_link_follows.load(std::memory_order_relaxed);
    c.link_phase_corrections = impl_->n_link_corrections.load(std::memory_order_relaxed);
    return c;
}

} // namespace lockstep::seq
