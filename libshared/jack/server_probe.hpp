// Is a JACK server there? Asked without libjack, by connecting to the socket the server
// would listen on. The supervisor asks before each reconnection attempt: every failed
// jack_client_open makes jackd2's libjack (1.9.21) start and stop its message-buffer
// thread, and when that thread takes over a second to start (a loaded machine) libjack
// frees it while it runs and the next open hangs. So we only call jack_client_open when a
// server answers (or, in case our guess of the socket is wrong, every few seconds).
// Thread: any non-RT thread.
#pragma once

#include <string>
#include <vector>

namespace lockstep::jack {

using GetEnv = const char* (*)(const char*);

// Sockets a server named `server` ("" = the default one) would listen on: jackd2's request
// socket (/dev/shm/jack_<name>_<uid>_0) and PipeWire's (runtime dir / remote name).
std::vector<std::string> server_socket_paths(const std::string& server, unsigned uid, GetEnv env);

// True when one of `paths` accepts a connection (a stale socket file left by a killed
// server does not). The connection is closed at once.
bool server_socket_answers(const std::vector<std::string>& paths);

} // namespace lockstep::jack
