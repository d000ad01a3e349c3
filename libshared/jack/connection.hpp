// --connect SRC=DST specs: parsing and port-name resolution (pure, unit-tested).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lockstep::jack {

struct Connection {
    std::string source;      // output port
    std::string destination; // input port
    friend bool operator==(const Connection&, const Connection&) = default;
};

// Parses "SRC=DST" (split at the first '='). Both sides must be non-empty. Returns nullopt
// and sets `error` (when given) on malformed input.
std::optional<Connection> parse_connection(std::string_view spec, std::string* error = nullptr);

// A name without ':' is one of our own ports ("out" -> "<client>:out"); anything else is a
// full port name and is returned unchanged.
std::string qualify_port(std::string_view client_name, std::string_view port);

} // namespace lockstep::jack
