#include "jack/offline.hpp"

#include <algorithm>
#include <stdexcept>

namespace lockstep::jack {

OfflineDriver::OfflineDriver(OfflinePorts ports, std::uint32_t rate, std::size_t max_events,
                             std::size_t max_bytes)
    : rate_(rate), pending_in_(ports.midi_in), in_events_(ports.midi_in), in_spans_(ports.midi_in),
      audio_in_fn_(ports.audio_in),
      audio_in_buf_(ports.audio_in, std::vector<float>(max_buffer_size)),
      audio_out_buf_(ports.audio_out, std::vector<float>(max_buffer_size)),
      audio_in_spans_(ports.audio_in), audio_out_spans_(ports.audio_out), midi_out_(ports.midi_out),
      audio_out_(ports.audio_out) {
    writers_.reserve(ports.midi_out);
    for (std::size_t i = 0; i < ports.midi_out; ++i) {
        writers_.emplace_back(max_events, max_bytes);
    }
}

void OfflineDriver::add_midi_in(std::size_t port, Frame frame, std::vector<std::uint8_t> bytes) {
    auto& q = pending_in_.at(port);
    // Keep the queue sorted by frame, equal frames in arrival order.
    auto pos = std::upper_bound(q.begin(), q.end(), frame,
                                [](Frame f, const TimedMidi& e) { return f < e.frame; });
    q.insert(pos, TimedMidi{frame, std::move(bytes)});
}

void OfflineDriver::set_audio_in(std::size_t port, std::function<float(Frame)> fn) {
    audio_in_fn_.at(port) = std::move(fn);
}

void OfflineDriver::clear_output() {
    for (auto& v : midi_out_) {
        v.clear();
    }
    for (auto& v : audio_out_) {
        v.clear();
    }
}

void OfflineDriver::run_cycle(Processor& p, Frame start, std::uint32_t nframes) {
    if (nframes == 0 || nframes > max_buffer_size) {
        throw std::invalid_argument("OfflineDriver: nframes out of range");
    }
    const Frame end = start + nframes;
    // Input events that fall in this cycle; earlier ones (before `start`) are dropped.
    std::vector<std::vector<TimedMidi>> taken(pending_in_.size());
    for (std::size_t i = 0; i < pending_in_.size(); ++i) {
        auto& q = pending_in_[i];
        auto first =
            std::find_if(q.begin(), q.end(), [&](const TimedMidi& e) { return e.frame >= start; });
        auto last =
            std::find_if(first, q.end(), [&](const TimedMidi& e) { return e.frame >= end; });
        taken[i].assign(std::make_move_iterator(first), std::make_move_iterator(last));
        q.erase(q.begin(), last);
        in_events_[i].clear();
        for (const auto& e : taken[i]) {
            in_events_[i].push_back(
                MidiEvent{static_cast<std::uint32_t>(e.frame - start), std::span(e.bytes)});
        }
        in_spans_[i] = in_events_[i];
    }
    for (std::size_t i = 0; i < audio_in_buf_.size(); ++i) {
        for (std::uint32_t k = 0; k < nframes; ++k) {
            audio_in_buf_[i][k] = audio_in_fn_[i] ? audio_in_fn_[i](start + k) : 0.0F;
        }
        audio_in_spans_[i] = std::span<const float>(audio_in_buf_[i].data(), nframes);
    }
    for (std::size_t i = 0; i < audio_out_buf_.size(); ++i) {
        // Poison the output so an engine that skips frames shows up in tests.
        std::fill_n(audio_out_buf_[i].begin(), nframes, 1e9F);
        audio_out_spans_[i] = std::span<float>(audio_out_buf_[i].data(), nframes);
    }
    for (auto& w : writers_) {
        w.reset(nframes);
    }

    Cycle c;
    c.start = start;
    c.nframes = nframes;
    c.rate = rate_;
    c.freewheeling = freewheeling_;
    c.transport = transport_;
    c.midi_in = in_spans_;
    c.midi_out = writers_;
    c.audio_in = audio_in_spans_;
    c.audio_out = audio_out_spans_;
    p.process(c);

    for (std::size_t i = 0; i < writers_.size(); ++i) {
        auto& w = writers_[i];
        for (const auto& e : w.events()) {
            auto b = w.bytes(e);
            midi_out_[i].push_back(TimedMidi{start + e.offset, {b.begin(), b.end()}});
        }
        late_ += w.late();
        overflow_ += w.overflow();
        invalid_ += w.invalid();
    }
    if (transport_.state == TransportState::rolling) {
        transport_.frame += nframes; // JACK's transport frame wraps like this too
    }
    for (std::size_t i = 0; i < audio_out_buf_.size(); ++i) {
        audio_out_[i].insert(audio_out_[i].end(), audio_out_buf_[i].begin(),
                             audio_out_buf_[i].begin() + nframes);
    }
}

Frame OfflineDriver::run(Processor& p, Frame start, std::uint32_t nframes, std::size_t cycles) {
    for (std::size_t i = 0; i < cycles; ++i) {
        run_cycle(p, start, nframes);
        start += nframes;
    }
    return start;
}

} // namespace lockstep::jack
