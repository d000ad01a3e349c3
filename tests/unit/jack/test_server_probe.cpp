#include "jack/server_probe.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>

using lockstep::jack::server_socket_answers;
using lockstep::jack::server_socket_paths;

namespace {

std::map<std::string, std::string> g_env;
const char* fake_env(const char* k) {
    auto it = g_env.find(k);
    return it == g_env.end() ? nullptr : it->second.c_str();
}

TEST(ServerSocketPaths, JackdAndPipewireDefaults) {
    g_env = {{"XDG_RUNTIME_DIR", "/run/user/1000"}};
    const auto p = server_socket_paths("", 1000, fake_env);
    ASSERT_EQ(p.size(), 2U);
    EXPECT_EQ(p[0], "/dev/shm/jack_default_1000_0");
    EXPECT_EQ(p[1], "/run/user/1000/pipewire-0");
}

TEST(ServerSocketPaths, NamedServerAndEnvironment) {
    g_env = {{"JACK_DEFAULT_SERVER", "studio"},
             {"PIPEWIRE_RUNTIME_DIR", "/tmp/pw"},
             {"XDG_RUNTIME_DIR", "/run/user/0"}};
    auto p = server_socket_paths("", 0, fake_env);
    EXPECT_EQ(p[0], "/dev/shm/jack_studio_0_0");
    EXPECT_EQ(p[1], "/tmp/pw/pipewire-0");
    p = server_socket_paths("rig", 0, fake_env); // -s wins over JACK_DEFAULT_SERVER
    EXPECT_EQ(p[0], "/dev/shm/jack_rig_0_0");
    EXPECT_EQ(p[1], "/tmp/pw/rig");
    g_env["PIPEWIRE_REMOTE"] = "/abs/socket"; // PIPEWIRE_REMOTE wins for PipeWire
    p = server_socket_paths("rig", 0, fake_env);
    EXPECT_EQ(p[1], "/abs/socket");
}

TEST(ServerSocketAnswers, ListeningSocketYesStaleFileOrNothingNo) {
    const std::string dir = std::filesystem::temp_directory_path() /
                            ("lockstep-probe-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = dir + "/sock";
    EXPECT_FALSE(server_socket_answers({path}));

    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(listen(fd, 4), 0);
    EXPECT_TRUE(server_socket_answers({"/nonexistent/x", path}));
    close(fd); // the file stays, like a killed server's
    EXPECT_TRUE(std::filesystem::exists(path));
    EXPECT_FALSE(server_socket_answers({path}));
    std::filesystem::remove_all(dir);
}

} // namespace
