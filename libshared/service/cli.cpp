#include "service/cli.hpp"

#include "service/version.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <sstream>

namespace lockstep::service {

namespace {

bool all_digits(std::string_view s) {
    return !s.empty() && s.size() <= 9 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A port number 1..65535 written in decimal, or -1.
int parse_port(std::string_view s) {
    if (!all_digits(s)) {
        return -1;
    }
    const int port = std::atoi(std::string(s).c_str());
    return port >= 1 && port <= 65535 ? port : -1;
}

// Accepts PORT, osc.udp://HOST:PORT[/], osc.tcp://HOST:PORT[/] or osc.unix:///PATH and
// rewrites a bare port into the loopback UDP URL.
std::string check_osc(std::string& value) {
    if (const int port = parse_port(value); port > 0) {
        value = default_osc_url(port);
        return {};
    }
    static constexpr std::string_view kUnix = "osc.unix://";
    if (value.rfind(kUnix, 0) == 0) {
        if (value.size() > kUnix.size() + 1 && value[kUnix.size()] == '/') {
            return {};
        }
        return "osc.unix:// needs an absolute path, e.g. osc.unix:///run/lockstep/seq";
    }
    for (std::string_view scheme : {"osc.udp://", "osc.tcp://"}) {
        if (value.rfind(scheme, 0) != 0) {
            continue;
        }
        std::string_view rest(value);
        rest.remove_prefix(scheme.size());
        if (!rest.empty() && rest.back() == '/') {
            rest.remove_suffix(1);
        }
        const auto colon = rest.rfind(':');
        if (colon == std::string_view::npos || colon == 0 ||
            parse_port(rest.substr(colon + 1)) < 0) {
            return "expected " + std::string(scheme) + "HOST:PORT with a port 1-65535, got '" +
                   value + "'";
        }
        return {};
    }
    return "expected a port (1-65535) or an osc.udp://HOST:PORT, osc.tcp://HOST:PORT or "
           "osc.unix:///PATH URL, got '" +
           value + "'";
}

// IPv4 or IPv6 address with an optional /prefix.
std::string check_cidr(std::string& value) {
    const auto slash = value.find('/');
    const std::string addr = value.substr(0, slash);
    unsigned char buf[16];
    int max_prefix = -1;
    if (inet_pton(AF_INET, addr.c_str(), buf) == 1) {
        max_prefix = 32;
    } else if (inet_pton(AF_INET6, addr.c_str(), buf) == 1) {
        max_prefix = 128;
    } else {
        return "'" + value + "' is not an IPv4 or IPv6 address[/prefix]";
    }
    if (slash != std::string::npos) {
        const std::string prefix = value.substr(slash + 1);
        if (!all_digits(prefix) || std::atoi(prefix.c_str()) > max_prefix) {
            return "bad prefix length in '" + value + "' (0-" + std::to_string(max_prefix) + ")";
        }
    }
    return {};
}

std::string check_connect(std::string& value) {
    const auto eq = value.find('=');
    if (std::count(value.begin(), value.end(), '=') != 1 || eq == 0 || eq + 1 == value.size()) {
        return "expected SRC=DST (two port names joined by one '='), got '" + value + "'";
    }
    return {};
}

std::string check_name(std::string& value) {
    // JACK client names are at most jack_client_name_size() - 1 = 63 bytes.
    if (value.empty() || value.size() > 63) {
        return "a JACK client name needs 1 to 63 characters";
    }
    return {};
}

std::string check_nonempty_path(std::string& value) {
    return value.empty() ? "the file name is empty" : std::string();
}

std::string one_line(std::string s) {
    std::replace(s.begin(), s.end(), '\n', ' ');
    while (!s.empty() && s.back() == ' ') {
        s.pop_back();
    }
    return s;
}

} // namespace

std::string default_osc_url(int port) {
    return "osc.udp://127.0.0.1:" + std::to_string(port);
}

void add_common_options(CLI::App& app, CommonOptions& opts, std::string_view role,
                        int default_osc_port) {
    const std::string program = "lockstep-" + std::string(role);
    opts.name = program;
    const char* env_server = std::getenv("JACK_DEFAULT_SERVER");
    opts.server = env_server != nullptr ? env_server : "";
    opts.osc = default_osc_url(default_osc_port);

    app.add_option("-n,--name", opts.name, "JACK client name")
        ->type_name("NAME")
        ->check(CLI::Validator(check_name, ""))
        ->capture_default_str();
    app.add_option("-s,--server", opts.server,
                   "JACK server name (default: $JACK_DEFAULT_SERVER, else the default server)")
        ->type_name("NAME");
    app.add_option("--osc", opts.osc,
                   "where to listen for OSC: a UDP port on 127.0.0.1, or a URL "
                   "(osc.udp://HOST:PORT, osc.tcp://HOST:PORT, osc.unix:///PATH)")
        ->type_name("URL|PORT")
        ->transform(CLI::Validator(check_osc, ""))
        ->capture_default_str();
    app.add_option("--osc-allow", opts.osc_allow,
                   "also accept OSC from this network (repeatable; loopback is always allowed)")
        ->type_name("CIDR")
        ->check(CLI::Validator(check_cidr, ""))
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    app.add_option("--state", opts.state, "state file, saved atomically on change and on exit")
        ->type_name("FILE")
        ->check(CLI::Validator(check_nonempty_path, ""));
    app.add_option_function<std::vector<std::string>>(
           "--connect",
           [&opts](const std::vector<std::string>& values) {
               opts.connect.clear();
               for (const auto& v : values) {
                   const auto eq = v.find('=');
                   opts.connect.emplace_back(v.substr(0, eq), v.substr(eq + 1));
               }
           },
           "connect JACK ports SRC to DST after activation and after each reconnect (repeatable)")
        ->type_name("SRC=DST")
        ->check(CLI::Validator(check_connect, ""))
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    app.set_version_flag("--version", program + " " + LOCKSTEP_VERSION);
}

std::optional<int> parse(CLI::App& app, int argc, const char* const* argv, std::ostream& out,
                         std::ostream& err) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) { // --help, --version
            app.exit(e, out, err);
            return exit_code::ok;
        }
        err << app.get_name() << ": " << one_line(e.what()) << " (see --help)\n";
        return exit_code::usage;
    }
    return std::nullopt;
}

void parse_or_exit(CLI::App& app, int argc, const char* const* argv) {
    if (auto code = parse(app, argc, argv, std::cout, std::cerr)) {
        std::cout.flush();
        std::exit(*code);
    }
}

} // namespace lockstep::service
