#pragma once
// The box's application logic, shared by the Teensy sketch and lockstep-fwsim: the protocol
// endpoint (docs/bridge-protocol.md) in front of the trigger scheduler and the standalone
// sequencer.
//
// Contexts (single-core Cortex-M7, or fwsim's one thread):
//   - main loop: on_bytes(), poll(), the accessors, and the UI's use of sequencer().
//   - timer ISR: scheduler().advance() / scheduler().next_edge() only (see
//     trigger_scheduler.hpp); after on_bytes() or poll() queued a trigger the main loop pends
//     that ISR so an edge earlier than the armed one is seen.
// Replies are encoded into wire frames on the stack and handed to the output sink at once,
// from the main loop. No heap; RAM is the scheduler's and the sequencer's plus ~200 bytes.
//
// Behaviour the spec leaves to the device (documented in bridge-protocol.md section 9):
//   - Host link: the first valid hello of our version connects the host (the sequencer
//     follows it); every valid frame after it keeps the link; host_timeout_ns without a valid
//     frame loses it (the sequencer continues standalone, in phase). A valid frame after a
//     loss reconnects without a new hello (the boot did not change).
//   - step carries no device time: its arrival time is the step's start for the sequencer's
//     phase (a transport with `at` != 0 gives the exact start and is preferred by the bridge).
//   - transport sets the box's tempo (undoable, like a tempo edit) so that a standalone
//     continuation plays at the host's tempo; pattern snapshots are mirrored into the box's
//     pattern pool (tracks beyond `outputs` and steps beyond 16 are not kept).
#include "core/config.hpp"
#include "core/protocol.hpp"
#include "core/sequencer.hpp"
#include "core/trigger_scheduler.hpp"

#include <cstddef>
#include <cstdint>

namespace lockstep::fw {

inline constexpr std::uint8_t fw_version_major = 0;
inline constexpr std::uint8_t fw_version_minor = 1;
inline constexpr std::uint8_t fw_version_patch = 0;

class Device {
public:
    // Writes one complete wire frame to the host (main loop; may block briefly on USB).
    using OutputSink = void (*)(void* context, const std::uint8_t* data, std::size_t size);
    // Reads the device clock (main loop); used for pong.sent and stats.uptime, which the
    // spec wants taken just before writing. Null: the `now` given to on_bytes is used.
    using ClockSource = DeviceTime (*)(void* context);

    struct Config {
        std::uint32_t boot_id = 0;
        OutputSink output = nullptr;
        void* output_context = nullptr;
        ClockSource clock = nullptr;
        void* clock_context = nullptr;
        DeviceTime host_timeout_ns = 1'000'000'000;     // no valid frame for 1 s: host lost
        DeviceTime bad_frame_interval_ns = 100'000'000; // at most one bad_frame error per 100 ms
    };

    // Counters of the device itself (the decoder's and the scheduler's are separate).
    struct Counters {
        std::uint32_t late_on_arrival; // triggers whose time had passed when they arrived
        std::uint32_t not_ready;       // commands refused before a hello
        std::uint32_t bad_frame_errors_sent;
        std::uint32_t host_losses;
    };

    explicit Device(const Config& config);
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    // Main loop. Feeds bytes received from the host; `now` is the device time at which they
    // arrived (the completion time of every frame they close). Replies go to the sink.
    void on_bytes(const std::uint8_t* data, std::size_t size, DeviceTime now);

    // Main loop, often (at least every lookahead/2 = 2.5 ms while playing standalone):
    // detects host loss and feeds the standalone sequencer's steps to the scheduler.
    void poll(DeviceTime now);

    std::uint32_t boot_id() const { return config_.boot_id; }
    bool ready() const { return ready_; }         // a hello of our version was answered
    bool host_connected() const { return host_; } // the link is alive now
    const Counters& counters() const { return counters_; }
    const proto::DecoderCounters& decoder_counters() const { return decoder_.counters(); }
    proto::Stats stats(DeviceTime now) const;

    // The last pattern snapshot received (has_host_pattern() false before the first); display.
    const proto::PatternSnapshot& host_pattern() const { return host_pattern_; }
    bool has_host_pattern() const { return has_host_pattern_; }

    TriggerScheduler& scheduler() { return scheduler_; }
    const TriggerScheduler& scheduler() const { return scheduler_; }
    Sequencer& sequencer() { return sequencer_; }
    const Sequencer& sequencer() const { return sequencer_; }

    // Spec 7: a queued trigger reached more than 100 us late is dropped, not fired.
    static constexpr DeviceTime late_tolerance_ns = 100'000;

private:
    void handle(const proto::Frame& frame, DeviceTime now);
    void send(const proto::Message& message);
    void send_error(proto::ErrorCode code, std::uint16_t seq);
    void send_ack(std::uint16_t seq, proto::AckStatus status);
    DeviceTime clock(DeviceTime fallback) const;
    void connect(DeviceTime now);
    void queue_step(const StepEvent& event);
    static std::uint32_t error_sum(const proto::DecoderCounters& c);

    Config config_;
    proto::Decoder decoder_;
    TriggerScheduler scheduler_;
    Sequencer sequencer_;
    std::uint16_t seq_ = 0; // starts at 0 each boot (spec 2)
    bool ready_ = false;
    bool host_ = false;
    DeviceTime last_rx_ = 0;
    bool bad_frame_sent_ = false;
    DeviceTime last_bad_frame_ = 0;
    std::uint16_t high_water_ = 0;
    Counters counters_{};
    proto::PatternSnapshot host_pattern_{};
    bool has_host_pattern_ = false;
};

} // namespace lockstep::fw
