// Ableton Link and Asio are header-only and this build sees them as our code (-I/usr/include
// comes with another dependency): g++ 12 reports a null dereference inside Asio's inlined
// scheduler (a false positive, reported after inlining, so it must be off for the whole
// file); ableton_link.hpp turns our other warnings off for their headers.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif

#include "link_session.hpp"

#include <jack/jack.h>

#include "ableton_link.hpp"

#include <chrono>
#include <cmath>
#include <optional>

namespace lockstep::seq {

namespace {

constexpr std::size_t request_capacity = 256;

// Link µs - JACK µs, read back to back (the midpoint of two Link readings around JACK's).
std::int64_t clock_offset(const ableton::Link& link) noexcept {
    const auto clock = link.clock();
    const std::int64_t a = clock.micros().count();
    const auto j = static_cast<std::int64_t>(jack_get_time());
    const std::int64_t b = clock.micros().count();
    return a + (b - a) / 2 - j;
}

} // namespace

struct AbletonLinkSession::State {
    explicit State(double bpm) : link(bpm) {}
    ableton::Link link;
    std::optional<ableton::Link::SessionState> captured; // audio thread
};

AbletonLinkSession::AbletonLinkSession(double bpm)
    : state_(std::make_unique<State>(bpm)), requests_(request_capacity), tempo_(bpm) {
    state_->link.enableStartStopSync(true);
    state_->link.enable(true);
}

AbletonLinkSession::~AbletonLinkSession() {
    state_->link.enable(false);
}

// Link's and JACK's calls are not annotated; what they do on this path is listed in the
// header (Link's realtime-safe capture, clock_gettime).
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wfunction-effects"
#endif
void AbletonLinkSession::capture() noexcept RT_NONBLOCKING {
    State& s = *state_;
    offset_ = clock_offset(s.link);
    s.captured.emplace(s.link.captureAudioSessionState());
    tempo_ = s.captured->tempo();
    playing_ = s.captured->isPlaying();
    playing_at_ = s.captured->timeForIsPlaying().count() - offset_;
}

double AbletonLinkSession::beat_at(std::int64_t usecs) const noexcept RT_NONBLOCKING {
    if (!state_->captured) {
        return 0;
    }
    return state_->captured->beatAtTime(std::chrono::microseconds(usecs + offset_), link_quantum);
}

double AbletonLinkSession::usecs_at_beat(double beat) const noexcept RT_NONBLOCKING {
    if (!state_->captured) {
        return 0;
    }
    return static_cast<double>(state_->captured->timeAtBeat(beat, link_quantum).count() - offset_);
}
#if defined(__clang__)
#pragma clang diagnostic pop
#endif

void AbletonLinkSession::request_tempo(double bpm, std::int64_t usecs) noexcept RT_NONBLOCKING {
    LinkRequest r;
    r.tempo = true;
    r.bpm = bpm;
    r.usecs = usecs;
    if (!requests_.try_push(r)) {
        dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
}

void AbletonLinkSession::request_playing(bool playing, std::int64_t usecs) noexcept RT_NONBLOCKING {
    LinkRequest r;
    r.playing = playing;
    r.usecs = usecs;
    if (!requests_.try_push(r)) {
        dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
}

void AbletonLinkSession::poll() {
    LinkRequest r;
    if (!requests_.try_pop(r)) {
        return;
    }
    ableton::Link& link = state_->link;
    const std::int64_t offset = clock_offset(link);
    auto session = link.captureAppSessionState();
    do {
        const std::chrono::microseconds at(r.usecs + offset);
        if (r.tempo) {
            session.setTempo(r.bpm, at);
        } else {
            session.setIsPlaying(r.playing, at);
        }
    } while (requests_.try_pop(r));
    link.commitAppSessionState(session);
}

std::size_t AbletonLinkSession::peers() const {
    return state_->link.numPeers();
}

} // namespace lockstep::seq
