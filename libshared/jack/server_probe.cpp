#include "jack/server_probe.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lockstep::jack {

std::vector<std::string> server_socket_paths(const std::string& server, unsigned uid, GetEnv env) {
    std::vector<std::string> paths;
    const char* jack_default = env("JACK_DEFAULT_SERVER");
    const std::string jack_name =
        !server.empty()
            ? server
            : (jack_default != nullptr && *jack_default != '\0' ? jack_default : "default");
    // jackd2 (Linux build): its tmpdir is /dev/shm.
    paths.push_back("/dev/shm/jack_" + jack_name + "_" + std::to_string(uid) + "_0");

    // PipeWire: PIPEWIRE_REMOTE overrides the name a client asks for.
    const char* remote_env = env("PIPEWIRE_REMOTE");
    std::string remote = remote_env != nullptr && *remote_env != '\0' ? remote_env
                         : (!server.empty() && server != "default")   ? server
                                                                      : "pipewire-0";
    if (!remote.empty() && remote.front() == '/') {
        paths.push_back(remote);
        return paths;
    }
    for (const char* var : {"PIPEWIRE_RUNTIME_DIR", "XDG_RUNTIME_DIR"}) {
        const char* dir = env(var);
        if (dir != nullptr && *dir != '\0') {
            paths.push_back(std::string(dir) + "/" + remote);
            break;
        }
    }
    return paths;
}

bool server_socket_answers(const std::vector<std::string>& paths) {
    for (const auto& path : paths) {
        sockaddr_un addr{};
        if (path.size() >= sizeof addr.sun_path) {
            continue;
        }
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
        const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            return true; // cannot tell: let jack_client_open find out
        }
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
        const int rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
        const int err = errno;
        close(fd);
        // EAGAIN: listening, backlog full.
        if (rc == 0 || err == EAGAIN || err == EINPROGRESS) {
            return true;
        }
    }
    return false;
}

} // namespace lockstep::jack
