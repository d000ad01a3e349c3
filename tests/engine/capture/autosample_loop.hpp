// Offline loop for the autosampler's engine tests: the AutoEngine's MIDI output drives a
// TestSynth whose audio is the engine's input, cycle by cycle, with the Session stepping
// after every cycle. The synth hears each cycle's MIDI in the next cycle (at the same
// offsets), as a JACK graph with a feedback loop does: the round trip is delay + period.
// Thread: the test thread only.
#pragma once

#include "autosample_engine.hpp"
#include "autosample_session.hpp"
#include "autosample_synth.hpp"
#include "rt/alloc_check.hpp"

#include <array>
#include <memory>
#include <vector>

namespace lockstep::capture::test {

class AutosampleLoop {
public:
    AutosampleLoop(autosample::SessionOptions so, SynthOptions syn, std::uint32_t period = 256)
        : synth(syn), period_(period), engine_(std::make_unique<AutoEngine>(engine_options(so))),
          options_(std::move(so)) {
        out_buf_.assign(options_.channels, std::vector<float>(jack::max_buffer_size));
        events_.reserve(256);
        session = std::make_unique<autosample::Session>(options_, *engine_);
    }

    // Runs cycles (stepping the session after each) until the session ends or `max_cycles`.
    // `each` runs after every step (pause/cancel from the test).
    template <typename F>
    bool run(std::size_t max_cycles, F each) {
        for (std::size_t i = 0; i < max_cycles; ++i) {
            cycle();
            const bool more = session->step();
            for (auto& l : session->poll_log()) {
                log.push_back(l.text);
            }
            each();
            if (!more) {
                return true;
            }
        }
        return false;
    }
    bool run(std::size_t max_cycles = 100000) {
        return run(max_cycles, [] {});
    }
    // A new session and engine (as a new process would have) on the same synth and
    // frames: resume.
    void restart(autosample::SessionOptions so) {
        options_ = std::move(so);
        session.reset();
        engine_ = std::make_unique<AutoEngine>(engine_options(options_));
        session = std::make_unique<autosample::Session>(options_, *engine_);
    }

    // The next cycle starts `frames` later than this one ended: a gap in the frames, as
    // after an xrun (the synth plays on through it).
    void skip(Frame frames) { next_ += frames; }
    // Cycles without stepping the session (what goes out after it ended).
    void idle(std::size_t cycles) {
        for (std::size_t i = 0; i < cycles; ++i) {
            cycle();
        }
    }

    AutoEngine& engine() { return *engine_; }
    Frame now() const { return next_; }

    std::unique_ptr<autosample::Session> session;
    std::vector<std::string> log;
    TestSynth synth;
    std::uint64_t rt_allocations = 0; // in AutoEngine::process, over all cycles

private:
    static AutoEngineOptions engine_options(const autosample::SessionOptions& so) {
        AutoEngineOptions o;
        o.channels = so.channels;
        o.ring_frames = 48000 * 4;
        return o;
    }

    void cycle() {
        const std::uint32_t n = period_;
        // The synth: last cycle's MIDI at the same offsets, its audio into our buffers.
        std::vector<std::span<float>> outs;
        for (auto& b : out_buf_) {
            outs.emplace_back(b.data(), n);
        }
        const std::array<std::span<const jack::MidiEvent>, 1> midi_in{
            std::span<const jack::MidiEvent>(events_)};
        jack::Cycle sc;
        sc.start = next_;
        sc.nframes = n;
        sc.rate = 48000;
        sc.midi_in = midi_in;
        sc.audio_out = outs;
        synth.process(sc);
        // The engine: those buffers in, MIDI out.
        std::vector<std::span<const float>> ins;
        for (auto& b : out_buf_) {
            ins.emplace_back(b.data(), n);
        }
        writer_.reset(n);
        jack::Cycle ec;
        ec.start = next_;
        ec.nframes = n;
        ec.rate = 48000;
        ec.audio_in = ins;
        ec.midi_out = std::span<jack::MidiWriter>(&writer_, 1);
        {
            // The audio thread's part never allocates or frees (counted when the test
            // links lockstep_alloc_check).
            RealtimeScope scope;
            engine_->process(ec);
            const AllocCounts c = scope.counts();
            rt_allocations += c.allocations + c.deallocations;
        }
        events_.clear();
        std::size_t used = 0;
        for (const auto& e : writer_.events()) {
            const auto b = writer_.bytes(e);
            std::copy(b.begin(), b.end(), bytes_.begin() + static_cast<std::ptrdiff_t>(used));
            events_.push_back(jack::MidiEvent{
                e.offset, std::span<const std::uint8_t>(bytes_.data() + used, b.size())});
            used += b.size();
        }
        next_ += n;
    }

    std::uint32_t period_;
    std::unique_ptr<AutoEngine> engine_;
    jack::MidiWriter writer_{256, 4096};
    std::array<std::uint8_t, 4096> bytes_{};
    std::vector<jack::MidiEvent> events_;
    std::vector<std::vector<float>> out_buf_;
    autosample::SessionOptions options_;
    Frame next_ = 4096; // not 0: a session waits for the first cycle
};

} // namespace lockstep::capture::test
