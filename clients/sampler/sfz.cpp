#include "sfz.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>
#include <string>

namespace lockstep::sampler {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}
bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_space(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

// Printable excerpt of a user's value for messages (bounded, control characters hidden).
std::string quote(std::string_view v) {
    std::string out = "'";
    for (std::size_t i = 0; i < v.size() && i < 60; ++i) {
        const auto c = static_cast<unsigned char>(v[i]);
        out += (c < 0x20 || c >= 0x7f) ? '?' : static_cast<char>(c);
    }
    if (v.size() > 60) {
        out += "...";
    }
    return out + "'";
}

std::string line_prefix(int line) {
    return "line " + std::to_string(line) + ": ";
}

bool parse_int(std::string_view v, std::int64_t& out) {
    if (!v.empty() && v.front() == '+') {
        v.remove_prefix(1);
    }
    const auto* end = v.data() + v.size();
    const auto r = std::from_chars(v.data(), end, out);
    return !v.empty() && r.ec == std::errc() && r.ptr == end;
}

bool parse_double(std::string_view v, double& out) {
    if (!v.empty() && v.front() == '+') {
        v.remove_prefix(1);
    }
    const auto* end = v.data() + v.size();
    const auto r = std::from_chars(v.data(), end, out, std::chars_format::general);
    return !v.empty() && r.ec == std::errc() && r.ptr == end && std::isfinite(out);
}

enum class Level : std::uint8_t { none, control, global, master, group, region, unknown };

struct Parser {
    const SfzLimits& limits;
    SfzResult result;
    std::set<std::string, std::less<>> reported; // unknown opcodes/headers already warned
    Level level = Level::none;
    SfzRegion global, master, group, region;
    bool in_region = false;
    bool master_open = false; // a <master> since the last <global>
    bool group_open = false;  // a <group> since the last <global>/<master>
    int line = 0;

    explicit Parser(const SfzLimits& l) : limits(l) {}

    void warn(std::string message) {
        if (result.document.warnings.size() < limits.max_warnings) {
            result.document.warnings.push_back(std::move(message));
        } else {
            ++result.document.warnings_dropped;
        }
    }

    void warn_once(const std::string& key, std::string message) {
        if (reported.insert(key).second) {
            warn(std::move(message));
        }
    }

    // Returns false (with result.error set) on the first error.
    bool fail(int at_line, std::string message) {
        result.ok = false;
        result.error_line = at_line;
        result.error = (at_line > 0 ? line_prefix(at_line) : std::string()) + message;
        return false;
    }

    SfzRegion* target() {
        switch (level) {
        case Level::global:
            return &global;
        case Level::master:
            return &master;
        case Level::group:
            return &group;
        case Level::region:
            return &region;
        default:
            return nullptr;
        }
    }

    bool finish_region() {
        if (!in_region) {
            return true;
        }
        in_region = false;
        const SfzRegion& r = region;
        if (r.sample.empty()) {
            return fail(r.line, "<region> has no sample= (nor inherits one)");
        }
        if (r.lokey > r.hikey) {
            return fail(r.line, "<region> has lokey " + std::to_string(r.lokey) + " above hikey " +
                                    std::to_string(r.hikey));
        }
        if (r.lovel > r.hivel) {
            return fail(r.line, "<region> has lovel " + std::to_string(r.lovel) + " above hivel " +
                                    std::to_string(r.hivel));
        }
        if (r.seq_position > r.seq_length) {
            return fail(r.line, "<region> has seq_position " + std::to_string(r.seq_position) +
                                    " beyond seq_length " + std::to_string(r.seq_length));
        }
        if (r.lorand >= r.hirand) {
            return fail(r.line, "<region> has lorand >= hirand (it could never play)");
        }
        if (result.document.regions.size() >= limits.max_regions) {
            return fail(r.line,
                        "more than " + std::to_string(limits.max_regions) + " regions (the limit)");
        }
        result.document.regions.push_back(r);
        return true;
    }

    bool header(std::string_view name) {
        if (!finish_region()) {
            return false;
        }
        if (name == "control") {
            level = Level::control;
        } else if (name == "global") {
            level = Level::global;
            global = SfzRegion{};
            master_open = group_open = false;
        } else if (name == "master") {
            level = Level::master;
            master = global;
            master_open = true;
            group_open = false;
        } else if (name == "group") {
            level = Level::group;
            group = master_open ? master : global;
            group_open = true;
        } else if (name == "region") {
            level = Level::region;
            // Inherit from the innermost open level, as it stands now.
            region = group_open ? group : (master_open ? master : global);
            region.line = line;
            in_region = true;
        } else {
            level = Level::unknown;
            warn_once("<" + std::string(name) + ">",
                      line_prefix(line) + "unsupported header <" + std::string(name) +
                          "> (ignored with its opcodes; further uses not reported)");
        }
        return true;
    }

    template <typename T>
    bool int_value(std::string_view name, std::string_view v, std::int64_t lo, std::int64_t hi,
                   T& out) {
        std::int64_t x = 0;
        if (!parse_int(v, x)) {
            return fail(line, std::string(name) + ": " + quote(v) + " is not an integer");
        }
        if (x < lo || x > hi) {
            return fail(line, std::string(name) + ": " + std::to_string(x) + " is out of range (" +
                                  std::to_string(lo) + " to " + std::to_string(hi) + ")");
        }
        out = static_cast<T>(x);
        return true;
    }

    bool real_value(std::string_view name, std::string_view v, double lo, double hi, double& out) {
        double x = 0;
        if (!parse_double(v, x)) {
            return fail(line, std::string(name) + ": " + quote(v) + " is not a number");
        }
        if (x < lo || x > hi) {
            char buf[128];
            std::snprintf(buf, sizeof buf, ": %g is out of range (%g to %g)", x, lo, hi);
            return fail(line, std::string(name) + buf);
        }
        out = x;
        return true;
    }

    bool note_value(std::string_view name, std::string_view v, std::uint8_t& out) {
        const int n = parse_note(v);
        if (n < 0) {
            return fail(line, std::string(name) + ": " + quote(v) +
                                  " is not a MIDI note (0-127 or a name like c#4)");
        }
        out = static_cast<std::uint8_t>(n);
        return true;
    }

    static std::string normalise_path(std::string_view v) {
        std::string s(v);
        std::replace(s.begin(), s.end(), '\\', '/');
        return s;
    }

    bool opcode(std::string_view name, std::string_view v) {
        if (level == Level::unknown) {
            return true; // warned once for the header
        }
        if (level == Level::none) {
            warn_once("@none", line_prefix(line) +
                                   "opcodes before the first header are ignored (further "
                                   "ones not reported)");
            return true;
        }
        if (level == Level::control) {
            if (name == "default_path") {
                result.document.default_path = normalise_path(v);
                if (!result.document.default_path.empty() &&
                    result.document.default_path.back() != '/') {
                    result.document.default_path += '/';
                }
            } else {
                warn_once(std::string(name), line_prefix(line) + "unsupported opcode '" +
                                                 std::string(name) +
                                                 "' (ignored; further uses not reported)");
            }
            return true;
        }
        SfzRegion& r = *target();
        if (name == "sample") {
            if (std::any_of(v.begin(), v.end(),
                            [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
                return fail(line, "sample: the path contains control characters");
            }
            r.sample = result.document.default_path + normalise_path(v);
            return true;
        }
        if (name == "key") {
            if (!note_value(name, v, r.lokey)) {
                return false;
            }
            r.hikey = r.lokey;
            r.pitch_keycenter = r.lokey;
            return true;
        }
        if (name == "lokey") {
            return note_value(name, v, r.lokey);
        }
        if (name == "hikey") {
            return note_value(name, v, r.hikey);
        }
        if (name == "pitch_keycenter") {
            return note_value(name, v, r.pitch_keycenter);
        }
        if (name == "lovel") {
            return int_value(name, v, 0, 127, r.lovel);
        }
        if (name == "hivel") {
            return int_value(name, v, 0, 127, r.hivel);
        }
        if (name == "seq_length") {
            return int_value(name, v, 1, 100, r.seq_length);
        }
        if (name == "seq_position") {
            return int_value(name, v, 1, 100, r.seq_position);
        }
        if (name == "lorand") {
            return real_value(name, v, 0.0, 1.0, r.lorand);
        }
        if (name == "hirand") {
            return real_value(name, v, 0.0, 1.0, r.hirand);
        }
        if (name == "group") {
            return int_value(name, v, -2147483648LL, 4294967295LL, r.group);
        }
        if (name == "off_by") {
            return int_value(name, v, -2147483648LL, 4294967295LL, r.off_by);
        }
        if (name == "volume") {
            return real_value(name, v, -144.0, 24.0, r.volume);
        }
        if (name == "pan") {
            return real_value(name, v, -100.0, 100.0, r.pan);
        }
        if (name == "tune") {
            return int_value(name, v, -9600, 9600, r.tune);
        }
        if (name == "transpose") {
            return int_value(name, v, -127, 127, r.transpose);
        }
        if (name == "loop_mode") {
            if (v == "one_shot") {
                r.loop_mode = LoopMode::one_shot;
            } else if (v == "no_loop") {
                r.loop_mode = LoopMode::gated;
            } else if (v == "loop_continuous" || v == "loop_sustain") {
                r.loop_mode = LoopMode::gated;
                warn_once("loop_mode=" + std::string(v),
                          line_prefix(line) + "loop_mode=" + std::string(v) +
                              " is not supported: played as no_loop (further uses not reported)");
            } else {
                return fail(line, "loop_mode: " + quote(v) +
                                      " is not one of no_loop, one_shot, loop_continuous, "
                                      "loop_sustain");
            }
            return true;
        }
        if (name == "output") {
            return int_value(name, v, 0, max_sfz_output, r.output);
        }
        if (name == "ampeg_attack") {
            return real_value(name, v, 0.0, 100.0, r.ampeg_attack);
        }
        if (name == "ampeg_decay") {
            return real_value(name, v, 0.0, 100.0, r.ampeg_decay);
        }
        if (name == "ampeg_sustain") {
            return real_value(name, v, 0.0, 100.0, r.ampeg_sustain);
        }
        if (name == "ampeg_release") {
            return real_value(name, v, 0.0, 100.0, r.ampeg_release);
        }
        warn_once(std::string(name), line_prefix(line) + "unsupported opcode '" +
                                         std::string(name) +
                                         "' (ignored; further uses not reported)");
        return true;
    }

    // One line with comments already removed.
    bool parse_line(std::string_view s) {
        std::size_t i = 0;
        const std::size_t n = s.size();
        while (true) {
            while (i < n && is_space(s[i])) {
                ++i;
            }
            if (i >= n) {
                return true;
            }
            if (s[i] == '<') {
                const std::size_t close = s.find('>', i);
                if (close == std::string_view::npos) {
                    return fail(line, "header " + quote(s.substr(i)) + " has no closing '>'");
                }
                const std::string_view name = s.substr(i + 1, close - i - 1);
                if (name.empty() || !std::all_of(name.begin(), name.end(), is_name_char)) {
                    return fail(line, "malformed header <" + quote(name) + ">");
                }
                if (!header(name)) {
                    return false;
                }
                i = close + 1;
                continue;
            }
            if (s[i] == '#') {
                return fail(line, "preprocessor directives (#define, #include) are not "
                                  "supported; expand them into the file");
            }
            const std::size_t name_start = i;
            while (i < n && is_name_char(s[i])) {
                ++i;
            }
            if (i == name_start || i >= n || s[i] != '=') {
                return fail(line, "expected an opcode (name=value) or a header (<region>) at " +
                                      quote(s.substr(name_start)));
            }
            const std::string_view name = s.substr(name_start, i - name_start);
            ++i; // '='
            // The value runs to the next header or the next "name=" after whitespace, so
            // sample paths may contain spaces.
            const std::size_t value_start = i;
            std::size_t end = i;
            while (end < n) {
                if (s[end] == '<') {
                    break;
                }
                if (is_space(s[end])) {
                    std::size_t k = end;
                    while (k < n && is_space(s[k])) {
                        ++k;
                    }
                    std::size_t m = k;
                    while (m < n && is_name_char(s[m])) {
                        ++m;
                    }
                    if (m > k && m < n && s[m] == '=') {
                        break;
                    }
                }
                ++end;
            }
            const std::string_view value = trim(s.substr(value_start, end - value_start));
            if (value.empty()) {
                return fail(line, std::string(name) + ": empty value");
            }
            if (!opcode(name, value)) {
                return false;
            }
            i = end;
        }
    }

    void run(std::string_view text) {
        result.ok = true;
        if (text.size() > limits.max_bytes) {
            fail(0, "file is " + std::to_string(text.size()) + " bytes; the limit is " +
                        std::to_string(limits.max_bytes));
            return;
        }
        if (text.find('\0') != std::string_view::npos) {
            fail(0, "file contains NUL bytes: not an SFZ text file");
            return;
        }
        bool in_block_comment = false;
        std::size_t pos = 0;
        while (pos <= text.size() && result.ok) {
            std::size_t eol = text.find('\n', pos);
            if (eol == std::string_view::npos) {
                eol = text.size();
            }
            ++line;
            std::string_view raw = text.substr(pos, eol - pos);
            pos = eol + 1;
            if (raw.size() > limits.max_line) {
                fail(line, "line is " + std::to_string(raw.size()) + " characters; the limit is " +
                               std::to_string(limits.max_line));
                return;
            }
            // Remove comments: // to the end of line, /* ... */ possibly across lines.
            std::string clean;
            clean.reserve(raw.size());
            for (std::size_t i = 0; i < raw.size(); ++i) {
                if (in_block_comment) {
                    if (raw[i] == '*' && i + 1 < raw.size() && raw[i + 1] == '/') {
                        in_block_comment = false;
                        ++i;
                    }
                    continue;
                }
                if (raw[i] == '/' && i + 1 < raw.size() && raw[i + 1] == '/') {
                    break;
                }
                if (raw[i] == '/' && i + 1 < raw.size() && raw[i + 1] == '*') {
                    in_block_comment = true;
                    ++i;
                    clean += ' ';
                    continue;
                }
                clean += raw[i];
            }
            if (!parse_line(clean)) {
                return;
            }
            if (eol == text.size()) {
                break;
            }
        }
        if (result.ok) {
            finish_region();
        }
    }
};

} // namespace

int parse_note(std::string_view text) {
    text = trim(text);
    std::int64_t number = 0;
    if (parse_int(text, number)) {
        return (number >= 0 && number <= 127) ? static_cast<int>(number) : -1;
    }
    if (text.empty()) {
        return -1;
    }
    static constexpr int semis[7] = {9, 11, 0, 2, 4, 5, 7}; // a b c d e f g
    const char letter = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
    if (letter < 'a' || letter > 'g') {
        return -1;
    }
    int note = semis[letter - 'a'];
    text.remove_prefix(1);
    if (!text.empty() && text[0] == '#') {
        ++note;
        text.remove_prefix(1);
    } else if (!text.empty() && text[0] == 'b') {
        --note;
        text.remove_prefix(1);
    }
    std::int64_t octave = 0;
    if (!parse_int(text, octave) || octave < -1 || octave > 9) {
        return -1;
    }
    const std::int64_t value = (octave + 1) * 12 + note;
    return (value >= 0 && value <= 127) ? static_cast<int>(value) : -1;
}

SfzResult parse_sfz(std::string_view text, const SfzLimits& limits) {
    Parser p(limits);
    p.run(text);
    if (!p.result.ok) {
        p.result.document = SfzDocument{};
    }
    return std::move(p.result);
}

} // namespace lockstep::sampler
