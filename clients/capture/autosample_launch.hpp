// The recorder's OSC way to run the autosampler: `/capture/autosample s:args` starts
// `lockstep-capture autosample <args>` as a child process (on the recorder's JACK server,
// with its own OSC port unless the args give one), and /capture/autosample/pause,
// /resume and /cancel reach it as SIGUSR1, SIGUSR2 and SIGINT. Its log goes where the
// recorder's goes. docs/osc.md "/capture/autosample".
// Thread: the OSC endpoint's thread only (every handler); the destructor on the thread
// that destroys the endpoint.
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

// Registers /capture/autosample (s), /capture/autosample/pause, /resume, /cancel and
// /capture/autosample/process on `endpoint`. `osc_port` is the child's default OSC port.
void register_autosample_launcher(osc::Endpoint& endpoint, std::string server, int osc_port);

} // namespace lockstep::capture
