#include "state.hpp"

#include "time/timeline.hpp"

#include <cmath>
#include <set>
#include <utility>

namespace lockstep::seq {

using nlohmann::json;

// ---- exact numbers as text ----------------------------------------------------------

namespace {

constexpr std::size_t max_digits = 18; // fits an int64 with room to spare

// Digits only, 1 .. max_digits of them.
std::optional<std::int64_t> parse_digits(std::string_view s) {
    if (s.empty() || s.size() > max_digits) {
        return std::nullopt;
    }
    std::int64_t v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        v = v * 10 + (c - '0');
    }
    return v;
}

} // namespace

std::optional<Rational> parse_rational(std::string_view text) {
    if (const auto slash = text.find('/'); slash != std::string_view::npos) {
        const auto n = parse_digits(text.substr(0, slash));
        const auto d = parse_digits(text.substr(slash + 1));
        if (!n || !d || *d == 0) {
            return std::nullopt;
        }
        return Rational::make(*n, *d);
    }
    if (const auto dot = text.find('.'); dot != std::string_view::npos) {
        const std::string_view whole = text.substr(0, dot);
        const std::string_view frac = text.substr(dot + 1);
        if (whole.size() + frac.size() > max_digits || frac.empty()) {
            return std::nullopt;
        }
        const auto w = whole.empty() ? std::optional<std::int64_t>(0) : parse_digits(whole);
        const auto f = parse_digits(frac);
        if (!w || !f) {
            return std::nullopt;
        }
        std::int64_t scale = 1;
        for (std::size_t i = 0; i < frac.size(); ++i) {
            scale *= 10;
        }
        return Rational::make(static_cast<i128>(*w) * scale + *f, scale);
    }
    const auto n = parse_digits(text);
    if (!n) {
        return std::nullopt;
    }
    return Rational(*n);
}

std::string format_rational(Rational r) {
    std::string s = std::to_string(r.num());
    if (r.den() != 1) {
        s += '/';
        s += std::to_string(r.den());
    }
    return s;
}

const char* check_bpm(Bpm bpm) noexcept {
    if (bpm < Bpm(min_bpm) || bpm > Bpm(max_bpm)) {
        return "tempo out of range [20, 999]";
    }
    if (bpm.num() > Timeline::max_tempo_term || bpm.den() > Timeline::max_tempo_term) {
        return "tempo too precise (numerator and denominator must be below 2^32)";
    }
    return nullptr;
}

std::optional<Bpm> parse_bpm(std::string_view text, std::string* why) {
    const auto r = parse_rational(text);
    if (!r) {
        if (why != nullptr) {
            *why = "tempo must be a decimal or a fraction, e.g. 120, 137.25 or 1000/7";
        }
        return std::nullopt;
    }
    if (const char* bad = check_bpm(*r); bad != nullptr) {
        if (why != nullptr) {
            *why = bad;
        }
        return std::nullopt;
    }
    return r;
}

std::optional<Bpm> bpm_from_float(double bpm, std::string* why) {
    // Range first: llround of a huge or non-finite value is undefined.
    if (!std::isfinite(bpm) || bpm < static_cast<double>(min_bpm) - 1 ||
        bpm > static_cast<double>(max_bpm) + 1) {
        if (why != nullptr) {
            *why = "tempo out of range [20, 999]";
        }
        return std::nullopt;
    }
    const Bpm r(std::llround(bpm * static_cast<double>(tempo_units)), tempo_units);
    if (const char* bad = check_bpm(r); bad != nullptr) {
        if (why != nullptr) {
            *why = bad;
        }
        return std::nullopt;
    }
    return r;
}

const char* to_string(TransportMode mode) noexcept {
    switch (mode) {
    case TransportMode::internal:
        return "internal";
    case TransportMode::master:
        return "master";
    case TransportMode::follow:
        return "follow";
    }
    return "internal";
}

std::optional<TransportMode> transport_from_string(std::string_view text) noexcept {
    for (const auto m : {TransportMode::internal, TransportMode::master, TransportMode::follow}) {
        if (text == to_string(m)) {
            return m;
        }
    }
    return std::nullopt;
}

// ---- the model ----------------------------------------------------------------------

void normalize(Model& m) noexcept {
    for (std::size_t i = m.song.length; i < m.song.chain.size(); ++i) {
        m.song.chain[i] = ChainSlot{};
    }
}

Model demo_model() {
    Model m = default_model();
    Pattern& p = m.pattern[0];
    auto set = [&](int track, int step, int velocity) {
        Step& s = p.grid[static_cast<std::size_t>(track)][static_cast<std::size_t>(step)];
        s.on = true;
        s.velocity = static_cast<std::uint8_t>(velocity);
    };
    for (int k = 0; k < 16; k += 4) {
        set(0, k, 120); // kick on the beats
    }
    set(1, 4, 110); // snare on 2 and 4
    set(1, 12, 110);
    for (int k = 0; k < 16; k += 2) {
        set(2, k, k % 4 == 0 ? 90 : 60); // eighth-note hats, accented on the beat
    }
    return m;
}

// ---- JSON ---------------------------------------------------------------------------

const service::StateSpec& state_spec() {
    static const service::StateSpec spec = [] {
        service::StateSpec s;
        s.format = "lockstep-seq";
        s.min_version = 1;
        s.max_version = 1;
        // A pattern pool with every step of every track set, pretty-printed, is ~35 MB.
        s.max_bytes = 64U * 1024 * 1024;
        s.max_depth = 16;
        return s;
    }();
    return spec;
}

namespace {

json step_to_json(int track, int step, const Step& s) {
    const Step d;
    json j = json::object();
    j["track"] = track;
    j["step"] = step;
    if (s.on != d.on) {
        j["on"] = s.on;
    }
    if (s.velocity != d.velocity) {
        j["velocity"] = s.velocity;
    }
    if (s.probability != d.probability) {
        j["probability"] = s.probability;
    }
    if (s.ratchet != d.ratchet) {
        j["ratchet"] = s.ratchet;
    }
    if (s.micro != d.micro) {
        j["micro"] = s.micro;
    }
    if (s.layers != d.layers) {
        j["layers"] = s.layers;
    }
    return j;
}

} // namespace

json state_to_json(const State& state) {
    const Model defaults = default_model();
    const Model& m = state.model;
    json data = json::object();
    data["tempo"] = format_rational(state.tempo);
    data["seed"] = state.seed;
    data["transport"] = to_string(state.transport);
    data["track_count"] = m.tracks;
    data["selected"] = m.selected;

    json tracks = json::array();
    for (std::size_t t = 0; t < m.track.size(); ++t) {
        const Track& tr = m.track[t];
        if (tr == defaults.track[t]) {
            continue;
        }
        json notes = json::array();
        for (const std::int8_t n : tr.notes) {
            notes.push_back(n);
        }
        tracks.push_back({{"index", t},
                          {"channel", tr.channel + 1},
                          {"notes", std::move(notes)},
                          {"gate", tr.gate},
                          {"mute", tr.mute},
                          {"solo", tr.solo}});
    }
    data["tracks"] = std::move(tracks);

    json patterns = json::array();
    for (std::size_t i = 0; i < m.pattern.size(); ++i) {
        const Pattern& p = m.pattern[i];
        if (p == defaults.pattern[i]) {
            continue;
        }
        json grid = json::array();
        for (std::size_t t = 0; t < p.grid.size(); ++t) {
            for (std::size_t k = 0; k < p.grid[t].size(); ++k) {
                if (!(p.grid[t][k] == Step{})) {
                    grid.push_back(
                        step_to_json(static_cast<int>(t), static_cast<int>(k), p.grid[t][k]));
                }
            }
        }
        patterns.push_back({{"index", i},
                            {"steps", p.steps},
                            {"beats", format_rational(p.length())},
                            {"swing", p.swing},
                            {"grid", std::move(grid)}});
    }
    data["patterns"] = std::move(patterns);

    json chain = json::array();
    for (std::size_t i = 0; i < m.song.length; ++i) {
        chain.push_back(
            {{"pattern", m.song.chain[i].pattern}, {"repeats", m.song.chain[i].repeats}});
    }
    data["song"] = {
        {"enabled", m.song.enabled}, {"loop", m.song.loop}, {"chain", std::move(chain)}};
    return data;
}

namespace {

// Reads one JSON object strictly: each field is taken at most once, typed and
// range-checked; whatever is left at the end is an unknown key.
class Reader {
public:
    Reader(const json& j, std::string where) : j_(j), where_(std::move(where)) {}

    bool is_object() {
        if (!j_.is_object()) {
            fail("", "must be an object");
            return false;
        }
        return true;
    }

    // Integer field in [lo, hi]. Absent: false without error (the default stays).
    template <typename T>
    bool integer(const char* key, std::int64_t lo, std::int64_t hi, T& out, bool required = false) {
        const json* v = take(key, required);
        if (v == nullptr) {
            return false;
        }
        std::int64_t x = 0;
        if (!to_int(*v, lo, hi, x)) {
            fail(key, "must be an integer " + std::to_string(lo) + " .. " + std::to_string(hi));
            return false;
        }
        out = static_cast<T>(x);
        return true;
    }

    // Non-negative integer field, the whole uint64 range.
    bool unsigned64(const char* key, std::uint64_t& out) {
        const json* v = take(key, false);
        if (v == nullptr) {
            return false;
        }
        if (v->is_number_unsigned()) {
            out = v->get<std::uint64_t>();
            return true;
        }
        if (v->is_number_integer() && v->get<std::int64_t>() >= 0) {
            out = static_cast<std::uint64_t>(v->get<std::int64_t>());
            return true;
        }
        fail(key, "must be an integer 0 .. 18446744073709551615");
        return false;
    }

    bool boolean(const char* key, bool& out) {
        const json* v = take(key, false);
        if (v == nullptr) {
            return false;
        }
        if (!v->is_boolean()) {
            fail(key, "must be true or false");
            return false;
        }
        out = v->get<bool>();
        return true;
    }

    const std::string* string(const char* key) {
        const json* v = take(key, false);
        if (v == nullptr) {
            return nullptr;
        }
        if (!v->is_string()) {
            fail(key, "must be a string");
            return nullptr;
        }
        return &v->get_ref<const std::string&>();
    }

    const json* array(const char* key, std::size_t max_size) {
        const json* v = take(key, false);
        if (v == nullptr) {
            return nullptr;
        }
        if (!v->is_array()) {
            fail(key, "must be an array");
            return nullptr;
        }
        if (v->size() > max_size) {
            fail(key, "holds more than " + std::to_string(max_size) + " entries");
            return nullptr;
        }
        return v;
    }

    const json* object(const char* key) {
        const json* v = take(key, false);
        if (v != nullptr && !v->is_object()) {
            fail(key, "must be an object");
            return nullptr;
        }
        return v;
    }

    // Call after reading every known key: refuses the first key nobody took.
    bool finish() {
        if (!error_.empty()) {
            return false;
        }
        for (auto it = j_.begin(); it != j_.end(); ++it) {
            if (taken_.count(it.key()) == 0) {
                fail("", "unknown key \"" + it.key() + "\"");
                return false;
            }
        }
        return true;
    }

    void fail(const std::string& key, const std::string& what) {
        if (error_.empty()) {
            error_ = path(key) + ": " + what;
        }
    }
    std::string path(const std::string& key) const {
        if (key.empty()) {
            return where_.empty() ? "data" : where_;
        }
        return where_.empty() ? key : where_ + "." + key;
    }
    const std::string& error() const { return error_; }
    bool ok() const { return error_.empty(); }

    static bool to_int(const json& v, std::int64_t lo, std::int64_t hi, std::int64_t& out) {
        if (v.is_number_unsigned()) {
            const auto u = v.get<std::uint64_t>();
            if (hi < 0 || u > static_cast<std::uint64_t>(hi)) {
                return false;
            }
            out = static_cast<std::int64_t>(u);
        } else if (v.is_number_integer()) {
            out = v.get<std::int64_t>();
        } else {
            return false;
        }
        return out >= lo && out <= hi;
    }

private:
    const json* take(const char* key, bool required) {
        if (!error_.empty()) {
            return nullptr;
        }
        taken_.insert(key);
        const auto it = j_.find(key);
        if (it == j_.end()) {
            if (required) {
                fail(key, "is missing");
            }
            return nullptr;
        }
        return &*it;
    }

    const json& j_;
    std::string where_;
    std::set<std::string> taken_;
    std::string error_;
};

std::string indexed(const std::string& what, std::size_t i) {
    return what + "[" + std::to_string(i) + "]";
}

std::string read_track(const json& j, const std::string& where, Model& m, std::set<int>& seen) {
    Reader r(j, where);
    if (!r.is_object()) {
        return r.error();
    }
    int index = 0;
    if (!r.integer("index", 0, max_tracks - 1, index, true)) {
        return r.error();
    }
    if (!seen.insert(index).second) {
        r.fail("index", "track " + std::to_string(index) + " appears twice");
        return r.error();
    }
    Track& t = m.track[static_cast<std::size_t>(index)];
    int channel = t.channel + 1;
    if (r.integer("channel", 1, 16, channel)) {
        t.channel = static_cast<std::uint8_t>(channel - 1);
    }
    if (const json* notes = r.array("notes", max_layers)) {
        if (notes->size() != max_layers) {
            r.fail("notes", "must hold exactly 4 notes (-1 for none)");
        }
        for (std::size_t l = 0; l < notes->size() && r.ok(); ++l) {
            std::int64_t n = 0;
            if (!Reader::to_int((*notes)[l], -1, 127, n)) {
                r.fail(indexed("notes", l), "must be an integer -1 .. 127");
            }
            t.notes[l] = static_cast<std::int8_t>(n);
        }
    }
    r.integer("gate", 1, micro_units, t.gate);
    r.boolean("mute", t.mute);
    r.boolean("solo", t.solo);
    r.finish();
    return r.error();
}

std::string read_step(const json& j, const std::string& where, Pattern& p,
                      std::set<std::pair<int, int>>& seen) {
    Reader r(j, where);
    if (!r.is_object()) {
        return r.error();
    }
    int track = 0;
    int step = 0;
    if (!r.integer("track", 0, max_tracks - 1, track, true) ||
        !r.integer("step", 0, max_steps - 1, step, true)) {
        return r.error();
    }
    if (!seen.insert({track, step}).second) {
        r.fail("", "step " + std::to_string(step) + " of track " + std::to_string(track) +
                       " appears twice");
        return r.error();
    }
    Step& s = p.grid[static_cast<std::size_t>(track)][static_cast<std::size_t>(step)];
    r.boolean("on", s.on);
    r.integer("velocity", 1, 127, s.velocity);
    r.integer("probability", 0, 100, s.probability);
    r.integer("ratchet", 1, max_ratchet, s.ratchet);
    r.integer("micro", -max_micro, max_micro, s.micro);
    r.integer("layers", 0, (1 << max_layers) - 1, s.layers);
    r.finish();
    return r.error();
}

std::string read_pattern(const json& j, const std::string& where, Model& m, std::set<int>& seen) {
    Reader r(j, where);
    if (!r.is_object()) {
        return r.error();
    }
    int index = 0;
    if (!r.integer("index", 0, max_patterns - 1, index, true)) {
        return r.error();
    }
    if (!seen.insert(index).second) {
        r.fail("index", "pattern " + std::to_string(index) + " appears twice");
        return r.error();
    }
    Pattern& p = m.pattern[static_cast<std::size_t>(index)];
    r.integer("steps", 1, max_steps, p.steps);
    if (const std::string* beats = r.string("beats")) {
        const auto b = parse_rational(*beats);
        if (!b || b->num() < 1 || b->num() > 64 * 16 || b->den() > max_steps * micro_units) {
            r.fail("beats", "must be a length in beats as \"N\" or \"N/D\", 1/6144 .. 1024");
        } else {
            p.beats_num = static_cast<std::int32_t>(b->num());
            p.beats_den = static_cast<std::int32_t>(b->den());
        }
    }
    r.integer("swing", 0, swing_units, p.swing);
    if (const json* grid = r.array("grid", std::size_t{max_tracks} * max_steps)) {
        std::set<std::pair<int, int>> steps;
        for (std::size_t i = 0; i < grid->size(); ++i) {
            if (auto e = read_step((*grid)[i], r.path(indexed("grid", i)), p, steps); !e.empty()) {
                return e;
            }
        }
    }
    r.finish();
    return r.error();
}

std::string read_song(const json& j, const std::string& where, Song& song) {
    Reader r(j, where);
    r.boolean("enabled", song.enabled);
    r.boolean("loop", song.loop);
    if (const json* chain = r.array("chain", max_chain)) {
        song.length = static_cast<std::uint8_t>(chain->size());
        for (std::size_t i = 0; i < chain->size() && r.ok(); ++i) {
            Reader s((*chain)[i], r.path(indexed("chain", i)));
            if (!s.is_object()) {
                return s.error();
            }
            s.integer("pattern", 0, max_patterns - 1, song.chain[i].pattern, true);
            s.integer("repeats", 1, max_repeats, song.chain[i].repeats);
            if (!s.finish()) {
                return s.error();
            }
        }
    }
    r.finish();
    return r.error();
}

} // namespace

std::string state_from_json(const json& data, State& out) {
    out = State{};
    Model& m = out.model;
    Reader r(data, "");
    if (!r.is_object()) {
        return r.error();
    }
    if (const std::string* tempo = r.string("tempo")) {
        std::string why;
        if (const auto bpm = parse_bpm(*tempo, &why)) {
            out.tempo = *bpm;
        } else {
            r.fail("tempo", why);
        }
    }
    r.unsigned64("seed", out.seed);
    if (const std::string* transport = r.string("transport")) {
        if (const auto t = transport_from_string(*transport)) {
            out.transport = *t;
        } else {
            r.fail("transport", "must be \"internal\", \"master\" or \"follow\"");
        }
    }
    r.integer("track_count", 1, max_tracks, m.tracks);
    r.integer("selected", 0, max_patterns - 1, m.selected);
    if (const json* tracks = r.array("tracks", max_tracks)) {
        std::set<int> seen;
        for (std::size_t i = 0; i < tracks->size() && r.ok(); ++i) {
            if (auto e = read_track((*tracks)[i], indexed("tracks", i), m, seen); !e.empty()) {
                return e;
            }
        }
    }
    if (const json* patterns = r.array("patterns", max_patterns)) {
        std::set<int> seen;
        for (std::size_t i = 0; i < patterns->size() && r.ok(); ++i) {
            if (auto e = read_pattern((*patterns)[i], indexed("patterns", i), m, seen);
                !e.empty()) {
                return e;
            }
        }
    }
    if (const json* song = r.object("song")) {
        if (auto e = read_song(*song, "song", m.song); !e.empty()) {
            return e;
        }
    }
    if (!r.finish()) {
        return r.error();
    }
    if (const char* bad = check(m); bad != nullptr) {
        return bad; // not reachable through the checks above; kept as the last word
    }
    return {};
}

// ---- files -------------------------------------------------------------------------

StateRead read_state_file(const std::string& path) {
    StateRead out;
    const auto validate = [](const json& data, int /*version*/) {
        State scratch;
        return state_from_json(data, scratch);
    };
    service::StateLoad load = service::load_state_file(path, state_spec(), validate);
    out.status = load.status;
    out.reason = std::move(load.reason);
    out.kept_as = std::move(load.kept_as);
    if (out.status == service::StateStatus::ok) {
        // Validated above: this cannot fail.
        if (auto e = state_from_json(load.data, out.state); !e.empty()) {
            out.status = service::StateStatus::corrupt;
            out.reason = e;
            out.state = State{};
        }
    }
    return out;
}

service::StateSave write_state_file(const std::string& path, const State& state) {
    return service::save_state_file(path, state_spec(), state_to_json(state));
}

} // namespace lockstep::seq
