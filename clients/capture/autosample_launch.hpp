// The recorder's OSC way to run the autosampler: `/capture/autosample s:args` starts
// `lockstep-capture autosample <args>` as a child process (on the recorder's JACK server,
// with its own OSC port unless the args give one), and /capture/autosample/pause,
// /resume and /cancel reach it as SIGUSR1, SIGUSR2 and SIGINT. Its log goes where the
// recorder's goes. docs/osc.md "/capture/autosample".
// A finished child is reaped at once by a waiter thread (its exit code is kept for
// /capture/autosample/process). Thread: handlers on the OSC endpoint's thread; the
// child's state is shared with the waiter under a mutex.
#pragma once

#include "osc/endpoint.hpp"

#include <string>
#include <sys/types.h>
#include <vector>

namespace lockstep::capture {

// Splits an argument string at whitespace (no quoting: paths with spaces need the CLI).
std::vector<std::string> split_args(const std::string& text);

// The command line for the child: `exe autosample [-s server] [--osc port] args...`
// (-s and --osc added only when args have none).
std::vector<std::string> autosample_command(const std::string& exe, const std::string& server,
                                            int osc_port, const std::vector<std::string>& args);

// The child's default OSC port from the recorder's OSC URL: the recorder's UDP port + 100
// (9112 by default), or - 100 when + 100 would pass 65535; 9112 for a UNIX socket or a URL
// that does not parse.
int autosample_osc_port(const std::string& recorder_url);

// The child's environment: `env` without NOTIFY_SOCKET, NSM_URL and WATCHDOG_* (the
// recorder's systemd notification, watchdog and NSM session are not the child's).
std::vector<std::string> child_environment(const char* const* env);

// Registers /capture/autosample (s), /capture/autosample/pause, /resume, /cancel and
// /capture/autosample/process on `endpoint`. `osc_port` is the child's default OSC port.
void register_autosample_launcher(osc::Endpoint& endpoint, std::string server, int osc_port);

} // namespace lockstep::capture
