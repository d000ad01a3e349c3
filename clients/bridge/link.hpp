// lockstep-bridge's serial link (docs/bridge.md "Link", docs/bridge-protocol.md sections 5-7):
// one thread that finds and opens the box, says hello, pings every 50 ms and fits the clock,
// writes the process thread's triggers and steps, reads and checks every reply, and starts
// over when the box goes away, stops answering or reboots.
//
// Threads: the link's own serial thread does all I/O; status()/state_changes() may be called
// from any non-RT thread; line() from any thread including RT (wait-free).
#pragma once

#include "clock_fit.hpp"
#include "messages.hpp"
#include "rt/spsc_queue.hpp"

#include "core/protocol.hpp"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace lockstep::bridge {

enum class LinkState : std::uint8_t {
    searching,   // no device path, or it cannot be opened: retry every retry_ns
    handshaking, // port open, hello sent (every 200 ms) until a hello_reply with our nonce
    syncing,     // session up, pinging; the clock fit is not locked yet (triggers dropped)
    locked,      // the clock fit is locked: triggers go out
    lost,        // the session ended (EOF, I/O error, path gone, 1 s without a reply);
                 // the port is closed and the link goes back to searching
};
const char* to_string(LinkState s) noexcept;

struct LinkOptions {
    std::string device = "auto"; // --device: "auto" or a path (may be a symlink to a pty)
    std::string root = "/";      // where "auto" looks (tests give a fake tree)
    std::uint32_t pulse_us = 15'000;
    std::int64_t ping_ns = 50'000'000;       // ping period
    std::int64_t hello_ns = 200'000'000;     // hello repeat while handshaking
    std::int64_t retry_ns = 150'000'000;     // reopen period while searching
    std::int64_t timeout_ns = 1'000'000'000; // no reply for this long: the session is lost
    std::int64_t stats_ns = 1'000'000'000;   // stats_request period
    int fifo_priority = 0; // > 0: ask SCHED_FIFO at this priority for the serial thread
    ClockFitConfig fit;
};

// Everything /bridge/status reports about the link (a snapshot).
struct LinkStatus {
    LinkState state = LinkState::searching;
    std::string device;        // the path in use or last tried ("" when none found)
    std::uint32_t boot_id = 0; // 0 before the first hello_reply
    std::uint8_t outputs = 0;
    std::string firmware; // "major.minor.patch"
    double offset_ns = 0; // device minus host now (when locked)
    double drift_ppm = 0;
    std::int64_t rtt_min_ns = 0, rtt_median_ns = 0, rtt_max_ns = 0;
    double residual_ns = 0; // weighted RMS of the fit points
    std::uint64_t triggers_sent = 0;
    std::uint64_t steps_sent = 0;
    std::uint64_t dropped = 0;       // triggers not sent: link down or their line was stale
    std::uint64_t device_late = 0;   // ack{late} from the device
    std::uint64_t device_full = 0;   // ack{queue_full}
    std::uint64_t device_errors = 0; // error frames from the device
    // The box's own trigger counters from its latest stats reply of this session (reset to 0
    // by a new session): fired, and not fired because its timer reached them more than its
    // tolerance late (a trigger that arrived late is ack{late} instead) or they were dropped.
    std::uint64_t box_fired = 0, box_late = 0, box_dropped = 0;
    std::uint64_t garbage_bytes = 0; // bytes of frames that failed to decode
    std::uint64_t bad_frames = 0;    // frames that failed to decode
    std::uint64_t handshakes = 0;    // hello_replies accepted
    std::uint64_t reboots = 0;       // new boot ids seen after the first
    std::uint64_t reconnects = 0;    // sessions started after the first
    std::uint64_t stale_pongs = 0;   // pongs of an old boot id, dropped
    std::uint64_t pongs = 0;
    std::uint64_t write_failures = 0;
    std::uint64_t state_changes = 0;
};

class Link {
public:
    // Control thread. `queue` is the process thread's output (this link is its consumer).
    Link(LinkOptions options, SpscQueue<ToSerial>& queue);
    ~Link();
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

    // Control thread: starts / stops (joins) the serial thread. stop() is idempotent.
    void start();
    void stop();

    // Any thread (RT too): the latest clock line and its epoch; false when none is
    // available right now (keep using the previous one).
    bool line(SyncedLine& out) const noexcept RT_NONBLOCKING { return line_.try_load(out); }
    const LineSlot& line_slot() const noexcept { return line_; }

    // Any non-RT thread.
    LinkStatus status() const;
    std::uint64_t state_changes() const noexcept {
        return state_changes_.load(std::memory_order_acquire);
    }

private:
    void run();
    bool open_port(std::int64_t now);
    void close_port(bool lost);
    void set_state(LinkState s);
    void send_hello(std::int64_t now);
    void send_ping(std::int64_t now);
    void send_state();
    bool write_message(const fw::proto::Message& m);
    void drain_queue();
    void read_bytes(std::int64_t now);
    void on_frame(const fw::proto::Frame& f, std::int64_t now);
    bool check_boot(std::uint32_t boot_id);
    void new_epoch();
    void publish_line();
    bool port_still_there() const;

    LinkOptions options_;
    SpscQueue<ToSerial>& queue_;
    LineSlot line_;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> state_changes_{0};

    mutable std::mutex mutex_; // guards status_ (serial thread writes, others read)
    LinkStatus status_;

    // Serial thread only.
    int fd_ = -1;
    std::string path_;
    unsigned long long rdev_ = 0;
    ClockFit fit_;
    fw::proto::Decoder decoder_;
    std::uint16_t seq_ = 0;
    std::uint32_t nonce_ = 0;
    std::uint32_t boot_id_ = 0;
    std::uint32_t old_boot_id_ = 0;
    bool have_boot_ = false;
    bool session_ = false; // a hello_reply of this port was accepted
    bool ever_session_ = false;
    bool version_reported_ = false; // a hello_reply of another protocol version was logged
    std::uint32_t epoch_ = 1;
    std::int64_t next_hello_ = 0, next_ping_ = 0, next_stats_ = 0, next_check_ = 0;
    std::int64_t last_reply_ = 0;
    std::size_t frame_bytes_ = 0; // bytes since the last 0x00 (for garbage_bytes)
    std::uint64_t decode_errors_ = 0;
    // The state to re-send after a (re)handshake.
    bool have_step_ = false;
    fw::proto::Step last_step_{};
    bool playing_ = false;
    std::int64_t last_step_host_ns_ = 0;
    std::uint32_t tempo_mbpm_ = 120'000;
};

// CLOCK_MONOTONIC_RAW in ns: JACK2's clock on Linux, the host side of the clock fit.
std::int64_t host_now_ns() noexcept RT_NONBLOCKING;

} // namespace lockstep::bridge
