// lockstep-ctl's pure part: command words -> a typed OSC message, raw TYPE:VALUE arguments,
// readable errors (closest names, usage), and how replies are printed.
// Thread: any (pure functions, they allocate).
#pragma once

#include "osc/message.hpp"
#include "table.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lockstep::ctl {

// Exit codes (documented in --help and docs/ctl.md).
inline constexpr int exit_ok = 0;
inline constexpr int exit_error = 1; // the client answered /error (or a socket failed)
inline constexpr int exit_usage = 2;
inline constexpr int exit_no_reply = 3;
inline constexpr int exit_interrupted = 130; // SIGINT/SIGTERM/SIGHUP before the reply

// How long to wait for a reply: --timeout when given, else 2 s, or 30 s for the sampler's
// async commands (a kit or a long sample loads before it answers).
inline constexpr std::chrono::milliseconds default_timeout{2000};
inline constexpr std::chrono::milliseconds default_async_timeout{30000};
inline constexpr std::chrono::milliseconds max_timeout{86'400'000}; // one day

struct Request {
    const Role* role = nullptr;
    const Command* command = nullptr; // nullptr for a raw send of an unknown path
    osc::Message message;
};

// The result of parsing: a request, or a message for stderr (exit_usage).
struct Parsed {
    std::optional<Request> request;
    std::string error;
};

// "seq step 0 4 on", "seq /seq/step 0 4 on": words[0] is the role.
Parsed parse_command(const std::vector<std::string>& words);
// "seq /seq/swing f:0.2": every argument TYPE:VALUE, or inferred (int, float, string).
Parsed parse_raw(const std::vector<std::string>& words);

// --timeout MS: 1..max_timeout milliseconds, else nullopt (larger values would overflow
// the clock arithmetic).
std::optional<std::chrono::milliseconds> parse_timeout(std::string_view text);
std::chrono::milliseconds reply_timeout(const Request& request,
                                        std::optional<std::chrono::milliseconds> given);

// File arguments (sampler kit and load) relative to `cwd` become absolute: the client
// runs in another directory. Empty strings (unload) are left alone.
void absolutize_paths(Request& request, std::string_view cwd);

// `list [CLIENT]`: the commands of every role, or of CLIENT; an error for an unknown one.
struct Listing {
    std::string text;
    std::string error; // non-empty: exit_usage
};
Listing list_command(const std::vector<std::string>& args);

// The role's name closest to `word` by edit distance, if close enough.
std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& names);
std::size_t edit_distance(std::string_view a, std::string_view b);

// "usage: lockstep-ctl seq step [pattern] track step on|off   (/seq/step ,iii | ,iiii)"
std::string usage(const Role& role, const Command& command);
// Every command of the role, one usage line each.
std::string list(const Role& role);

// One line: the path and its arguments; strings quoted, floats shortest round-trip.
std::string format(const osc::Message& message);

} // namespace lockstep::ctl
