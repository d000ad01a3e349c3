// lockstep-fwsim: runs the box's core (firmware/core/device.hpp) behind a pseudo-terminal so
// that lockstep-bridge talks to it exactly as to the Teensy. The device clock is
// CLOCK_MONOTONIC_RAW since (re)boot scaled by --skew-ppm, in integer maths; each trigger
// rising edge is logged with the CLOCK_MONOTONIC_RAW time at which the "ISR" actually ran
// (measured, not intended), so a test measures the whole chain. One thread: the main loop and
// the "timer ISR" alternate; the loop sleeps in ppoll until 1.5 ms before the next edge, then
// spins on the clock (still reading the port) for the last part, so that an ordinary
// scheduling delay of its wake-up does not make the edge late.
//
// The box's timer is hardware; this one is a host thread. A trigger that this thread reached
// more than the tolerance late is dropped, as the box would drop it (so --log never shows a
// wrong-time edge), and also counted apart as the host's lateness ("timer late", logged when
// it happens and in the exit line), so a test can tell "the link lost it" from "the machine
// running the sim was too slow".
#include "core/device.hpp"
#include "service/cli.hpp"
#include "service/log.hpp"
#include "service/rt_priority.hpp"
#include "service/version.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <optional>
#include <random>
#include <string>

namespace {

namespace fw = lockstep::fw;
namespace log = lockstep::log;
using fw::DeviceTime;

__extension__ typedef unsigned __int128 u128; // host only: exact skew maths

constexpr std::int64_t ppb_per_unit = 1'000'000'000;
// Spin for the last 1.5 ms before an edge: wake-ups of a SCHED_FIFO thread on a busy VM were
// more than 400 us late for ~0.4 % of them (the old 300 us), a few times 1 ms.
constexpr std::uint64_t spin_ns = 1'500'000;
// While spinning, keep reading the port (pongs must not wait for the edge) until this close.
constexpr std::uint64_t spin_io_ns = 30'000;
constexpr std::uint64_t poll_max_ns = 1'000'000; // poll() the core at least every 1 ms

std::uint64_t raw_now() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

// Device clock = floor(elapsed_raw * (1e9 + ppb) / 1e9) since the (re)boot's raw start.
struct SkewClock {
    std::uint64_t start_raw = 0;
    std::int64_t ppb = 0; // > -1e9

    DeviceTime device(std::uint64_t raw) const {
        const auto e = static_cast<u128>(raw > start_raw ? raw - start_raw : 0);
        return static_cast<DeviceTime>(e * static_cast<u128>(ppb_per_unit + ppb) /
                                       static_cast<u128>(ppb_per_unit));
    }
    // The first raw time at which the device clock reads at least d.
    std::uint64_t raw(DeviceTime d) const {
        const auto den = static_cast<u128>(ppb_per_unit + ppb);
        const auto num = static_cast<u128>(d) * ppb_per_unit;
        return start_raw + static_cast<std::uint64_t>((num + den - 1) / den);
    }
};

std::uint32_t random_u32() {
    std::uint32_t v = 0;
    const int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &v, sizeof v) != static_cast<ssize_t>(sizeof v)) {
            v = 0;
        }
        close(fd);
    }
    if (v == 0) {
        v = static_cast<std::uint32_t>(std::random_device{}());
    }
    return v;
}

struct Sim {
    int master = -1;
    int slave = -1; // kept open: the master never sees EIO while the bridge reopens the port
    SkewClock clock;
    std::FILE* log_file = nullptr;
    std::optional<fw::Device> device;
    // Rising edges seen by the current advance() (the "ISR"), written after it returns.
    std::array<unsigned, 64> rises{};
    std::size_t rise_count = 0;
    // The host's lateness (see the top): triggers dropped because this thread ran the "ISR"
    // late, and how late the latest edge was run at worst.
    std::uint64_t timer_late = 0;
    std::uint64_t max_isr_delay_ns = 0;
    std::uint64_t isr_runs = 0;
    // Log lines are written to the file when the loop next goes to sleep, not between edges:
    // a write that blocks on a busy disk would make the next edge late.
    bool unflushed = false;

    void flush_log() {
        if (unflushed) {
            std::fflush(log_file);
            unflushed = false;
        }
    }

    static void output(void* context, const std::uint8_t* data, std::size_t size) {
        static_cast<Sim*>(context)->write_host(data, size);
    }
    static DeviceTime read_clock(void* context) {
        return static_cast<Sim*>(context)->clock.device(raw_now());
    }
    static void edge(void* context, unsigned output, bool level, DeviceTime /*due*/) {
        auto* self = static_cast<Sim*>(context);
        if (level && self->rise_count < self->rises.size()) {
            self->rises[self->rise_count++] = output;
        }
    }

    void write_host(const std::uint8_t* data, std::size_t size) {
        bool flushed = false;
        while (size > 0) {
            const ssize_t n = write(master, data, size);
            if (n > 0) {
                data += n;
                size -= static_cast<std::size_t>(n);
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else if (n < 0 && errno == EAGAIN && !flushed) {
                // Nobody reads the port (bridge away): drop what waits unread, as a USB
                // device's host-side buffer would be lost on reopen.
                tcflush(slave, TCIFLUSH);
                flushed = true;
            } else {
                return; // the frame is lost; the host copes (seq gap, retries)
            }
        }
    }

    void boot(std::uint32_t boot_id) {
        device.reset();
        clock.start_raw = raw_now();
        fw::Device::Config c;
        c.boot_id = boot_id;
        c.output = &Sim::output;
        c.output_context = this;
        c.clock = &Sim::read_clock;
        c.clock_context = this;
        device.emplace(c);
        device->scheduler().set_edge_hook(&Sim::edge, this);
        log::notice("lockstep-fwsim: boot id %08x", boot_id);
    }

    // The "timer ISR" for the edge due at raw time `due_raw`: advance at the measured time and
    // log each rise with it.
    void run_isr(std::uint64_t due_raw) {
        const std::uint64_t raw = raw_now();
        rise_count = 0;
        const std::uint32_t late_before = device->scheduler().counters().late;
        device->scheduler().advance(clock.device(raw));
        const std::uint32_t dropped = device->scheduler().counters().late - late_before;
        const std::uint64_t delay = raw > due_raw ? raw - due_raw : 0;
        ++isr_runs;
        max_isr_delay_ns = std::max(max_isr_delay_ns, delay);
        if (dropped > 0) {
            timer_late += dropped;
            log::warning("lockstep-fwsim: timer late: ran %llu us after the edge, %u trigger(s) "
                         "dropped (the host's lateness; the box's hardware timer would be on "
                         "time)",
                         static_cast<unsigned long long>(delay / 1000), dropped);
        }
        if (log_file != nullptr) {
            for (std::size_t i = 0; i < rise_count; ++i) {
                std::fprintf(log_file, "%u %llu\n", rises[i] + 1,
                             static_cast<unsigned long long>(raw));
            }
            unflushed = unflushed || rise_count > 0;
        }
    }

    void garbage() {
        std::array<std::uint8_t, 256> bytes{};
        std::mt19937 rng(random_u32());
        for (auto& b : bytes) {
            b = static_cast<std::uint8_t>(rng() % 8 == 0 ? 0 : rng());
        }
        write_host(bytes.data(), bytes.size());
    }
};

bool open_pty(Sim& sim, std::string& slave_name) {
    sim.master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (sim.master < 0 || grantpt(sim.master) != 0 || unlockpt(sim.master) != 0) {
        return false;
    }
    const char* name = ptsname(sim.master);
    if (name == nullptr) {
        return false;
    }
    slave_name = name;
    sim.slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (sim.slave < 0) {
        return false;
    }
    termios t{};
    if (tcgetattr(sim.slave, &t) != 0) {
        return false;
    }
    cfmakeraw(&t); // a serial line: no echo, no line editing, no CR/LF mapping
    if (tcsetattr(sim.slave, TCSANOW, &t) != 0) {
        return false;
    }
    const int flags = fcntl(sim.master, F_GETFL);
    return flags >= 0 && fcntl(sim.master, F_SETFL, flags | O_NONBLOCK) == 0;
}

// The link is replaced atomically: a symlink under a temporary name, renamed over PATH.
bool make_link(const std::string& link, const std::string& target) {
    const std::string tmp = link + ".tmp." + std::to_string(getpid());
    unlink(tmp.c_str());
    if (symlink(target.c_str(), tmp.c_str()) != 0) {
        return false;
    }
    if (rename(tmp.c_str(), link.c_str()) != 0) {
        unlink(tmp.c_str());
        return false;
    }
    return true;
}

int run(int argc, char** argv) {
    CLI::App app{"lockstep-fwsim: the trigger box's firmware core behind a pseudo-terminal"};
    std::string link;
    std::string log_path;
    double skew_ppm = 0.0;
    std::optional<std::uint32_t> boot_id;
    app.add_option("--link", link, "symlink to the pseudo-terminal (replaced, removed on exit)")
        ->type_name("PATH");
    app.add_option("--log", log_path,
                   "log one line per trigger rising edge: <output> <CLOCK_MONOTONIC_RAW ns>")
        ->type_name("FILE");
    app.add_option("--skew-ppm", skew_ppm, "device clock runs this many ppm fast (< 0: slow)")
        ->check(CLI::Range(-100'000.0, 100'000.0));
    app.add_option("--boot-id", boot_id, "first boot id (default: random)");
    app.set_version_flag("--version", std::string("lockstep-fwsim ") + LOCKSTEP_VERSION);
    if (const auto code = lockstep::service::parse(app, argc, argv, std::cout, std::cerr)) {
        return *code;
    }

    sigset_t mask;
    sigemptyset(&mask);
    for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) {
        sigaddset(&mask, s);
    }
    pthread_sigmask(SIG_BLOCK, &mask, nullptr);
    const int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0) {
        std::cerr << "lockstep-fwsim: signalfd: " << std::strerror(errno) << "\n";
        return lockstep::service::exit_code::startup;
    }
    signal(SIGPIPE, SIG_IGN);

    Sim sim;
    sim.clock.ppb = static_cast<std::int64_t>(skew_ppm * 1000.0 + (skew_ppm < 0 ? -0.5 : 0.5));
    std::string slave_name;
    if (!open_pty(sim, slave_name)) {
        std::cerr << "lockstep-fwsim: cannot open a pseudo-terminal: " << std::strerror(errno)
                  << "\n";
        return lockstep::service::exit_code::startup;
    }
    if (!log_path.empty()) {
        sim.log_file = std::fopen(log_path.c_str(), "we");
        if (sim.log_file == nullptr) {
            std::cerr << "lockstep-fwsim: cannot write " << log_path << ": " << std::strerror(errno)
                      << "\n";
            return lockstep::service::exit_code::startup;
        }
        // Big enough that only flush_log() writes (64 KiB: ~2000 edges between two sleeps).
        std::setvbuf(sim.log_file, nullptr, _IOFBF, 1 << 16);
    }
    if (!link.empty() && !make_link(link, slave_name)) {
        std::cerr << "lockstep-fwsim: cannot create link " << link << ": " << std::strerror(errno)
                  << "\n";
        return lockstep::service::exit_code::startup;
    }

    // Timer slack would add up to 50 us to every ppoll wake-up.
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    lockstep::service::lock_memory();
    lockstep::service::request_fifo(pthread_self(), 50, "fwsim main loop");

    std::uint32_t id = boot_id ? *boot_id : random_u32();
    sim.boot(id);
    std::printf("lockstep-fwsim: ready %s -> %s\n", link.empty() ? "" : link.c_str(),
                slave_name.c_str());
    std::fflush(stdout);

    std::array<std::uint8_t, 4096> buffer{};
    bool running = true;
    while (running) {
        const std::uint64_t now_raw = raw_now();
        fw::Device& dev = *sim.device;
        dev.poll(sim.clock.device(now_raw));
        const DeviceTime edge = dev.scheduler().next_edge();
        const std::uint64_t edge_raw =
            edge == fw::TriggerScheduler::never ? ~std::uint64_t{0} : sim.clock.raw(edge);
        if (edge_raw <= now_raw + spin_io_ns) {
            while (raw_now() < edge_raw) {
                // Spin: ppoll cannot wake us within a few microseconds.
            }
            sim.run_isr(edge_raw);
            continue;
        }
        // Sleep until the spin starts (at most poll_max_ns); while spinning, only look.
        std::uint64_t wait = 0;
        if (edge_raw > now_raw + spin_ns) {
            wait = std::min(poll_max_ns, edge_raw - spin_ns - now_raw);
        }
        if (wait > 0) {
            sim.flush_log();
        }
        timespec timeout{static_cast<time_t>(wait / 1'000'000'000ULL),
                         static_cast<long>(wait % 1'000'000'000ULL)};
        pollfd fds[2] = {{sim.master, POLLIN, 0}, {sigfd, POLLIN, 0}};
        const int n = ppoll(fds, 2, &timeout, nullptr);
        if (n < 0 && errno != EINTR) {
            log::error("lockstep-fwsim: ppoll: %s", std::strerror(errno));
            break;
        }
        if (n <= 0) {
            continue;
        }
        if ((fds[0].revents & POLLIN) != 0) {
            const ssize_t got = read(sim.master, buffer.data(), buffer.size());
            if (got > 0) {
                const DeviceTime at = sim.clock.device(raw_now());
                sim.device->on_bytes(buffer.data(), static_cast<std::size_t>(got), at);
            }
        }
        if ((fds[1].revents & POLLIN) != 0) {
            signalfd_siginfo info{};
            while (read(sigfd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
                switch (static_cast<int>(info.ssi_signo)) {
                case SIGHUP: {
                    std::uint32_t next = random_u32();
                    while (next == id) {
                        next = random_u32();
                    }
                    id = next;
                    sim.boot(id); // fresh core, clock from 0: like a reset
                    break;
                }
                case SIGUSR1:
                    sim.garbage();
                    break;
                default:
                    running = false;
                    break;
                }
            }
        }
    }

    if (!link.empty()) {
        unlink(link.c_str());
    }
    if (sim.log_file != nullptr) {
        std::fclose(sim.log_file);
    }
    close(sim.slave);
    close(sim.master);
    close(sigfd);
    // One line a test can parse: the host's share of the missing edges.
    std::printf("lockstep-fwsim: exit: timer late %llu (triggers dropped because this host ran "
                "the timer late), %llu timer runs, latest %llu us after an edge at worst\n",
                static_cast<unsigned long long>(sim.timer_late),
                static_cast<unsigned long long>(sim.isr_runs),
                static_cast<unsigned long long>(sim.max_isr_delay_ns / 1000));
    std::fflush(stdout);
    log::notice("lockstep-fwsim: exit");
    return lockstep::service::exit_code::ok;
}

} // namespace

int main(int argc, char** argv) {
    return run(argc, argv);
}
