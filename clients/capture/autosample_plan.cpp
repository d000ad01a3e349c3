#include "autosample_plan.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <system_error>

namespace lockstep::capture::autosample {

namespace {

constexpr const char* names[12] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};

std::optional<int> to_int(std::string_view s) {
    int v = 0;
    if (s.empty()) {
        return std::nullopt;
    }
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) {
        return std::nullopt;
    }
    return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    for (;;) {
        const std::size_t p = s.find(sep);
        out.push_back(s.substr(0, p));
        if (p == std::string_view::npos) {
            return out;
        }
        s.remove_prefix(p + 1);
    }
}

} // namespace

std::string check_plan(const PlanSpec& s) {
    if (s.low < 0 || s.high > 127 || s.low > s.high) {
        return "note range must lie within 0-127, low <= high";
    }
    if (s.step < 1 || s.step > 127) {
        return "step must be 1-127 semitones";
    }
    if (s.velocities.empty()) {
        return "no velocity layers";
    }
    for (std::size_t i = 0; i < s.velocities.size(); ++i) {
        if (s.velocities[i] < 1 || s.velocities[i] > 127) {
            return "velocities must be 1-127";
        }
        if (i > 0 && s.velocities[i] <= s.velocities[i - 1]) {
            return "velocities must be strictly increasing";
        }
    }
    if (s.round_robins < 1 || s.round_robins > 100) {
        return "round robins must be 1-100";
    }
    return "";
}

std::vector<NoteId> make_plan(const PlanSpec& s) {
    std::vector<NoteId> out;
    if (!check_plan(s).empty()) {
        return out;
    }
    for (int n = s.low; n <= s.high; n += s.step) {
        for (const int v : s.velocities) {
            for (int r = 1; r <= s.round_robins; ++r) {
                out.push_back(NoteId{n, v, r});
            }
        }
    }
    return out;
}

std::string note_name(int note) {
    if (note < 0 || note > 127) {
        return "?";
    }
    return std::string(names[note % 12]) + std::to_string(note / 12 - 1);
}

std::optional<int> parse_note(std::string_view t) {
    if (auto v = to_int(t)) {
        return *v >= 0 && *v <= 127 ? v : std::nullopt;
    }
    if (t.empty()) {
        return std::nullopt;
    }
    static constexpr int semis[7] = {9, 11, 0, 2, 4, 5, 7}; // a b c d e f g
    const char l = static_cast<char>(t[0] | 0x20);
    if (l < 'a' || l > 'g') {
        return std::nullopt;
    }
    int note = semis[l - 'a'];
    t.remove_prefix(1);
    if (!t.empty() && t[0] == '#') {
        ++note;
        t.remove_prefix(1);
    } else if (!t.empty() && (t[0] == 'b' || t[0] == 'B') && t.size() > 1) {
        --note;
        t.remove_prefix(1);
    }
    const auto octave = to_int(t);
    if (!octave) {
        return std::nullopt;
    }
    const int n = (*octave + 1) * 12 + note;
    if (n < 0 || n > 127) {
        return std::nullopt;
    }
    return n;
}

std::optional<PlanSpec> parse_range(std::string_view text, std::string& error) {
    const auto parts = split(text, ':');
    if (parts.size() < 2 || parts.size() > 3) {
        error = "'" + std::string(text) + "' is not LOW:HIGH[:STEP]";
        return std::nullopt;
    }
    PlanSpec s;
    const auto lo = parse_note(parts[0]);
    const auto hi = parse_note(parts[1]);
    if (!lo || !hi) {
        error = "'" + std::string(text) + "': notes are 0-127 or names like c4, f#2";
        return std::nullopt;
    }
    s.low = *lo;
    s.high = *hi;
    if (parts.size() == 3) {
        const auto st = to_int(parts[2]);
        if (!st) {
            error = "'" + std::string(parts[2]) + "' is not a step in semitones";
            return std::nullopt;
        }
        s.step = *st;
    }
    if (std::string why = check_plan(s); !why.empty()) {
        error = why;
        return std::nullopt;
    }
    return s;
}

std::optional<std::vector<int>> parse_velocities(std::string_view text, std::string& error) {
    std::vector<int> out;
    for (const auto part : split(text, ',')) {
        const auto v = to_int(part);
        if (!v || *v < 1 || *v > 127) {
            error = "'" + std::string(part) + "' is not a velocity 1-127";
            return std::nullopt;
        }
        if (!out.empty() && *v <= out.back()) {
            error = "velocities must be strictly increasing";
            return std::nullopt;
        }
        out.push_back(*v);
    }
    return out;
}

std::string check_set_name(std::string_view name) {
    if (name.empty()) {
        return "empty name";
    }
    if (name[0] == '.') {
        return "a name cannot start with '.'";
    }
    for (const char c : name) {
        if (c == '/' || static_cast<unsigned char>(c) < 0x20) {
            return "a name cannot contain '/' or control characters";
        }
    }
    return "";
}

std::string file_name(std::string_view name, const NoteId& id) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "_%03d_%s_v%03d_rr%d.wav", id.note, note_name(id.note).c_str(),
                  id.velocity, id.rr);
    return std::string(name) + buf;
}

std::optional<NoteId> parse_file_name(std::string_view name, std::string_view file) {
    if (file.size() <= name.size() || file.substr(0, name.size()) != name ||
        file[name.size()] != '_') {
        return std::nullopt;
    }
    const auto parts = split(file.substr(name.size() + 1), '_');
    if (parts.size() != 4 || parts[1].empty() || parts[2].size() < 2 || parts[2][0] != 'v' ||
        parts[3].size() < 7 || parts[3].substr(0, 2) != "rr" ||
        parts[3].substr(parts[3].size() - 4) != ".wav") {
        return std::nullopt;
    }
    const auto note = to_int(parts[0]);
    const auto vel = to_int(parts[2].substr(1));
    const auto rr = to_int(parts[3].substr(2, parts[3].size() - 6));
    if (!note || !vel || !rr) {
        return std::nullopt;
    }
    const NoteId id{*note, *vel, *rr};
    // Only the exact spelling file_name() gives counts (no "60" for "060", no stray names).
    if (id.note < 0 || id.note > 127 || id.velocity < 1 || id.velocity > 127 || id.rr < 1 ||
        file_name(name, id) != file) {
        return std::nullopt;
    }
    return id;
}

std::set<NoteId> scan_recorded(const std::filesystem::path& dir, std::string_view name) {
    std::set<NoteId> out;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (!it->is_regular_file(ec)) {
            continue;
        }
        if (auto id = parse_file_name(name, it->path().filename().string())) {
            out.insert(*id);
        }
    }
    return out;
}

std::vector<NoteId> pending(const std::vector<NoteId>& plan, const std::set<NoteId>& recorded) {
    std::vector<NoteId> out;
    for (const NoteId& id : plan) {
        if (recorded.count(id) == 0) {
            out.push_back(id);
        }
    }
    return out;
}

std::vector<Range> key_ranges(const std::vector<int>& roots) {
    std::vector<Range> out(roots.size());
    if (roots.empty()) {
        return out;
    }
    for (std::size_t i = 0; i < roots.size(); ++i) {
        out[i] = Range{roots[i], roots[i]};
    }
    for (std::size_t i = 0; i + 1 < roots.size(); ++i) {
        const int k = roots[i + 1] - roots[i] - 1; // keys between the two roots
        out[i].hi = roots[i] + k / 2;
        out[i + 1].lo = out[i].hi + 1;
    }
    if (roots.size() > 1) {
        out.front().lo = std::max(0, roots.front() - (roots[1] - out[1].lo));
        const std::size_t n = roots.size();
        out.back().hi = std::min(127, roots.back() + (out[n - 2].hi - roots[n - 2]));
    }
    return out;
}

std::vector<Range> velocity_ranges(const std::vector<int>& velocities) {
    std::vector<Range> out(velocities.size());
    for (std::size_t i = 0; i < velocities.size(); ++i) {
        out[i].lo = i == 0 ? 1 : velocities[i - 1] + 1;
        out[i].hi = i + 1 == velocities.size() ? 127 : velocities[i];
    }
    return out;
}

std::vector<RegionMap> map_regions(const std::vector<NoteId>& ids) {
    std::set<int> root_set;
    std::map<int, std::set<int>> layers;                   // root -> velocities
    std::map<std::pair<int, int>, std::vector<int>> takes; // (root, velocity) -> rr
    for (const NoteId& id : ids) {
        root_set.insert(id.note);
        layers[id.note].insert(id.velocity);
        takes[{id.note, id.velocity}].push_back(id.rr);
    }
    const std::vector<int> roots(root_set.begin(), root_set.end());
    const auto keys = key_ranges(roots);
    std::vector<RegionMap> out;
    out.reserve(ids.size());
    for (const NoteId& id : ids) {
        RegionMap r;
        r.id = id;
        r.key = keys[static_cast<std::size_t>(
            std::lower_bound(roots.begin(), roots.end(), id.note) - roots.begin())];
        const std::vector<int> vels(layers[id.note].begin(), layers[id.note].end());
        r.vel = velocity_ranges(vels)[static_cast<std::size_t>(
            std::lower_bound(vels.begin(), vels.end(), id.velocity) - vels.begin())];
        auto rr = takes[{id.note, id.velocity}];
        std::sort(rr.begin(), rr.end());
        r.seq_length = static_cast<int>(rr.size());
        r.seq_position =
            static_cast<int>(std::lower_bound(rr.begin(), rr.end(), id.rr) - rr.begin()) + 1;
        out.push_back(r);
    }
    return out;
}

std::string make_sfz(std::string_view name, const std::vector<SfzSample>& samples) {
    std::vector<SfzSample> sorted = samples;
    std::sort(sorted.begin(), sorted.end(), [](const SfzSample& a, const SfzSample& b) {
        return std::tie(a.id.rr, a.id.note, a.id.velocity) <
               std::tie(b.id.rr, b.id.note, b.id.velocity);
    });
    std::vector<NoteId> ids;
    std::set<int> roots;
    std::set<int> vels;
    int most_rr = 0;
    for (const auto& s : sorted) {
        ids.push_back(s.id);
        roots.insert(s.id.note);
        vels.insert(s.id.velocity);
    }
    const auto map = map_regions(ids);
    for (const auto& r : map) {
        most_rr = std::max(most_rr, r.seq_length);
    }
    std::string out = "// " + std::string(name) + ": written by lockstep-capture autosample\n";
    out += "// " + std::to_string(roots.size()) + " notes, " + std::to_string(vels.size()) +
           " velocity layers, up to " + std::to_string(most_rr) + " round robins, " +
           std::to_string(sorted.size()) + " samples\n";
    for (std::size_t i = 0; i < sorted.size(); ++i) {
        const RegionMap& r = map[i];
        out += "<region> sample=" + sorted[i].file +
               " pitch_keycenter=" + std::to_string(r.id.note) +
               " lokey=" + std::to_string(r.key.lo) + " hikey=" + std::to_string(r.key.hi) +
               " lovel=" + std::to_string(r.vel.lo) + " hivel=" + std::to_string(r.vel.hi);
        if (r.seq_length > 1) {
            out += " seq_length=" + std::to_string(r.seq_length) +
                   " seq_position=" + std::to_string(r.seq_position);
        }
        out += "\n";
    }
    return out;
}

} // namespace lockstep::capture::autosample
