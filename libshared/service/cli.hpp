// Command-line conventions shared by every lockstep client (DESIGN.md section 4), on CLI11.
//
// Exit codes of every lockstep program:
//   0  success; also --help and --version
//   1  runtime failure after a successful start (JACK lost for good, I/O error, ...)
//   2  usage error: unknown flag, bad value; one line on stderr. Restarting cannot help
//      (systemd units set RestartPreventExitStatus=2).
//   3  startup failure: something named on the command line cannot be used now (OSC port
//      taken, state file's directory unwritable, JACK server not running).
// Thread: main thread only (parsing happens before any other thread starts).
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// g++ 12 reports a false -Wnull-dereference in std::string code inlined into CLI11.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

namespace lockstep::service {

namespace exit_code {
inline constexpr int ok = 0;
inline constexpr int failure = 1;
inline constexpr int usage = 2;
inline constexpr int startup = 3;
} // namespace exit_code

struct CommonOptions {
    std::string name;                   // -n/--name: JACK client name
    std::string server;                 // -s/--server: JACK server name; empty = default server
    std::string osc;                    // --osc: normalized URL, e.g. osc.udp://127.0.0.1:9010
    std::vector<std::string> osc_allow; // --osc-allow: CIDRs admitted besides loopback
    std::string state;                  // --state: state file; empty = no state file
    std::vector<std::pair<std::string, std::string>> connect; // --connect SRC=DST, in order
};

// Adds -n/--name, -s/--server, --osc, --osc-allow, --state, --connect and --version to
// `app` (CLI11 provides -h/--help), with defaults for `role` ("seq", "sampler", ...):
// name lockstep-<role>, server $JACK_DEFAULT_SERVER or the default server, OSC on
// osc.udp://127.0.0.1:<default_osc_port>. Values are validated while parsing, so a bad
// one is a usage error. `opts` must outlive parsing.
void add_common_options(CLI::App& app, CommonOptions& opts, std::string_view role,
                        int default_osc_port);

// "osc.udp://127.0.0.1:<port>"
std::string default_osc_url(int port);

// Parses the command line. Returns nullopt when the program should go on, otherwise the
// exit code to stop with now: 0 after printing --help/--version to `out`, 2 after
// printing a one-line error ("<program>: <reason> (see --help)") to `err`.
std::optional<int> parse(CLI::App& app, int argc, const char* const* argv, std::ostream& out,
                         std::ostream& err);

// parse() to stdout/stderr, and std::exit() with its code when it says stop.
void parse_or_exit(CLI::App& app, int argc, const char* const* argv);

} // namespace lockstep::service
