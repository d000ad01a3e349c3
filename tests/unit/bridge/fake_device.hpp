// A fake lockstep box for the bridge's tests: a pseudo-terminal whose slave is reached
// through a symlink (as lockstep-fwsim's --link), served by a thread that speaks the
// protocol with firmware/core's codec. Its clock runs `skew` fast: device time =
// base + r + r * ppm / 1e6, r = host ns (CLOCK_MONOTONIC_RAW) since construction.
// It records every trigger and step it receives; tests can reboot it (new boot id and
// clock base), unplug and replug it (close the pty, make a new one behind the symlink) and
// spray garbage on the line.
#pragma once

#include "core/protocol.hpp"

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <poll.h>
#include <pty.h>
#include <string>
#include <termios.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace lockstep::test {

inline std::int64_t raw_now_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

class FakeDevice {
public:
    struct Received {
        fw::proto::Message message;
        std::int64_t host_ns = 0; // when the fake device decoded it
    };

    FakeDevice(std::string link, std::int64_t ppm) : link_(std::move(link)), ppm_(ppm) {
        origin_ = raw_now_ns();
        plug();
    }
    ~FakeDevice() { unplug(); }

    // The device clock at host time h.
    std::uint64_t device_at(std::int64_t h) const {
        const std::int64_t r = h - origin_;
        return static_cast<std::uint64_t>(base_.load() + r + r * ppm_ / 1'000'000);
    }

    void plug() {
        int master = -1;
        int slave = -1;
        if (::openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) {
            return;
        }
        termios t{};
        ::tcgetattr(slave, &t);
        ::cfmakeraw(&t);
        ::tcsetattr(slave, TCSANOW, &t);
        const std::string tmp = link_ + ".new";
        std::filesystem::remove(tmp);
        std::filesystem::create_symlink(::ptsname(master), tmp);
        std::filesystem::rename(tmp, link_);
        master_ = master;
        slave_ = slave; // held open so the master never reads EIO while the bridge is away
        running_.store(true);
        thread_ = std::thread([this] { serve(); });
    }

    void unplug() {
        running_.store(false);
        if (thread_.joinable()) {
            thread_.join();
        }
        std::error_code ec;
        std::filesystem::remove(link_, ec);
        if (master_ >= 0) {
            ::close(master_);
            master_ = -1;
        }
        if (slave_ >= 0) {
            ::close(slave_);
            slave_ = -1;
        }
    }

    // A new boot: new id, clock starts again elsewhere, queue and session gone.
    void reboot(std::uint32_t boot_id) {
        std::lock_guard lock(mutex_);
        boot_id_ = boot_id;
        base_.store(base_.load() - 3'000'000'000);
        hello_ok_ = false;
    }

    void garbage(const std::vector<std::uint8_t>& bytes) {
        std::lock_guard lock(mutex_);
        write_all(bytes.data(), bytes.size());
    }

    std::vector<Received> received(fw::proto::Type type) const {
        std::lock_guard lock(mutex_);
        std::vector<Received> out;
        for (const Received& r : received_) {
            if (r.message.type == type) {
                out.push_back(r);
            }
        }
        return out;
    }
    std::uint32_t boot_id() const {
        std::lock_guard lock(mutex_);
        return boot_id_;
    }
    std::size_t hellos() const { return hellos_.load(); }

private:
    void write_all(const std::uint8_t* p, std::size_t n) {
        while (n > 0 && master_ >= 0) {
            const ssize_t w = ::write(master_, p, n);
            if (w <= 0) {
                return;
            }
            p += w;
            n -= static_cast<std::size_t>(w);
        }
    }

    void send(const fw::proto::Message& m) {
        std::uint8_t buf[fw::proto::max_wire_frame];
        const std::size_t n = fw::proto::encode(m, seq_++, buf, sizeof buf);
        write_all(buf, n);
    }

    void serve() {
        fw::proto::Decoder decoder;
        std::uint8_t buf[256];
        while (running_.load()) {
            pollfd p{master_, POLLIN, 0};
            if (::poll(&p, 1, 5) <= 0) {
                continue;
            }
            const ssize_t n = ::read(master_, buf, sizeof buf);
            if (n <= 0) {
                continue;
            }
            for (ssize_t i = 0; i < n; ++i) {
                const std::optional<fw::proto::Frame> f = decoder.push(buf[i]);
                if (f) {
                    answer(*f);
                }
            }
        }
    }

    void answer(const fw::proto::Frame& f) {
        namespace proto = fw::proto;
        const std::int64_t now = raw_now_ns();
        std::lock_guard lock(mutex_);
        received_.push_back({f.message, now});
        switch (f.message.type) {
        case proto::Type::hello:
            hellos_.fetch_add(1);
            hello_ok_ = true;
            send(proto::Message(proto::HelloReply{boot_id_, proto::version, f.message.hello.nonce,
                                                  4, 0, 1, 0, 64}));
            break;
        case proto::Type::ping: {
            const std::uint64_t t2 = device_at(now);
            const std::uint64_t t3 = device_at(raw_now_ns());
            send(proto::Message(proto::Pong{boot_id_, f.seq, f.message.ping.host_time, t2, t3}));
            break;
        }
        case proto::Type::trigger:
        case proto::Type::step:
        case proto::Type::pattern:
        case proto::Type::transport:
            if (!hello_ok_) {
                send(proto::Message(proto::Error{boot_id_, proto::ErrorCode::not_ready, f.seq}));
            } else {
                send(proto::Message(proto::Ack{boot_id_, f.seq, proto::AckStatus::ok}));
            }
            break;
        default:
            break;
        }
    }

    std::string link_;
    std::int64_t ppm_;
    std::int64_t origin_ = 0;
    std::atomic<std::int64_t> base_{1'000'000'000};
    int master_ = -1;
    int slave_ = -1;
    std::thread thread_;
    std::atomic<bool> running_{false};
    mutable std::mutex mutex_;
    std::uint32_t boot_id_ = 0x1234'5678;
    bool hello_ok_ = false;
    std::uint16_t seq_ = 0;
    std::vector<Received> received_;
    std::atomic<std::size_t> hellos_{0};
};

} // namespace lockstep::test
