// lockstep-seq's Ableton Link peer (--link): the LinkSession the engine reads, on top of
// ableton::Link (Debian's ableton-link-dev). docs/seq.md, "Ableton Link".
//
// Threads: capture() and the snapshot getters run on the audio thread and use Link's
// realtime-safe capture only (captureAudioSessionState: no allocation, lock or system call
// but clock_gettime). request_*() only queue (bounded, lock-free); poll() on the control
// thread commits them with commitAppSessionState, so nothing on the audio thread ever
// signals Link's threads. Link's clock is CLOCK_MONOTONIC_RAW; JACK's may be another
// (PipeWire's is CLOCK_MONOTONIC): the offset between them is read with every capture.
#pragma once

#include "link.hpp"
#include "rt/spsc_queue.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace lockstep::seq {

// What the engine asks of the session, audio thread -> control thread.
struct LinkRequest {
    bool tempo = false; // else start/stop
    bool playing = false;
    double bpm = 0;
    std::int64_t usecs = 0; // JACK µs
};

class AbletonLinkSession final : public LinkSession {
public:
    // Control thread: joins the session (enabled, start/stop sync on) at `bpm` until peers
    // say otherwise.
    explicit AbletonLinkSession(double bpm);
    ~AbletonLinkSession() override;
    AbletonLinkSession(const AbletonLinkSession&) = delete;
    AbletonLinkSession& operator=(const AbletonLinkSession&) = delete;

    void capture() noexcept RT_NONBLOCKING override;
    double tempo() const noexcept RT_NONBLOCKING override { return tempo_; }
    bool playing() const noexcept RT_NONBLOCKING override { return playing_; }
    std::int64_t playing_changed_at() const noexcept RT_NONBLOCKING override { return playing_at_; }
    double beat_at(std::int64_t usecs) const noexcept RT_NONBLOCKING override;
    double usecs_at_beat(double beat) const noexcept RT_NONBLOCKING override;
    void request_tempo(double bpm, std::int64_t usecs) noexcept RT_NONBLOCKING override;
    void request_playing(bool playing, std::int64_t usecs) noexcept RT_NONBLOCKING override;

    // Control thread: commits what the engine asked for.
    void poll();
    // Any thread.
    std::size_t peers() const;
    std::uint64_t requests_dropped() const { return dropped_.load(std::memory_order_relaxed); }

private:
    struct State; // Link and the captured session state (keeps Link's header out of here)

    std::unique_ptr<State> state_;
    SpscQueue<LinkRequest> requests_;
    std::atomic<std::uint64_t> dropped_{0};
    // Audio thread: the snapshot.
    double tempo_ = 120;
    bool playing_ = false;
    std::int64_t playing_at_ = 0;
    std::int64_t offset_ = 0; // Link µs - JACK µs
};

} // namespace lockstep::seq
