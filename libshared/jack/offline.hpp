// Drives a Processor offline, cycle by cycle, without JACK: what engine tests and offline
// renders use. Owns the port buffers; input MIDI is given at absolute frames, output MIDI
// and audio are collected with absolute frames.
// Thread: a single test/control thread (it allocates; nothing here is real-time).
#pragma once

#include "jack/cycle.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace lockstep::jack {

struct TimedMidi {
    Frame frame = 0;
    std::vector<std::uint8_t> bytes;
    friend bool operator==(const TimedMidi&, const TimedMidi&) = default;
};

struct OfflinePorts {
    std::size_t midi_in = 0;
    std::size_t midi_out = 0;
    std::size_t audio_in = 0;
    std::size_t audio_out = 0;
};

class OfflineDriver {
public:
    OfflineDriver(OfflinePorts ports, std::uint32_t rate, std::size_t max_events = 1024,
                  std::size_t max_bytes = 16384);

    // Queues an input event for port `port` at absolute frame `frame`.
    void add_midi_in(std::size_t port, Frame frame, std::vector<std::uint8_t> bytes);
    // Audio input of `port` is fn(absolute frame) (silence unless set).
    void set_audio_in(std::size_t port, std::function<float(Frame)> fn);
    void set_freewheeling(bool on) { freewheeling_ = on; }
    // JACK transport as the following cycles see it (Cycle::transport; default: not valid,
    // as if no transport were known). While `state` is rolling, `frame` advances by each
    // cycle's length after that cycle, as JACK's transport does; stopped or starting, it
    // stays. Set it again between cycles to start, stop or locate.
    void set_transport(const Transport& t) { transport_ = t; }
    const Transport& transport() const { return transport_; }

    // Runs one cycle [start, start + nframes) and collects its outputs.
    void run_cycle(Processor& p, Frame start, std::uint32_t nframes);
    // Runs `cycles` back-to-back cycles of `nframes` from `start`; returns the next start.
    Frame run(Processor& p, Frame start, std::uint32_t nframes, std::size_t cycles);

    // Collected output: MIDI with absolute frames, audio as one sample per frame since the
    // first cycle run.
    const std::vector<TimedMidi>& midi_out(std::size_t port) const { return midi_out_[port]; }
    const std::vector<float>& audio_out(std::size_t port) const { return audio_out_[port]; }
    // Writes the writers refused, summed over all ports and cycles.
    std::uint64_t midi_late() const { return late_; }
    std::uint64_t midi_overflow() const { return overflow_; }
    std::uint64_t midi_invalid() const { return invalid_; }
    void clear_output();

private:
    std::uint32_t rate_;
    bool freewheeling_ = false;
    Transport transport_;
    std::vector<std::vector<TimedMidi>> pending_in_;
    std::vector<std::vector<MidiEvent>> in_events_;
    std::vector<std::span<const MidiEvent>> in_spans_;
    std::vector<MidiWriter> writers_;
    std::vector<std::function<float(Frame)>> audio_in_fn_;
    std::vector<std::vector<float>> audio_in_buf_;
    std::vector<std::vector<float>> audio_out_buf_;
    std::vector<std::span<const float>> audio_in_spans_;
    std::vector<std::span<float>> audio_out_spans_;
    std::vector<std::vector<TimedMidi>> midi_out_;
    std::vector<std::vector<float>> audio_out_;
    std::uint64_t late_ = 0;
    std::uint64_t overflow_ = 0;
    std::uint64_t invalid_ = 0;
};

} // namespace lockstep::jack
