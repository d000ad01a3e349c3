#include "osc_api.hpp"

#include "service/log.hpp"

#include <cmath>
#include <limits>
#include <memory>
#include <utility>

namespace lockstep::seq {

using osc::Arg;
using osc::Context;
using osc::Message;
using osc::range;

namespace {

constexpr double int32_max = std::numeric_limits<std::int32_t>::max();

Message msg(std::string path, std::vector<Arg> args = {}) {
    return Message(std::move(path), std::move(args));
}
Arg i32(int v) {
    return Arg::int32(v);
}

const char* describe(Reason r) noexcept {
    switch (r) {
    case Reason::none:
        return "no reason";
    case Reason::user:
        return "stopped";
    case Reason::chain_end:
        return "end of the song chain";
    case Reason::empty_chain:
        return "song mode with an empty chain: nothing to play";
    case Reason::tempo_map_full:
        return "too many scheduled tempo changes";
    case Reason::not_exact:
        return "tempo change refused: the exact tempo map would exceed its limit";
    case Reason::bad_position:
        return "tempo change refused: its position has already been played";
    case Reason::bad_tempo:
        return "tempo change refused: not a valid tempo";
    }
    return "unknown";
}

void emit_step_diff(int p, int t, int k, const Step& a, const Step& b, const OscApi::Sink& sink) {
    const auto send = [&](const char* path, int v) {
        sink(msg(path, {i32(p), i32(t), i32(k), i32(v)}));
    };
    if (a.on != b.on) {
        send("/seq/step", b.on ? 1 : 0);
    }
    if (a.velocity != b.velocity) {
        send("/seq/step/velocity", b.velocity);
    }
    if (a.probability != b.probability) {
        send("/seq/step/probability", b.probability);
    }
    if (a.ratchet != b.ratchet) {
        send("/seq/step/ratchet", b.ratchet);
    }
    if (a.micro != b.micro) {
        send("/seq/step/micro", b.micro);
    }
    if (a.layers != b.layers) {
        send("/seq/step/layers", b.layers);
    }
}

} // namespace

void emit_pattern_diff(int index, const Pattern& before, const Pattern& after,
                       const OscApi::Sink& sink, bool header_always) {
    if (header_always || before.steps != after.steps) {
        sink(msg("/seq/pattern/length", {i32(index), i32(after.steps)}));
    }
    if (header_always || before.beats_num != after.beats_num ||
        before.beats_den != after.beats_den) {
        sink(msg("/seq/pattern/beats", {i32(index), i32(after.beats_num), i32(after.beats_den)}));
    }
    if (header_always || before.swing != after.swing) {
        sink(msg("/seq/swing", {i32(index), Arg::float32(static_cast<float>(after.swing) /
                                                         static_cast<float>(swing_units))}));
    }
    for (std::size_t t = 0; t < after.grid.size(); ++t) {
        if (before.grid[t] == after.grid[t]) {
            continue;
        }
        for (std::size_t k = 0; k < after.grid[t].size(); ++k) {
            emit_step_diff(index, static_cast<int>(t), static_cast<int>(k), before.grid[t][k],
                           after.grid[t][k], sink);
        }
    }
}

void emit_track_diff(int index, const Track& before, const Track& after, const OscApi::Sink& sink,
                     bool always) {
    if (always || before.channel != after.channel) {
        sink(msg("/seq/track/channel", {i32(index), i32(after.channel + 1)}));
    }
    for (std::size_t l = 0; l < after.notes.size(); ++l) {
        if (always || before.notes[l] != after.notes[l]) {
            sink(msg("/seq/track/note",
                     {i32(index), i32(static_cast<int>(l)), i32(after.notes[l])}));
        }
    }
    if (always || before.gate != after.gate) {
        sink(msg("/seq/track/gate", {i32(index), i32(after.gate)}));
    }
    if (always || before.mute != after.mute) {
        sink(msg("/seq/track/mute", {i32(index), i32(after.mute ? 1 : 0)}));
    }
    if (always || before.solo != after.solo) {
        sink(msg("/seq/track/solo", {i32(index), i32(after.solo ? 1 : 0)}));
    }
}

void emit_song_diff(const Song& before, const Song& after, const OscApi::Sink& sink, bool always) {
    if (always || before.enabled != after.enabled) {
        sink(msg("/seq/song", {i32(after.enabled ? 1 : 0)}));
    }
    if (always || before.loop != after.loop) {
        sink(msg("/seq/song/loop", {i32(after.loop ? 1 : 0)}));
    }
    if (always || before.length != after.length) {
        sink(msg("/seq/chain/length", {i32(after.length)}));
    }
    for (std::size_t i = 0; i < after.length; ++i) {
        if (always || i >= before.length || !(before.chain[i] == after.chain[i])) {
            sink(msg("/seq/chain/set", {i32(static_cast<int>(i)), i32(after.chain[i].pattern),
                                        i32(after.chain[i].repeats)}));
        }
    }
}

// ---- OscApi -------------------------------------------------------------------------

OscApi::OscApi(osc::Endpoint& endpoint, EngineLink& engine, Published<Model>& model, State initial,
               Options options)
    : endpoint_(endpoint), engine_(engine), published_(model), options_(std::move(options)),
      state_(std::move(initial)), tempo_in_force_(state_.tempo) {
    normalize(state_.model);
    register_paths();
}

void OscApi::changed() {
    ++revision_;
    last_change_ = std::chrono::steady_clock::now();
}

void OscApi::publish_now() {
    if (publish_pending_) {
        published_.publish(std::make_unique<const Model>(state_.model));
        publish_pending_ = false;
    }
}

void OscApi::poll() {
    publish_now();
    FromEngine f;
    while (engine_.receive(f)) {
        on_feedback(f);
    }
    published_.collect();
}

Frame OscApi::frame_of(const Context& ctx) noexcept {
    return ctx.frame && *ctx.frame >= 0 ? *ctx.frame : asap;
}

bool OscApi::send(const ToEngine& message, Context& ctx) {
    publish_now();
    if (!engine_.send(message)) {
        ctx.error("engine queue full");
        return false;
    }
    return true;
}

void OscApi::on_feedback(const FromEngine& f) {
    switch (f.kind) {
    case FromEngineKind::started:
        playing_ = true;
        endpoint_.notify(msg("/seq/play"));
        break;
    case FromEngineKind::stopped:
        playing_ = false;
        endpoint_.notify(msg("/seq/stop"));
        if (f.reason == Reason::empty_chain) {
            endpoint_.notify(
                msg("/seq/error", {Arg::string("/seq/play"), Arg::string(describe(f.reason))}));
        }
        break;
    case FromEngineKind::step:
        endpoint_.notify(msg("/seq/position", {i32(f.pattern), i32(f.step)}));
        break;
    case FromEngineKind::tempo_applied:
        tempo_in_force_ = f.bpm;
        endpoint_.notify(msg("/seq/tempo", {Arg::float32(static_cast<float>(f.bpm.to_double()))}));
        break;
    case FromEngineKind::tempo_refused:
        log::warning("seq: %s", describe(f.reason));
        endpoint_.notify(
            msg("/seq/error", {Arg::string("/seq/tempo"), Arg::string(describe(f.reason))}));
        break;
    }
}

void OscApi::add_pattern_path(const std::string& path, const std::string& types,
                              std::vector<osc::Constraint> constraints, PatternEdit edit) {
    auto run = [this, edit = std::move(edit)](int p, const Args& tail, Context& ctx) {
        Pattern& target = state_.model.pattern[static_cast<std::size_t>(p)];
        const Pattern before = target;
        if (std::string e = edit(target, tail); !e.empty()) {
            ctx.error(e);
            return;
        }
        if (target == before) {
            return;
        }
        publish_pending_ = true;
        changed();
        emit_pattern_diff(p, before, target, [this](const Message& m) { endpoint_.notify(m); });
    };
    endpoint_.add(path, types, constraints, [this, run](const Message& m, Context& ctx) {
        run(state_.model.selected, m.args, ctx);
    });
    std::vector<osc::Constraint> explicit_constraints{range(0, max_patterns - 1)};
    explicit_constraints.insert(explicit_constraints.end(), constraints.begin(), constraints.end());
    endpoint_.add(path, "i" + types, explicit_constraints, [run](const Message& m, Context& ctx) {
        run(m.args[0].i(), Args(m.args.begin() + 1, m.args.end()), ctx);
    });
}

void OscApi::add_model_path(const std::string& path, const std::string& types,
                            std::vector<osc::Constraint> constraints, ModelEdit edit) {
    endpoint_.add(path, types, std::move(constraints),
                  [this, edit = std::move(edit)](const Message& m, Context& ctx) {
                      Model& model = state_.model;
                      // Model edits touch everything but the patterns (copy has its own path).
                      const auto tracks = model.tracks;
                      const auto selected = model.selected;
                      const auto track = model.track;
                      const Song song = model.song;
                      if (std::string e = edit(model, m.args); !e.empty()) {
                          ctx.error(e);
                          return;
                      }
                      normalize(model);
                      if (tracks == model.tracks && selected == model.selected &&
                          track == model.track && song == model.song) {
                          return;
                      }
                      publish_pending_ = true;
                      changed();
                      const Sink sink = [this](const Message& out) { endpoint_.notify(out); };
                      if (tracks != model.tracks) {
                          sink(msg("/seq/tracks", {i32(model.tracks)}));
                      }
                      if (selected != model.selected) {
                          sink(msg("/seq/pattern/select", {i32(model.selected)}));
                      }
                      for (std::size_t t = 0; t < track.size(); ++t) {
                          emit_track_diff(static_cast<int>(t), track[t], model.track[t], sink);
                      }
                      emit_song_diff(song, model.song, sink);
                  });
}

namespace {

template <typename T>
void set_field(T& field, int value) {
    field = static_cast<T>(value);
}

Step& step_at(Pattern& p, const std::vector<Arg>& tail) {
    return p.grid[static_cast<std::size_t>(tail[0].i())][static_cast<std::size_t>(tail[1].i())];
}

} // namespace

void OscApi::register_paths() {
    const auto track_c = range(0, max_tracks - 1);
    const auto step_c = range(0, max_steps - 1);

    // ---- steps ([pattern] track step value) --------------------------------------------
    struct StepField {
        const char* path;
        double lo, hi;
        void (*set)(Step&, int);
    };
    static constexpr StepField fields[] = {
        {"/seq/step", 0, 1, [](Step& s, int v) { s.on = v != 0; }},
        {"/seq/step/velocity", 1, 127, [](Step& s, int v) { set_field(s.velocity, v); }},
        {"/seq/step/probability", 0, 100, [](Step& s, int v) { set_field(s.probability, v); }},
        {"/seq/step/ratchet", 1, max_ratchet, [](Step& s, int v) { set_field(s.ratchet, v); }},
        {"/seq/step/micro", -max_micro, max_micro, [](Step& s, int v) { set_field(s.micro, v); }},
        {"/seq/step/layers", 0, (1 << max_layers) - 1,
         [](Step& s, int v) { set_field(s.layers, v); }},
    };
    for (const StepField& f : fields) {
        add_pattern_path(f.path, "iii", {track_c, step_c, range(f.lo, f.hi)},
                         [set = f.set](Pattern& p, const Args& a) {
                             set(step_at(p, a), a[2].i());
                             return std::string();
                         });
    }

    // ---- patterns -----------------------------------------------------------------------
    add_pattern_path("/seq/pattern/length", "i", {range(1, max_steps)},
                     [](Pattern& p, const Args& a) {
                         set_field(p.steps, a[0].i());
                         return std::string();
                     });
    add_pattern_path("/seq/pattern/beats", "ii",
                     {range(1, 64 * 16), range(1, max_steps * micro_units)},
                     [](Pattern& p, const Args& a) {
                         const Rational beats(a[0].i(), a[1].i()); // reduced; only shrinks
                         p.beats_num = static_cast<std::int32_t>(beats.num());
                         p.beats_den = static_cast<std::int32_t>(beats.den());
                         return std::string();
                     });
    add_pattern_path("/seq/swing", "f", {range(0, 1)}, [](Pattern& p, const Args& a) {
        p.swing = static_cast<std::int16_t>(
            std::llround(static_cast<double>(a[0].f()) * static_cast<double>(swing_units)));
        return std::string();
    });
    add_pattern_path("/seq/pattern/clear", "", {}, [](Pattern& p, const Args&) {
        for (auto& row : p.grid) {
            row.fill(Step{});
        }
        return std::string();
    });
    add_model_path("/seq/pattern/select", "i", {range(0, max_patterns - 1)},
                   [](Model& m, const Args& a) {
                       set_field(m.selected, a[0].i());
                       return std::string();
                   });
    endpoint_.add("/seq/pattern/copy", "ii",
                  {range(0, max_patterns - 1), range(0, max_patterns - 1)},
                  [this](const Message& m, Context&) {
                      const auto from = static_cast<std::size_t>(m.args[0].i());
                      const auto to = static_cast<std::size_t>(m.args[1].i());
                      const Pattern before = state_.model.pattern[to];
                      state_.model.pattern[to] = state_.model.pattern[from];
                      if (before == state_.model.pattern[to]) {
                          return;
                      }
                      publish_pending_ = true;
                      changed();
                      emit_pattern_diff(static_cast<int>(to), before, state_.model.pattern[to],
                                        [this](const Message& out) { endpoint_.notify(out); });
                  });

    // ---- tracks -------------------------------------------------------------------------
    add_model_path("/seq/tracks", "i", {range(1, max_tracks)}, [](Model& m, const Args& a) {
        set_field(m.tracks, a[0].i());
        return std::string();
    });
    add_model_path("/seq/track/channel", "ii", {track_c, range(1, 16)},
                   [](Model& m, const Args& a) {
                       set_field(m.track[static_cast<std::size_t>(a[0].i())].channel, a[1].i() - 1);
                       return std::string();
                   });
    add_model_path("/seq/track/note", "iii", {track_c, range(0, max_layers - 1), range(-1, 127)},
                   [](Model& m, const Args& a) {
                       set_field(m.track[static_cast<std::size_t>(a[0].i())]
                                     .notes[static_cast<std::size_t>(a[1].i())],
                                 a[2].i());
                       return std::string();
                   });
    add_model_path("/seq/track/gate", "ii", {track_c, range(1, micro_units)},
                   [](Model& m, const Args& a) {
                       set_field(m.track[static_cast<std::size_t>(a[0].i())].gate, a[1].i());
                       return std::string();
                   });
    add_model_path("/seq/track/mute", "ii", {track_c, range(0, 1)}, [](Model& m, const Args& a) {
        m.track[static_cast<std::size_t>(a[0].i())].mute = a[1].i() != 0;
        return std::string();
    });
    add_model_path("/seq/track/solo", "ii", {track_c, range(0, 1)}, [](Model& m, const Args& a) {
        m.track[static_cast<std::size_t>(a[0].i())].solo = a[1].i() != 0;
        return std::string();
    });

    // ---- song mode and chain ------------------------------------------------------------
    add_model_path("/seq/song", "i", {range(0, 1)}, [](Model& m, const Args& a) {
        m.song.enabled = a[0].i() != 0;
        return std::string();
    });
    add_model_path("/seq/song/loop", "i", {range(0, 1)}, [](Model& m, const Args& a) {
        m.song.loop = a[0].i() != 0;
        return std::string();
    });
    const auto slot_c = range(0, max_chain - 1);
    const auto pattern_c = range(0, max_patterns - 1);
    const auto repeats_c = range(1, max_repeats);
    const auto slot_of = [](const Args& a) {
        return ChainSlot{static_cast<std::uint8_t>(a[1].i()),
                         static_cast<std::uint8_t>(a.size() > 2 ? a[2].i() : 1)};
    };
    for (const char* types : {"ii", "iii"}) {
        std::vector<osc::Constraint> c{slot_c, pattern_c};
        if (std::string(types) == "iii") {
            c.push_back(repeats_c);
        }
        add_model_path("/seq/chain/set", types, c, [slot_of](Model& m, const Args& a) {
            const int slot = a[0].i();
            if (slot > m.song.length) {
                return "slot " + std::to_string(slot) + " is past the chain's end (length " +
                       std::to_string(m.song.length) + ")";
            }
            if (slot == m.song.length) {
                ++m.song.length; // setting the slot just past the end appends
            }
            m.song.chain[static_cast<std::size_t>(slot)] = slot_of(a);
            return std::string();
        });
        add_model_path("/seq/chain/insert", types, c, [slot_of](Model& m, const Args& a) {
            const int slot = a[0].i();
            if (m.song.length >= max_chain) {
                return std::string("chain full (128 slots)");
            }
            if (slot > m.song.length) {
                return "slot " + std::to_string(slot) + " is past the chain's end (length " +
                       std::to_string(m.song.length) + ")";
            }
            auto& chain = m.song.chain;
            for (std::size_t i = m.song.length; i > static_cast<std::size_t>(slot); --i) {
                chain[i] = chain[i - 1];
            }
            chain[static_cast<std::size_t>(slot)] = slot_of(a);
            ++m.song.length;
            return std::string();
        });
    }
    add_model_path("/seq/chain/remove", "i", {slot_c}, [](Model& m, const Args& a) {
        const int slot = a[0].i();
        if (slot >= m.song.length) {
            return "slot " + std::to_string(slot) + " is past the chain's end (length " +
                   std::to_string(m.song.length) + ")";
        }
        auto& chain = m.song.chain;
        for (std::size_t i = static_cast<std::size_t>(slot); i + 1 < m.song.length; ++i) {
            chain[i] = chain[i + 1];
        }
        --m.song.length;
        return std::string(); // normalize() resets the freed slot
    });
    add_model_path("/seq/chain/clear", "", {}, [](Model& m, const Args&) {
        m.song.length = 0;
        return std::string();
    });
    add_model_path("/seq/chain/length", "i", {range(0, max_chain)}, [](Model& m, const Args& a) {
        set_field(m.song.length, a[0].i()); // new slots are already default (normalized)
        return std::string();
    });

    add_transport_paths();
    endpoint_.on_query([this](Context& ctx) { dump([&ctx](const Message& m) { ctx.reply(m); }); });
}

void OscApi::add_transport_paths() {
    const auto transport = [this](bool start, Context& ctx) {
        if (options_.transport == TransportMode::follow) {
            // JACK transport drives the engine; ask JACK.
            if (!options_.jack_transport || !options_.jack_transport(start)) {
                ctx.error(start ? "JACK transport did not start" : "JACK transport did not stop");
            }
            return;
        }
        ToEngine t;
        t.kind = start ? ToEngineKind::play : ToEngineKind::stop;
        t.frame = frame_of(ctx);
        if (!send(t, ctx)) {
            return;
        }
        if (options_.transport == TransportMode::master && options_.jack_transport &&
            !options_.jack_transport(start)) {
            log::warning("seq: JACK transport refused to %s", start ? "start" : "stop");
        }
    };
    endpoint_.add("/seq/play", "",
                  [transport](const Message&, Context& ctx) { transport(true, ctx); });
    endpoint_.add("/seq/stop", "",
                  [transport](const Message&, Context& ctx) { transport(false, ctx); });

    const auto locate = [this](Position at, Context& ctx) {
        ToEngine t;
        t.kind = ToEngineKind::locate;
        t.frame = frame_of(ctx);
        t.has_position = true;
        t.position = at;
        send(t, ctx);
    };
    endpoint_.add(
        "/seq/locate", "i", {range(0, int32_max)},
        [locate](const Message& m, Context& ctx) { locate(Position(m.args[0].i()), ctx); });
    endpoint_.add("/seq/locate", "ii", {range(0, int32_max), range(1, int32_max)},
                  [locate](const Message& m, Context& ctx) {
                      locate(Position(m.args[0].i(), m.args[1].i()), ctx);
                  });

    // Tempo: f read to 1/1000 BPM, s a decimal or a fraction (exact).
    const auto tempo_arg = [](const Arg& a, std::string& why) -> std::optional<Bpm> {
        return a.type() == 'f' ? bpm_from_float(static_cast<double>(a.f()), &why)
                               : parse_bpm(a.s(), &why);
    };
    const auto set_tempo = [this, tempo_arg](const Arg& a, Context& ctx) {
        std::string why;
        const auto bpm = tempo_arg(a, why);
        if (!bpm) {
            ctx.error(why);
            return;
        }
        ToEngine t;
        t.kind = ToEngineKind::tempo;
        t.frame = frame_of(ctx);
        t.bpm = *bpm;
        if (!send(t, ctx)) {
            return;
        }
        if (!(state_.tempo == *bpm)) {
            state_.tempo = *bpm;
            changed();
        }
        if (!playing_) { // stopped: the engine takes it at once (the start tempo)
            tempo_in_force_ = *bpm;
            endpoint_.notify(
                msg("/seq/tempo", {Arg::float32(static_cast<float>(bpm->to_double()))}));
        }
    };
    endpoint_.add("/seq/tempo", "f", {range(min_bpm, max_bpm)},
                  [set_tempo](const Message& m, Context& ctx) { set_tempo(m.args[0], ctx); });
    endpoint_.add("/seq/tempo", "s", {osc::max_length(64)},
                  [set_tempo](const Message& m, Context& ctx) { set_tempo(m.args[0], ctx); });

    const auto tempo_at = [this, tempo_arg](const Message& m, Context& ctx) {
        std::string why;
        const auto bpm = tempo_arg(m.args[2], why);
        if (!bpm) {
            ctx.error(why);
            return;
        }
        ToEngine t;
        t.kind = ToEngineKind::tempo;
        t.frame = frame_of(ctx);
        t.has_position = true;
        t.position = Position(m.args[0].i(), m.args[1].i());
        t.bpm = *bpm;
        send(t, ctx);
    };
    endpoint_.add("/seq/tempo/at", "iif",
                  {range(0, int32_max), range(1, int32_max), range(min_bpm, max_bpm)}, tempo_at);
    endpoint_.add("/seq/tempo/at", "iis",
                  {range(0, int32_max), range(1, int32_max), osc::max_length(64)}, tempo_at);
    endpoint_.add("/seq/tempo/clear", "", [this](const Message&, Context& ctx) {
        ToEngine t;
        t.kind = ToEngineKind::clear_tempo;
        t.frame = frame_of(ctx);
        send(t, ctx);
    });
}

void OscApi::dump(const Sink& sink) const {
    const Model& m = state_.model;
    const EngineStatus st = engine_.status();
    sink(msg(playing_ ? "/seq/play" : "/seq/stop"));
    if (playing_) {
        sink(msg("/seq/position", {i32(st.pattern), i32(st.step)}));
    }
    sink(msg("/seq/tempo", {Arg::float32(static_cast<float>(tempo_in_force_.to_double()))}));
    sink(msg("/seq/tempo/exact", {Arg::string(format_rational(tempo_in_force_))}));
    sink(msg("/seq/transport", {Arg::string(to_string(options_.transport))}));
    sink(msg("/seq/seed", {Arg::int64(static_cast<std::int64_t>(state_.seed))}));
    sink(msg("/seq/tracks", {i32(m.tracks)}));
    sink(msg("/seq/pattern/select", {i32(m.selected)}));
    const Model defaults = default_model();
    for (std::size_t t = 0; t < m.track.size(); ++t) {
        if (t < m.tracks || !(m.track[t] == defaults.track[t])) {
            emit_track_diff(static_cast<int>(t), defaults.track[t], m.track[t], sink, true);
        }
    }
    const Pattern blank;
    for (std::size_t p = 0; p < m.pattern.size(); ++p) {
        if (p == m.selected || !(m.pattern[p] == blank)) {
            emit_pattern_diff(static_cast<int>(p), blank, m.pattern[p], sink, true);
        }
    }
    emit_song_diff(m.song, m.song, sink, true);

    const auto counter = [&](const char* name, std::uint64_t v) {
        sink(msg("/seq/counter", {Arg::string(name), Arg::int64(static_cast<std::int64_t>(v))}));
    };
    const EngineCounters c = engine_.counters();
    counter("cycles", c.cycles);
    counter("notes", c.notes);
    counter("midi_refused", c.midi_refused);
    counter("feedback_dropped", c.feedback_dropped);
    counter("tempo_refused", c.tempo_refused);
    const osc::Stats s = endpoint_.stats();
    counter("osc_packets", s.packets);
    counter("osc_disallowed", s.disallowed);
    counter("osc_malformed", s.malformed);
    counter("osc_rejected", s.rejected);
    counter("osc_late", s.late);
    counter("osc_scheduler_full", s.scheduler_full);
    if (options_.query_extra) {
        options_.query_extra(sink);
    }
}

} // namespace lockstep::seq
