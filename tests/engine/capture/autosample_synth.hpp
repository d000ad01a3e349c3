// A deterministic test instrument for the autosampler tests: answers MIDI note-on with a
// decaying tone that starts exactly `delay` frames after the event's frame (its first
// sample is its peak: cos(0)), releases on note-off, and adds low-level deterministic
// noise everywhere. It logs the frame each tone really started at, so tests compare the
// recorded onsets with the truth. A jack::Processor: offline (engine tests) or as an
// in-process JACK client (integration tests).
// Threads: process() is RT (no allocation); starts()/start() read the log from any
// thread (count published with release).
#pragma once

#include "jack/cycle.hpp"
#include "rt/rt.hpp"

#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>

namespace lockstep::capture::test {

struct SynthOptions {
    std::int64_t delay = 300; // frames from the MIDI event to the tone's first sample
    float noise = 1e-4F;      // noise amplitude (-80 dBFS)
    double decay = 24000.0;   // frames: e^-1 while held
    double release = 2400.0;  // frames: e^-1 after note-off
    std::uint32_t rate = 48000;
    float level = 0.5F;   // peak at velocity 127
    int silent_note = -1; // this note at silent_velocity makes no sound
    int silent_velocity = -1;
};

// Deterministic noise in [-a, a] for frame f and channel c.
inline float synth_noise(Frame f, std::uint32_t c, float a) noexcept {
    std::uint64_t h =
        static_cast<std::uint64_t>(f) * 0x9E3779B97F4A7C15ULL + c * 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 31;
    h *= 0x94D049BB133111EBULL;
    h ^= h >> 29;
    return a * (static_cast<float>(h & 0xffff) / 32767.5F - 1.0F);
}

class TestSynth final : public jack::Processor {
public:
    struct Start {
        int note = 0;
        int velocity = 0;
        Frame frame = 0;
    };

    explicit TestSynth(SynthOptions o = {}) : o_(o) {}

    void process(jack::Cycle& cycle) noexcept RT_NONBLOCKING override {
        if (!cycle.midi_in.empty()) {
            for (const jack::MidiEvent& e : cycle.midi_in[0]) {
                if (e.bytes.size() == 3) {
                    handle(e.bytes[0], e.bytes[1], e.bytes[2], cycle.start + e.offset + o_.delay);
                }
            }
        }
        for (std::size_t c = 0; c < cycle.audio_out.size(); ++c) {
            float* out = cycle.audio_out[c].data();
            for (std::uint32_t i = 0; i < cycle.nframes; ++i) {
                out[i] = synth_noise(cycle.start + i, static_cast<std::uint32_t>(c), o_.noise);
            }
        }
        for (Voice& v : voices_) {
            if (!v.active) {
                continue;
            }
            for (std::uint32_t i = 0; i < cycle.nframes; ++i) {
                const Frame f = cycle.start + i;
                if (f < v.start) {
                    continue;
                }
                if (!v.logged) {
                    log(v.note, v.velocity, f);
                    v.logged = true;
                }
                const double t = static_cast<double>(f - v.start);
                double env = v.amp * std::exp(-t / o_.decay);
                if (v.off >= 0 && f >= v.off) {
                    env *= std::exp(-static_cast<double>(f - v.off) / o_.release);
                    if (env < 1e-7) {
                        v.active = false;
                        break;
                    }
                }
                const auto s = static_cast<float>(env * std::cos(v.w * t));
                for (std::size_t c = 0; c < cycle.audio_out.size(); ++c) {
                    // the right channel a little softer: stereo files are not two copies
                    cycle.audio_out[c][i] += c == 0 ? s : 0.5F * s;
                }
            }
        }
    }

    std::size_t starts() const noexcept { return count_.load(std::memory_order_acquire); }
    // Offline only (the thread that runs process()): a voice still held (no note-off yet).
    bool held() const noexcept {
        for (const Voice& v : voices_) {
            if (v.active && v.off < 0) {
                return true;
            }
        }
        return false;
    }
    Start start(std::size_t i) const noexcept { return log_[i]; }

private:
    struct Voice {
        bool active = false;
        bool logged = false;
        int note = 0;
        int velocity = 0;
        Frame start = 0;
        Frame off = -1;
        double amp = 0;
        double w = 0;
    };

    void handle(std::uint8_t status, std::uint8_t d1, std::uint8_t d2,
                Frame at) noexcept RT_NONBLOCKING {
        const std::uint8_t kind = status & 0xF0;
        if (kind == 0x90 && d2 > 0) {
            if (d1 == o_.silent_note && d2 == o_.silent_velocity) {
                return;
            }
            for (Voice& v : voices_) {
                if (!v.active) {
                    v = Voice{};
                    v.active = true;
                    v.note = d1;
                    v.velocity = d2;
                    v.start = at;
                    v.amp = o_.level * d2 / 127.0;
                    v.w = 2.0 * 3.14159265358979 * 440.0 * std::exp2((d1 - 69) / 12.0) / o_.rate;
                    return;
                }
            }
        } else if (kind == 0x80 || kind == 0x90) {
            for (Voice& v : voices_) {
                if (v.active && v.note == d1 && v.off < 0) {
                    v.off = at;
                }
            }
        } else if (kind == 0xB0 && d1 == 123) {
            for (Voice& v : voices_) {
                if (v.active && v.off < 0) {
                    v.off = at;
                }
            }
        }
    }

    void log(int note, int velocity, Frame f) noexcept RT_NONBLOCKING {
        const std::size_t n = count_.load(std::memory_order_relaxed);
        if (n < log_.size()) {
            log_[n] = Start{note, velocity, f};
            count_.store(n + 1, std::memory_order_release);
        }
    }

    SynthOptions o_;
    std::array<Voice, 16> voices_{};
    std::array<Start, 1024> log_{};
    std::atomic<std::size_t> count_{0};
};

} // namespace lockstep::capture::test
