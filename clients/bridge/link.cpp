#include "link.hpp"

#include "discovery.hpp"
#include "service/log.hpp"
#include "service/rt_priority.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <poll.h>
#include <random>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

namespace lockstep::bridge {

namespace proto = fw::proto;

std::int64_t host_now_ns() noexcept RT_NONBLOCKING {
    timespec ts{};
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wfunction-effects"
#endif
    // vDSO: no system call, no lock. RTSan knows clock_gettime as safe.
    ::clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
#if defined(__clang__)
#pragma clang diagnostic pop
#endif
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

const char* to_string(LinkState s) noexcept {
    switch (s) {
    case LinkState::searching:
        return "searching";
    case LinkState::handshaking:
        return "handshaking";
    case LinkState::syncing:
        return "syncing";
    case LinkState::locked:
        return "locked";
    case LinkState::lost:
        return "lost";
    }
    return "?";
}

namespace {

std::uint32_t random_u32() {
    static thread_local std::mt19937 gen{std::random_device{}()};
    return static_cast<std::uint32_t>(gen());
}

bool make_raw(int fd) {
    termios t{};
    if (::tcgetattr(fd, &t) != 0) {
        return false;
    }
    ::cfmakeraw(&t); // 8N1, no echo, no translation
    t.c_cflag |= CLOCAL | CREAD;
    // VMIN 1: a non-blocking read with nothing to read fails with EAGAIN (with VMIN 0 it
    // would return 0, indistinguishable from end of file).
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    ::cfsetispeed(&t, B115200); // ignored by CDC ACM
    ::cfsetospeed(&t, B115200);
    return ::tcsetattr(fd, TCSANOW, &t) == 0;
}

std::uint64_t decoder_errors(const proto::DecoderCounters& c) {
    return std::uint64_t{c.crc_errors} + c.framing_errors + c.oversize + c.unknown_type +
           c.bad_length + c.bad_field + c.bad_version;
}

} // namespace

Link::Link(LinkOptions options, SpscQueue<ToSerial>& queue)
    : options_(std::move(options)), queue_(queue), fit_(options_.fit) {
    SyncedLine empty;
    empty.epoch = epoch_;
    line_.store(empty);
}

Link::~Link() {
    stop();
}

void Link::start() {
    stopping_.store(false);
    thread_ = std::thread([this] { run(); });
    if (options_.fifo_priority > 0) {
        service::request_fifo(thread_.native_handle(), options_.fifo_priority, "bridge serial");
    }
}

void Link::stop() {
    stopping_.store(true);
    if (thread_.joinable()) {
        thread_.join();
    }
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

LinkStatus Link::status() const {
    std::lock_guard lock(mutex_);
    return status_;
}

void Link::set_state(LinkState s) {
    {
        std::lock_guard lock(mutex_);
        if (status_.state == s) {
            return;
        }
        status_.state = s;
        status_.state_changes += 1;
    }
    state_changes_.fetch_add(1, std::memory_order_release);
    log::info("bridge: link %s%s%s", to_string(s), path_.empty() ? "" : " ", path_.c_str());
}

void Link::new_epoch() {
    fit_.reset();
    epoch_ += 1;
    publish_line();
}

void Link::publish_line() {
    SyncedLine l;
    l.line = fit_.line();
    l.epoch = epoch_;
    line_.store(l);
}

bool Link::open_port(std::int64_t now) {
    path_ = resolve_device(options_.device, options_.root);
    {
        std::lock_guard lock(mutex_);
        status_.device = path_;
    }
    if (path_.empty()) {
        return false;
    }
    const int fd = ::open(path_.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !make_raw(fd)) {
        ::close(fd);
        return false;
    }
    ::tcflush(fd, TCIOFLUSH);
    fd_ = fd;
    rdev_ = st.st_rdev;
    decoder_.reset();
    frame_bytes_ = 0;
    version_reported_ = false;
    session_ = false;
    last_reply_ = now;
    new_epoch(); // a new port may be a new box: the old fit says nothing about it
    const std::uint8_t zero = 0;
    (void)!::write(fd_, &zero, 1); // ends whatever the device had half-received
    set_state(LinkState::handshaking);
    log::notice("bridge: opened %s", path_.c_str());
    send_hello(now);
    return true;
}

void Link::close_port(bool lost) {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    session_ = false;
    new_epoch();
    if (lost) {
        set_state(LinkState::lost);
        log::warning("bridge: lost the device on %s", path_.c_str());
    }
    set_state(LinkState::searching);
}

bool Link::port_still_there() const {
    struct stat st {};
    return ::stat(path_.c_str(), &st) == 0 && st.st_rdev == rdev_;
}

bool Link::write_message(const proto::Message& m) {
    std::uint8_t buf[proto::max_wire_frame];
    const std::size_t n = proto::encode(m, seq_, buf, sizeof buf);
    if (n == 0 || fd_ < 0) {
        return false;
    }
    seq_ = static_cast<std::uint16_t>(seq_ + 1);
    std::size_t done = 0;
    for (int tries = 0; done < n && tries < 3; ++tries) {
        const ssize_t w = ::write(fd_, buf + done, n - done);
        if (w > 0) {
            done += static_cast<std::size_t>(w);
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            break;
        }
    }
    if (done < n) {
        std::lock_guard lock(mutex_);
        status_.write_failures += 1;
        return false;
    }
    return true;
}

void Link::send_hello(std::int64_t now) {
    nonce_ = random_u32();
    write_message(proto::Message(proto::Hello{proto::version, nonce_}));
    next_hello_ = now + options_.hello_ns;
}

void Link::send_ping(std::int64_t now) {
    const std::int64_t t1 = host_now_ns();
    write_message(proto::Message(proto::Ping{static_cast<std::uint64_t>(t1)}));
    next_ping_ = now + options_.ping_ns;
}

void Link::send_state() {
    proto::Transport t{};
    t.state = playing_ ? proto::TransportState::resume : proto::TransportState::stop;
    t.tempo_mbpm = tempo_mbpm_;
    t.pattern = have_step_ ? last_step_.pattern : 0;
    t.step = have_step_ ? last_step_.step : 0;
    t.at = 0;
    write_message(proto::Message(t));
    if (have_step_) {
        write_message(proto::Message(last_step_));
    }
}

void Link::drain_queue() {
    ToSerial m;
    while (queue_.try_pop(m)) {
        switch (m.kind) {
        case ToSerialKind::trigger: {
            const bool ok = session_ && m.epoch == epoch_ && fit_.locked() &&
                            write_message(proto::Message(
                                proto::Trigger{m.device_ns, m.mask, options_.pulse_us}));
            std::lock_guard lock(mutex_);
            (ok ? status_.triggers_sent : status_.dropped) += 1;
            break;
        }
        case ToSerialKind::step: {
            if (m.pattern >= proto::max_patterns || m.step >= proto::max_steps) {
                break; // beyond what the box shows
            }
            if (have_step_ && m.host_ns > last_step_host_ns_) {
                // Tempo for the box's display, assuming sixteenth-note steps.
                const std::int64_t dt = m.host_ns - last_step_host_ns_;
                const std::int64_t mbpm = 15'000'000'000'000LL / dt;
                if (mbpm >= proto::min_tempo_mbpm && mbpm <= proto::max_tempo_mbpm) {
                    tempo_mbpm_ = static_cast<std::uint32_t>(mbpm);
                }
            }
            last_step_ = proto::Step{m.pattern, m.step, m.tracks};
            last_step_host_ns_ = m.host_ns;
            have_step_ = true;
            const bool start = !playing_;
            playing_ = true;
            if (session_) {
                if (start) {
                    send_state();
                } else if (write_message(proto::Message(last_step_))) {
                    std::lock_guard lock(mutex_);
                    status_.steps_sent += 1;
                }
            }
            break;
        }
        case ToSerialKind::stop:
            playing_ = false;
            if (session_) {
                send_state();
            }
            break;
        }
    }
}

bool Link::check_boot(std::uint32_t boot_id) {
    if (boot_id == boot_id_) {
        return true;
    }
    if (have_boot_ && boot_id == old_boot_id_) {
        std::lock_guard lock(mutex_);
        status_.stale_pongs += 1; // in flight from before the reboot
        return false;
    }
    // A reply from a boot we have not shaken hands with: the device rebooted.
    log::notice("bridge: device boot id %08x -> %08x: re-syncing", boot_id_, boot_id);
    session_ = false;
    new_epoch();
    set_state(LinkState::handshaking);
    send_hello(host_now_ns());
    return false;
}

void Link::on_frame(const proto::Frame& f, std::int64_t now) {
    switch (f.message.type) {
    case proto::Type::hello_reply: {
        const proto::HelloReply& r = f.message.hello_reply;
        if (r.nonce != nonce_ || session_) {
            return;
        }
        last_reply_ = now;
        if (r.version != proto::version) {
            if (version_reported_) {
                return;
            }
            version_reported_ = true; // once per port: hellos repeat every 200 ms
            log::error("bridge: device speaks protocol %u, bridge speaks %u", r.version,
                       proto::version);
            return;
        }
        const bool reboot = have_boot_ && r.boot_id != boot_id_;
        if (have_boot_ && r.boot_id != boot_id_) {
            old_boot_id_ = boot_id_;
        }
        boot_id_ = r.boot_id;
        have_boot_ = true;
        session_ = true;
        {
            std::lock_guard lock(mutex_);
            status_.boot_id = r.boot_id;
            status_.outputs = r.outputs;
            status_.firmware = std::to_string(r.fw_major) + "." + std::to_string(r.fw_minor) + "." +
                               std::to_string(r.fw_patch);
            status_.handshakes += 1;
            status_.box_fired = status_.box_late = status_.box_dropped = 0;
            status_.reboots += reboot ? 1 : 0;
            status_.reconnects += ever_session_ ? 1 : 0;
        }
        ever_session_ = true;
        log::notice("bridge: device %s, boot id %08x, %u outputs, firmware %u.%u.%u", path_.c_str(),
                    r.boot_id, r.outputs, r.fw_major, r.fw_minor, r.fw_patch);
        set_state(LinkState::syncing);
        send_state();
        send_ping(now);
        next_stats_ = now + options_.stats_ns;
        return;
    }
    case proto::Type::pong: {
        const proto::Pong& p = f.message.pong;
        if (!session_ || !check_boot(p.boot_id)) {
            return;
        }
        last_reply_ = now;
        const ClockSample s{static_cast<std::int64_t>(p.host_time), p.received, p.sent, now};
        const SampleVerdict v = fit_.add_sample(s);
        publish_line();
        log::debug("bridge: pong seq %u t1 %lld rtt %lld verdict %d locked %d offset %.0f drift "
                   "%.1f ppm se %.0f ns",
                   p.ping_seq, static_cast<long long>(s.host_send_ns),
                   static_cast<long long>((now - s.host_send_ns) -
                                          static_cast<std::int64_t>(p.sent - p.received)),
                   static_cast<int>(v), fit_.locked() ? 1 : 0, fit_.offset_ns(now),
                   fit_.drift_ppm(),
                   static_cast<double>(fit_.line().uncertainty_ns(now + 100'000'000)));
        const ClockStats cs = fit_.stats();
        const ClockLine& l = fit_.line();
        {
            std::lock_guard lock(mutex_);
            status_.pongs += 1;
            status_.offset_ns = fit_.offset_ns(now);
            status_.drift_ppm = fit_.drift_ppm();
            status_.rtt_min_ns = l.rtt_min_ns;
            status_.rtt_median_ns = l.rtt_median_ns;
            status_.rtt_max_ns = l.rtt_max_ns;
            status_.residual_ns = cs.residual_rms_ns;
        }
        set_state(fit_.locked() ? LinkState::locked : LinkState::syncing);
        return;
    }
    case proto::Type::ack: {
        if (!session_ || !check_boot(f.message.ack.boot_id)) {
            return;
        }
        last_reply_ = now;
        std::lock_guard lock(mutex_);
        if (f.message.ack.status == proto::AckStatus::late) {
            status_.device_late += 1;
        } else if (f.message.ack.status == proto::AckStatus::queue_full) {
            status_.device_full += 1;
        }
        return;
    }
    case proto::Type::error: {
        last_reply_ = now;
        std::lock_guard lock(mutex_);
        status_.device_errors += 1;
        return;
    }
    case proto::Type::stats:
        if (session_ && check_boot(f.message.stats.boot_id)) {
            last_reply_ = now;
            const proto::Stats& st = f.message.stats;
            std::lock_guard lock(mutex_);
            status_.box_fired = st.triggers_fired;
            status_.box_late = st.late_triggers;
            status_.box_dropped = st.dropped_triggers;
        }
        return;
    default:
        return; // host -> device types: ignored
    }
}

void Link::read_bytes(std::int64_t now) {
    std::uint8_t buf[512];
    for (;;) {
        const ssize_t n = ::read(fd_, buf, sizeof buf);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            close_port(true); // EOF, EIO (pty master closed), ENXIO (unplugged)
            return;
        }
        if (n <= 0) {
            return; // 0 only with VMIN 0 (a tty that ignored our settings): no data
        }
        const std::int64_t t4 = host_now_ns(); // as close to the read as we can
        for (ssize_t i = 0; i < n; ++i) {
            const std::optional<proto::Frame> f = decoder_.push(buf[i]);
            if (buf[i] == 0) {
                const std::uint64_t errors = decoder_errors(decoder_.counters());
                if (errors != decode_errors_) {
                    std::lock_guard lock(mutex_);
                    status_.garbage_bytes += frame_bytes_;
                    status_.bad_frames += errors - decode_errors_;
                    decode_errors_ = errors;
                }
                frame_bytes_ = 0;
            } else {
                frame_bytes_ += 1;
            }
            if (f) {
                on_frame(*f, t4);
                if (fd_ < 0) {
                    return;
                }
            }
        }
        (void)now;
    }
}

void Link::run() {
    std::int64_t next_open = 0;
    while (!stopping_.load(std::memory_order_relaxed)) {
        std::int64_t now = host_now_ns();
        if (fd_ < 0) {
            // Drop what the process thread queued meanwhile: nothing to send it to.
            ToSerial m;
            while (queue_.try_pop(m)) {
                if (m.kind == ToSerialKind::trigger) {
                    std::lock_guard lock(mutex_);
                    status_.dropped += 1;
                } else if (m.kind == ToSerialKind::stop) {
                    playing_ = false;
                }
            }
            if (now >= next_open && !open_port(now)) {
                next_open = now + options_.retry_ns;
            }
            if (fd_ < 0) {
                ::usleep(10'000);
                continue;
            }
            next_check_ = now + options_.retry_ns;
        }
        pollfd p{fd_, POLLIN, 0};
        // 1 ms: the queue from the process thread is polled, not signalled (the process
        // thread makes no system calls); the send margin (1 ms) covers this wait.
        const int r = ::poll(&p, 1, 1);
        now = host_now_ns();
        if (r > 0 && (p.revents & POLLIN) != 0) {
            read_bytes(now);
            if (fd_ < 0) {
                continue;
            }
        } else if (r > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
            close_port(true); // hung up (pty master closed, USB device gone)
            continue;
        }
        drain_queue();
        if (!session_ && now >= next_hello_) {
            send_hello(now);
        }
        if (session_ && now >= next_ping_) {
            send_ping(now);
        }
        if (session_ && now >= next_stats_) {
            write_message(proto::Message(proto::StatsRequest{}));
            next_stats_ = now + options_.stats_ns;
        }
        if (now >= next_check_) {
            next_check_ = now + options_.retry_ns;
            if (!port_still_there()) {
                close_port(true); // unplugged, or the path now names another device
                continue;
            }
        }
        if (now - last_reply_ > options_.timeout_ns) {
            log::warning("bridge: no reply from %s for %lld ms", path_.c_str(),
                         static_cast<long long>(options_.timeout_ns / 1'000'000));
            close_port(true);
        }
    }
}

} // namespace lockstep::bridge
