#include "jack/connection.hpp"

namespace lockstep::jack {

std::optional<Connection> parse_connection(std::string_view spec, std::string* error) {
    const auto eq = spec.find('=');
    if (eq == std::string_view::npos) {
        if (error != nullptr) {
            *error = "expected SRC=DST, got '" + std::string(spec) + "'";
        }
        return std::nullopt;
    }
    Connection c{std::string(spec.substr(0, eq)), std::string(spec.substr(eq + 1))};
    if (c.source.empty() || c.destination.empty()) {
        if (error != nullptr) {
            *error = "empty port name in '" + std::string(spec) + "'";
        }
        return std::nullopt;
    }
    return c;
}

std::string qualify_port(std::string_view client_name, std::string_view port) {
    if (port.find(':') != std::string_view::npos) {
        return std::string(port);
    }
    std::string full(client_name);
    full += ':';
    full += port;
    return full;
}

} // namespace lockstep::jack
