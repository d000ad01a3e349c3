// lockstep-ctl's command table: every control path of every client (docs/osc.md), its
// type signatures and how the client answers. tests/unit/ctl checks it against docs/osc.md
// and tests/integration/ctl_session_test.cpp against the running clients.
// Thread: any (constant data).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lockstep::ctl {

// How a client answers a command.
enum class Reply : std::uint8_t {
    sync,  // at once, from its listening socket (or not at all): ended by a /ping's /pong
    async, // later (sampler kit changes): the same path with the values now in force
};

struct Command {
    std::string_view path;
    // Accepted signatures: OSC type tags, except 'B' = an 'i' 0/1 that also reads on/off.
    std::vector<std::string_view> signatures;
    std::string_view usage; // the arguments, e.g. "[pattern] track step on|off"
    Reply reply = Reply::sync;
};

struct Role {
    std::string_view name; // seq, sampler, capture, bridge, autosample
    std::string_view root; // path prefix the command words are relative to
    std::uint16_t port;    // default OSC port
    std::string_view client;
    std::vector<Command> commands; // built-ins (/ping, /query, ...) included
};

// Every role, in DESIGN.md's order (autosample last).
std::span<const Role> roles();
const Role* find_role(std::string_view name);
const Command* find_command(const Role& role, std::string_view path);

// The OSC type tags of a table signature ('B' -> 'i').
std::string osc_types(std::string_view signature);
// The command's words after the role: "/seq/step/velocity" -> "step velocity",
// "/ping" -> "ping".
std::string command_words(const Role& role, const Command& command);

} // namespace lockstep::ctl
