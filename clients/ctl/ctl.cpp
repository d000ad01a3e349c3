#include "ctl.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

namespace lockstep::ctl {
namespace {

using osc::Arg;

std::vector<std::string> role_names() {
    std::vector<std::string> names;
    for (const Role& r : roles()) {
        names.emplace_back(r.name);
    }
    return names;
}

// "seq, sampler, ...": the clients, for error messages.
std::string role_list() {
    std::string out;
    for (const std::string& n : role_names()) {
        out += (out.empty() ? "" : ", ") + n;
    }
    return out;
}

template <typename T>
std::optional<T> parse_integer(std::string_view s) {
    T v{};
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
        return std::nullopt;
    }
    return v;
}

template <typename T>
std::optional<T> parse_real(std::string_view s) {
    T v{};
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty() || !std::isfinite(v)) {
        return std::nullopt;
    }
    return v;
}

std::optional<int> parse_bool_word(std::string_view s) {
    for (std::string_view w : {"on", "true", "yes"}) {
        if (s == w) {
            return 1;
        }
    }
    for (std::string_view w : {"off", "false", "no"}) {
        if (s == w) {
            return 0;
        }
    }
    return std::nullopt;
}

const char* describe_type(char t) {
    switch (t) {
    case 'i':
        return "an integer";
    case 'B':
        return "on|off (or 1|0)";
    case 'f':
        return "a number";
    case 'd':
        return "a number";
    case 'h':
        return "a 64-bit integer";
    case 's':
        return "a string";
    default:
        return "a value";
    }
}

// "i:5" -> ('i', "5"); no known prefix -> (0, word).
std::pair<char, std::string_view> split_prefix(std::string_view word) {
    if (word.size() >= 2 && word[1] == ':' &&
        std::string_view("ifshdB").find(word[0]) != std::string_view::npos) {
        return {word[0], word.substr(2)};
    }
    return {0, word};
}

// One argument as the signature letter `type` wants; nullopt if it cannot be that.
std::optional<Arg> convert(char type, std::string_view word) {
    const auto [forced, text] = split_prefix(word);
    if (forced != 0 && forced != type && !(forced == 'i' && type == 'B')) {
        return std::nullopt;
    }
    switch (type) {
    case 'B':
        if (const auto b = parse_bool_word(text)) {
            return Arg::int32(*b);
        }
        [[fallthrough]];
    case 'i':
        if (const auto v = parse_integer<std::int32_t>(text)) {
            return Arg::int32(*v);
        }
        return std::nullopt;
    case 'h':
        if (const auto v = parse_integer<std::int64_t>(text)) {
            return Arg::int64(*v);
        }
        return std::nullopt;
    case 'f':
        if (const auto v = parse_real<float>(text)) {
            return Arg::float32(*v);
        }
        return std::nullopt;
    case 'd':
        if (const auto v = parse_real<double>(text)) {
            return Arg::float64(*v);
        }
        return std::nullopt;
    case 's':
        return Arg::string(text);
    default:
        return std::nullopt;
    }
}

std::string command_list(const Role& role) {
    std::vector<std::string> names;
    for (const Command& c : role.commands) {
        names.push_back(command_words(role, c));
    }
    std::string all;
    for (const auto& n : names) {
        all += (all.empty() ? "" : ", ") + n;
    }
    return all;
}

Parsed fail(std::string why) {
    return Parsed{std::nullopt, std::move(why)};
}

Parsed typed(const Role& role, const Command& command, std::span<const std::string> args) {
    // The first signature with as many arguments whose every argument converts wins.
    std::string why;
    for (std::string_view sig : command.signatures) {
        if (sig.size() != args.size()) {
            continue;
        }
        osc::Message m{std::string(command.path)};
        for (std::size_t i = 0; i < args.size(); ++i) {
            auto a = convert(sig[i], args[i]);
            if (!a) {
                if (why.empty()) {
                    why = "argument " + std::to_string(i + 1) + " ('" + args[i] + "') must be " +
                          describe_type(sig[i]);
                }
                m.args.clear();
                break;
            }
            m.args.push_back(std::move(*a));
        }
        if (m.args.size() == args.size()) {
            return Parsed{Request{&role, &command, std::move(m)}, ""};
        }
    }
    if (why.empty()) {
        std::string counts;
        std::vector<std::size_t> seen;
        for (std::string_view sig : command.signatures) {
            if (std::find(seen.begin(), seen.end(), sig.size()) == seen.end()) {
                seen.push_back(sig.size());
                counts += (counts.empty() ? "" : " or ") + std::to_string(sig.size());
            }
        }
        why = "wrong number of arguments: " + std::string(command.path) + " takes " + counts +
              ", got " + std::to_string(args.size());
    }
    return fail(std::string(role.name) + " " + command_words(role, command) + ": " + why + "\n" +
                usage(role, command));
}

Parsed role_of(const std::vector<std::string>& words, const Role*& role) {
    if (words.empty()) {
        return fail("missing client: one of " + role_list());
    }
    role = find_role(words[0]);
    if (role == nullptr) {
        std::string why = "unknown client '" + words[0] + "'";
        if (const auto c = closest(words[0], role_names())) {
            why += " (did you mean '" + *c + "'?)";
        }
        return fail(why + "; clients: " + role_list());
    }
    if (words.size() < 2) {
        return fail("missing command for " + words[0] + "; its commands: " + command_list(*role));
    }
    return {};
}

} // namespace

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = up;
        }
    }
    return row[b.size()];
}

std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& names) {
    std::optional<std::string> best;
    std::size_t best_distance = std::numeric_limits<std::size_t>::max();
    for (const auto& n : names) {
        const std::size_t d = edit_distance(word, n);
        if (d < best_distance) {
            best_distance = d;
            best = n;
        }
    }
    // Close enough to be a typo: at most a third of the longer word (and at least 2).
    if (best &&
        best_distance <= std::max<std::size_t>(2, std::max(word.size(), best->size()) / 3)) {
        return best;
    }
    return std::nullopt;
}

std::string usage(const Role& role, const Command& command) {
    std::string line =
        "usage: lockstep-ctl " + std::string(role.name) + " " + command_words(role, command);
    if (!command.usage.empty()) {
        line += " " + std::string(command.usage);
    }
    line += "   (" + std::string(command.path);
    for (std::size_t i = 0; i < command.signatures.size(); ++i) {
        line += (i == 0 ? " ," : " | ,") + osc_types(command.signatures[i]);
    }
    return line + ")";
}

std::string list(const Role& role) {
    std::string all;
    for (const Command& c : role.commands) {
        all += usage(role, c).substr(7) + "\n"; // without "usage: "
    }
    return all;
}

Parsed parse_command(const std::vector<std::string>& words) {
    const Role* role = nullptr;
    if (Parsed p = role_of(words, role); !p.error.empty()) {
        return p;
    }
    const std::span<const std::string> rest(words.begin() + 1, words.end());
    if (rest[0].starts_with('/')) {
        const Command* c = find_command(*role, rest[0]);
        if (c == nullptr) {
            std::vector<std::string> paths;
            for (const Command& k : role->commands) {
                paths.emplace_back(k.path);
            }
            std::string why = "unknown path " + rest[0] + " for " + std::string(role->name);
            if (const auto near = closest(rest[0], paths)) {
                why += " (did you mean " + *near + "?)";
            }
            return fail(why + "; `lockstep-ctl send " + std::string(role->name) +
                        " PATH TYPE:VALUE...` sends anything");
        }
        return typed(*role, *c, rest.subspan(1));
    }
    // The longest run of words that names a command: "tempo at 4 1 140" -> "tempo at".
    for (std::size_t n = std::min<std::size_t>(rest.size(), 4); n >= 1; --n) {
        std::string name;
        for (std::size_t i = 0; i < n; ++i) {
            name += (i == 0 ? "" : " ") + rest[i];
        }
        for (const Command& c : role->commands) {
            if (command_words(*role, c) == name) {
                Parsed p = typed(*role, c, rest.subspan(n));
                // "step velocty 0 0 9": a typo of a longer command, not a bad argument.
                if (!p.request && rest.size() > n) {
                    std::vector<std::string> longer;
                    for (const Command& k : role->commands) {
                        longer.push_back(command_words(*role, k));
                    }
                    if (const auto near = closest(name + " " + rest[n], longer);
                        near && *near != name) {
                        p.error += "\n(did you mean '" + *near + "'?)";
                    }
                }
                return p;
            }
        }
    }
    std::vector<std::string> names;
    for (const Command& c : role->commands) {
        names.push_back(command_words(*role, c));
    }
    // Suggest against as many words as the closest command has (e.g. "step velocty").
    std::optional<std::string> near;
    for (std::size_t n = 1; n <= std::min<std::size_t>(rest.size(), 3) && !near; ++n) {
        std::string name;
        for (std::size_t i = 0; i < n; ++i) {
            name += (i == 0 ? "" : " ") + rest[i];
        }
        near = closest(name, names);
    }
    std::string why = "unknown command '" + rest[0] + "' for " + std::string(role->name);
    if (near) {
        why += " (did you mean '" + *near + "'?)";
    }
    return fail(why + "; its commands: " + command_list(*role));
}

Parsed parse_raw(const std::vector<std::string>& words) {
    const Role* role = nullptr;
    if (Parsed p = role_of(words, role); !p.error.empty()) {
        return p;
    }
    const std::string& path = words[1];
    if (!path.starts_with('/')) {
        return fail("send: the path must start with '/', got '" + path + "'");
    }
    osc::Message m{path};
    for (std::size_t i = 2; i < words.size(); ++i) {
        const std::string& w = words[i];
        std::optional<Arg> a;
        if (w == "T" || w == "F") {
            a = Arg::boolean(w == "T");
        } else if (w == "N") {
            a = Arg::nil();
        } else if (w == "I") {
            a = Arg::impulse();
        } else if (const auto [forced, text] = split_prefix(w); forced != 0) {
            a = convert(forced, w); // B: on/off or 0/1, sent as an int like the table's B
        } else if (auto v = convert('i', w)) {
            a = std::move(v);
        } else if (auto f = convert('f', w)) {
            a = std::move(f);
        } else {
            a = Arg::string(w);
        }
        if (!a) {
            return fail("send: argument " + std::to_string(i - 1) + " ('" + w +
                        "') is not a valid TYPE:VALUE (i:, f:, s:, h:, d:; T F N I)");
        }
        m.args.push_back(std::move(*a));
    }
    return Parsed{Request{role, find_command(*role, path), std::move(m)}, ""};
}

std::optional<std::chrono::milliseconds> parse_timeout(std::string_view text) {
    const auto v = parse_integer<long long>(text);
    if (!v || *v <= 0 || *v > max_timeout.count()) {
        return std::nullopt;
    }
    return std::chrono::milliseconds(*v);
}

std::chrono::milliseconds reply_timeout(const Request& request,
                                        std::optional<std::chrono::milliseconds> given) {
    if (given) {
        return *given;
    }
    const bool async = request.command != nullptr && request.command->reply == Reply::async;
    return async ? default_async_timeout : default_timeout;
}

void absolutize_paths(Request& request, std::string_view cwd) {
    // (path, index of its file argument) for every command that names a file.
    static constexpr std::pair<std::string_view, std::size_t> file_args[] = {{"/sampler/kit", 0},
                                                                             {"/sampler/load", 1}};
    for (const auto& [path, index] : file_args) {
        auto& args = request.message.args;
        if (request.message.path != path || index >= args.size() || args[index].type() != 's') {
            continue;
        }
        const std::string& file = args[index].s();
        if (!file.empty() && !file.starts_with('/') && !cwd.empty()) {
            std::string absolute(cwd);
            if (!absolute.ends_with('/')) {
                absolute += '/';
            }
            args[index] = Arg::string(absolute + file);
        }
    }
}

Listing list_command(const std::vector<std::string>& args) {
    if (args.size() > 1) {
        return {"", "list takes at most one client, got " + std::to_string(args.size())};
    }
    Listing out;
    if (args.empty()) {
        for (const Role& r : roles()) {
            out.text += list(r);
        }
        return out;
    }
    const Role* role = find_role(args[0]);
    if (role == nullptr) {
        out.error = "unknown client '" + args[0] + "'";
        if (const auto c = closest(args[0], role_names())) {
            out.error += " (did you mean '" + *c + "'?)";
        }
        out.error += "; clients: " + role_list();
        return out;
    }
    out.text = list(*role);
    return out;
}

std::string format(const osc::Message& message) {
    std::string line = message.path;
    for (const Arg& a : message.args) {
        line += ' ';
        char buffer[64];
        switch (a.type()) {
        case 'i':
            line += std::to_string(a.i());
            break;
        case 'h':
            line += std::to_string(a.h());
            break;
        case 'f': {
            const auto r = std::to_chars(buffer, buffer + sizeof buffer, a.f());
            line.append(buffer, r.ptr);
            break;
        }
        case 'd': {
            const auto r = std::to_chars(buffer, buffer + sizeof buffer, a.d());
            line.append(buffer, r.ptr);
            break;
        }
        case 's':
        case 'S':
            line += '"';
            for (char c : a.s()) {
                if (c == '"' || c == '\\') {
                    line += '\\';
                }
                line += c;
            }
            line += '"';
            break;
        case 'T':
            line += "true";
            break;
        case 'F':
            line += "false";
            break;
        case 'N':
            line += "nil";
            break;
        case 'I':
            line += "impulse";
            break;
        case 'b':
            line += "<blob " + std::to_string(a.b().size()) + " bytes>";
            break;
        case 't':
            line += "t:" + std::to_string(a.t());
            break;
        case 'c':
            line += std::string("'") + a.c() + "'";
            break;
        default:
            line += a.type();
            break; // r, m, [ ]
        }
    }
    return line;
}

} // namespace lockstep::ctl
