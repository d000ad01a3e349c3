// Tests of the private-server fixture itself, on the backend chosen by
// LOCKSTEP_TEST_BACKEND (meson test --setup pipewire runs them on PipeWire).
#include "harness/server.hpp"

#include <jack/jack.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>

namespace lockstep::test {
namespace {

using namespace std::chrono_literals;
constexpr auto timeout = 20s;

// A JACK client that counts its process cycles and notices the server going away.
class CountingClient {
public:
    explicit CountingClient(const TestServer& server, const char* name = "harness-test") {
        jack_status_t status{};
        client_ =
            jack_client_open(name, static_cast<jack_options_t>(JackNoStartServer | JackServerName),
                             &status, server.name().c_str());
        if (client_ == nullptr) {
            return;
        }
        jack_set_process_callback(client_, &CountingClient::process, this);
        // jackd2 calls the info variant, PipeWire 0.3.65 only the plain one.
        jack_on_shutdown(client_, &CountingClient::on_shutdown, this);
        jack_on_info_shutdown(client_, &CountingClient::on_info_shutdown, this);
    }
    ~CountingClient() {
        if (client_ != nullptr) {
            jack_client_close(client_);
        }
    }
    CountingClient(const CountingClient&) = delete;
    CountingClient& operator=(const CountingClient&) = delete;

    bool connected() const { return client_ != nullptr; }
    jack_client_t* get() const { return client_; }
    bool activate() { return jack_activate(client_) == 0; }
    std::uint64_t cycles() const { return cycles_.load(); }
    bool shut_down() const { return shut_down_.load(); }

private:
    static int process(jack_nframes_t, void* self) {
        static_cast<CountingClient*>(self)->cycles_.fetch_add(1, std::memory_order_relaxed);
        return 0;
    }
    static void on_shutdown(void* self) { static_cast<CountingClient*>(self)->shut_down_ = true; }
    static void on_info_shutdown(jack_status_t, const char*, void* self) {
        static_cast<CountingClient*>(self)->shut_down_ = true;
    }

    jack_client_t* client_ = nullptr;
    std::atomic<std::uint64_t> cycles_{0};
    std::atomic<bool> shut_down_{false};
};

void expect_runs_cycles(CountingClient& client) {
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.activate());
    EXPECT_TRUE(wait_until([&] { return client.cycles() >= 10; }, timeout))
        << "cycles: " << client.cycles();
}

// Is `pid` a live process running `program`? (Zombies and reused PIDs don't count.)
bool process_alive(pid_t pid, const std::string& program) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) {
        return false;
    }
    const auto close_paren = line.rfind(')');
    const bool zombie = close_paren != std::string::npos && line.size() > close_paren + 2 &&
                        line[close_paren + 2] == 'Z';
    return !zombie && line.find("(" + program) != std::string::npos;
}

// Was process `pid` started with `arg` on its command line?
bool has_argument(pid_t pid, const std::string& arg) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
    for (std::string a; std::getline(in, a, '\0');) {
        if (a == arg) {
            return true;
        }
    }
    return false;
}

const char* program_of(Backend backend) {
    return backend == Backend::jackd ? "jackd" : "pipewire";
}

struct RatePeriod {
    std::uint32_t rate;
    std::uint32_t period;
};

class HarnessRatePeriod : public ::testing::TestWithParam<RatePeriod> {};

TEST_P(HarnessRatePeriod, ClientSeesRequestedRateAndPeriodAndRuns) {
    ServerOptions opts;
    opts.rate = GetParam().rate;
    opts.period = GetParam().period;
    TestServer server(opts);
    ASSERT_TRUE(server.running());
    EXPECT_EQ(server.rate(), opts.rate);
    EXPECT_EQ(server.period(), opts.period);
    server.use_in_this_process();

    CountingClient client(server);
    ASSERT_TRUE(client.connected()) << server.log();
    EXPECT_EQ(jack_get_sample_rate(client.get()), opts.rate);
    EXPECT_EQ(jack_get_buffer_size(client.get()), opts.period);
    expect_runs_cycles(client);
    // The graph must not have switched quantum once the client was running.
    EXPECT_EQ(jack_get_buffer_size(client.get()), opts.period);
}

INSTANTIATE_TEST_SUITE_P(Harness, HarnessRatePeriod,
                         ::testing::Values(RatePeriod{48000, 256}, RatePeriod{44100, 128},
                                           RatePeriod{96000, 64}, RatePeriod{48000, 1024}));

TEST(Harness, BackendComesFromEnvironment) {
    TestServer server;
    EXPECT_EQ(server.backend(), backend_from_env());
}

TEST(Harness, SyncModeServerRunsClients) {
    ServerOptions opts;
    opts.sync = true;
    TestServer server(opts);
    EXPECT_TRUE(server.sync());
    ServerOptions async_opts;
    TestServer async_server(async_opts);
    if (server.backend() == Backend::jackd) {
        EXPECT_FALSE(has_argument(async_server.pid(), "-S"));
    }
    server.use_in_this_process();
    CountingClient client(server);
    expect_runs_cycles(client);
    if (server.backend() == Backend::jackd) {
        EXPECT_TRUE(has_argument(server.pid(), "-S"));
    }
}

TEST(Harness, StopThenStartKeepsTheName) {
    TestServer server;
    const std::string name = server.name();
    server.use_in_this_process();
    {
        CountingClient client(server);
        expect_runs_cycles(client);
    }
    server.stop();
    EXPECT_FALSE(server.running());
    EXPECT_EQ(server.pid(), -1);
    {
        CountingClient client(server);
        EXPECT_FALSE(client.connected());
    }
    EXPECT_THROW(
        {
            server.start();
            server.start();
        },
        std::logic_error);
    EXPECT_TRUE(server.running());
    EXPECT_EQ(server.name(), name);
    CountingClient client(server);
    expect_runs_cycles(client);
}

TEST(Harness, KillIsSeenByClientsAndRestartWorks) {
    TestServer server;
    server.use_in_this_process();
    const pid_t pid = server.pid();
    ASSERT_GT(pid, 0);
    {
        CountingClient client(server);
        expect_runs_cycles(client);
        server.kill();
        EXPECT_FALSE(server.running());
        EXPECT_FALSE(process_alive(pid, program_of(server.backend())));
        EXPECT_TRUE(wait_until([&] { return client.shut_down(); }, timeout));
    }
    server.start();
    EXPECT_TRUE(server.running());
    CountingClient client(server);
    expect_runs_cycles(client);
}

TEST(Harness, FreewheelRunsLinkedClientsFasterThanRealTime) {
    ServerOptions opts;
    opts.period = 1024; // real time: ~47 cycles/s, so the target below needs > 100 s
    TestServer server(opts);
    ASSERT_TRUE(server.supports_freewheel());
    server.use_in_this_process();
    CountingClient source(server, "fw-source");
    CountingClient sink(server, "fw-sink");
    ASSERT_TRUE(source.connected() && sink.connected());
    jack_port_t* out =
        jack_port_register(source.get(), "out", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
    jack_port_t* in =
        jack_port_register(sink.get(), "in", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
    ASSERT_TRUE(out != nullptr && in != nullptr);
    static std::atomic<int> freewheel_state{-1};
    jack_set_freewheel_callback(
        source.get(), [](int on, void*) { freewheel_state = on; }, nullptr);
    expect_runs_cycles(source);
    expect_runs_cycles(sink);
    // PipeWire freewheels only clients with a link; jack_connect works without a
    // session manager because pipewire-jack creates the link itself.
    ASSERT_EQ(jack_connect(source.get(), jack_port_name(out), jack_port_name(in)), 0);
    EXPECT_TRUE(wait_until([&] { return jack_port_connected(in) == 1; }, timeout));

    ASSERT_EQ(jack_set_freewheel(source.get(), 1), 0);
    EXPECT_TRUE(wait_until([] { return freewheel_state == 1; }, timeout));
    const std::uint64_t start = source.cycles();
    const std::uint64_t sink_start = sink.cycles();
    EXPECT_TRUE(wait_until([&] { return source.cycles() - start >= 5000; }, 30s))
        << "cycles while freewheeling: " << source.cycles() - start;
    // The sink runs after the source in each cycle and may be counted a few cycles
    // behind it when the source reaches its mark (PipeWire: 4939 of 5000 in one CI
    // run), so it gets its own wait: both must freewheel, not finish together.
    EXPECT_TRUE(wait_until([&] { return sink.cycles() - sink_start >= 5000; }, 30s))
        << "sink cycles while freewheeling: " << sink.cycles() - sink_start;

    ASSERT_EQ(jack_set_freewheel(source.get(), 0), 0);
    EXPECT_TRUE(wait_until([] { return freewheel_state == 0; }, timeout));
    const std::uint64_t after = source.cycles();
    EXPECT_TRUE(wait_until([&] { return source.cycles() >= after + 10; }, timeout));
    EXPECT_EQ(jack_disconnect(source.get(), jack_port_name(out), jack_port_name(in)), 0);
    EXPECT_TRUE(wait_until([&] { return jack_port_connected(in) == 0; }, timeout));
    EXPECT_EQ(jack_port_unregister(source.get(), out), 0);
    EXPECT_EQ(jack_port_unregister(sink.get(), in), 0);
}

TEST(Harness, TwoServersAtOnceHaveUniqueNamesAndOwnSettings) {
    ServerOptions a_opts;
    a_opts.rate = 48000;
    a_opts.period = 256;
    ServerOptions b_opts;
    b_opts.rate = 44100;
    b_opts.period = 512;
    TestServer a(a_opts);
    TestServer b(b_opts);
    EXPECT_NE(a.name(), b.name());
    EXPECT_NE(a.name().find("-" + std::to_string(getpid()) + "-"), std::string::npos);
    EXPECT_NE(a.dir(), b.dir());
    ASSERT_TRUE(a.running());
    ASSERT_TRUE(b.running());

    for (const TestServer* server : {&a, &b}) {
        server->use_in_this_process();
        CountingClient client(*server);
        ASSERT_TRUE(client.connected());
        EXPECT_EQ(jack_get_sample_rate(client.get()), server->rate());
        EXPECT_EQ(jack_get_buffer_size(client.get()), server->period());
        expect_runs_cycles(client);
    }
}

TEST(Harness, NamesAreUniqueWithinTheProcess) {
    std::set<std::string> names;
    for (int i = 0; i < 3; ++i) {
        TestServer server;
        EXPECT_TRUE(names.insert(server.name()).second) << server.name();
    }
}

TEST(Harness, ChildEnvSelectsTheServer) {
    ServerOptions opts;
    opts.rate = 44100;
    TestServer server(opts);
    ChildProcess child({"jack_samplerate"}, server.child_env());
    EXPECT_EQ(child.wait(timeout), 0) << child.output();
    EXPECT_NE(child.output().find("44100"), std::string::npos) << child.output();
}

TEST(Harness, TeardownLeavesNoProcessAndNoFiles) {
    for (const bool killed : {false, true}) {
        pid_t pid = -1;
        std::string dir;
        std::string name;
        Backend backend{};
        {
            TestServer server;
            pid = server.pid();
            dir = server.dir();
            name = server.name();
            backend = server.backend();
            ASSERT_TRUE(process_alive(pid, program_of(backend)));
            if (killed) {
                server.kill();
            }
        }
        EXPECT_FALSE(process_alive(pid, program_of(backend)));
        EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
        for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
            EXPECT_EQ(entry.path().filename().string().find(name), std::string::npos)
                << entry.path();
        }
    }
}

TEST(Harness, TeardownOnExceptionStopsTheServer) {
    pid_t pid = -1;
    Backend backend{};
    try {
        TestServer server;
        pid = server.pid();
        backend = server.backend();
        throw std::runtime_error("test failure");
    } catch (const std::runtime_error&) {
    }
    ASSERT_GT(pid, 0);
    EXPECT_FALSE(process_alive(pid, program_of(backend)));
}

TEST(Harness, KilledServersDoNotUseUpJackdServerSlots) {
    // jackd2 has 8 server slots per user; a killed server's slot must be reclaimed.
    for (int i = 0; i < 9; ++i) {
        TestServer server;
        server.kill();
    }
    TestServer server;
    EXPECT_TRUE(server.running());
}

TEST(Harness, ServerDiesWithItsTestProcess) {
    pid_t server_pid = -1;
    std::string name;
    std::string dir;
    {
        ChildProcess helper({LOCKSTEP_HARNESS_ORPHAN_HELPER});
        ASSERT_TRUE(helper.wait_for_output("\n", timeout)) << helper.output();
        const std::string out = helper.output();
        ASSERT_EQ(std::sscanf(out.c_str(), "server pid=%d", &server_pid), 1) << out;
        name = out.substr(out.find("name=") + 5);
        name.pop_back(); // newline
        dir = out.substr(out.find("dir=") + 4);
        dir = dir.substr(0, dir.find(' '));
        ASSERT_TRUE(dir.starts_with("/")) << out;
        ASSERT_TRUE(process_alive(server_pid, program_of(backend_from_env())));
        helper.signal(SIGKILL); // no destructor runs in the helper
        EXPECT_EQ(helper.wait(timeout), 128 + SIGKILL);
    }
    EXPECT_TRUE(wait_until(
        [&] { return !process_alive(server_pid, program_of(backend_from_env())); }, timeout));
    if (backend_from_env() == Backend::jackd) {
        // It got SIGTERM, so jackd cleaned up its files in /dev/shm itself.
        EXPECT_TRUE(wait_until(
            [&] {
                for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
                    if (entry.path().filename().string().find(name) != std::string::npos) {
                        return false;
                    }
                }
                return true;
            },
            timeout));
    }
    // The helper had no chance to remove its private directory.
    std::filesystem::remove_all(dir);
}

TEST(Harness, ServerThatCannotStartReportsItsLog) {
    // A fake server program first in PATH that fails at once.
    TempDir bin;
    const Backend backend = backend_from_env();
    const std::string fake = bin.path() + "/" + program_of(backend);
    {
        std::ofstream script(fake);
        script << "#!/bin/sh\necho fake server refusing to start\nexit 1\n";
    }
    std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
    const std::string old_path = std::getenv("PATH");
    setenv("PATH", (bin.path() + ":" + old_path).c_str(), 1);
    try {
        TestServer server;
        ADD_FAILURE() << "the fake server started: " << server.name();
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("fake server refusing to start"), std::string::npos) << what;
        EXPECT_NE(what.find("exited with status 1"), std::string::npos) << what;
    }
    setenv("PATH", old_path.c_str(), 1);
}

} // namespace
} // namespace lockstep::test
