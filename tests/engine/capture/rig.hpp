// Offline rig for lockstep-capture's engine tests: drives an Engine cycle by cycle with
// synthetic inputs (every channel its own counter) and runs the DiskWriter's step() in
// between, so the takes end up as real files that the tests read back.
// Thread: the test thread only.
#pragma once

#include "disk.hpp"
#include "engine.hpp"
#include "harness/process.hpp"

#include <sndfile.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace lockstep::capture::test {

// Exact in a float: every channel counts frames from its own offset.
inline float ramp(std::uint32_t c, Frame f) {
    return static_cast<float>((f + 1 + 100000 * static_cast<Frame>(c)) % (Frame{1} << 23));
}

struct ReadBack {
    bool ok = false;
    SF_INFO info{};
    std::vector<float> samples; // interleaved
    std::uint64_t time_reference = 0;
    bool has_bext = false;
    float at(std::size_t frame, std::uint32_t c) const {
        return samples[frame * static_cast<std::size_t>(info.channels) + c];
    }
};

inline ReadBack read_file(const std::string& path) {
    ReadBack r;
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &r.info);
    if (f == nullptr) {
        return r;
    }
    r.samples.resize(static_cast<std::size_t>(r.info.frames * r.info.channels));
    const sf_count_t got = sf_readf_float(f, r.samples.data(), r.info.frames);
    SF_BROADCAST_INFO bext{};
    if (sf_command(f, SFC_GET_BROADCAST_INFO, &bext, sizeof bext) == SF_TRUE) {
        r.has_bext = true;
        r.time_reference =
            (std::uint64_t{bext.time_reference_high} << 32) | bext.time_reference_low;
    }
    sf_close(f);
    r.ok = got == r.info.frames;
    return r;
}

class Rig {
public:
    explicit Rig(EngineOptions eo, DiskOptions d = {}) : engine(eo) {
        d.dir = dir.path();
        d.name_template = "take{n}";
        disk = std::make_unique<DiskWriter>(d, engine);
        buffers.assign(eo.channels, std::vector<float>(8192));
        for (auto& b : buffers) {
            spans.emplace_back(b.data(), b.size());
        }
    }

    // One cycle [start, start + n); the disk thread's step() runs after it unless paused.
    void cycle(Frame start, std::uint32_t n) {
        for (std::uint32_t c = 0; c < buffers.size(); ++c) {
            for (std::uint32_t i = 0; i < n; ++i) {
                buffers[c][i] = input(c, start + i);
            }
            spans[c] = std::span<const float>(buffers[c].data(), n);
        }
        jack::Cycle cy;
        cy.start = start;
        cy.nframes = n;
        cy.rate = 48000;
        cy.freewheeling = freewheeling;
        cy.transport = transport;
        cy.audio_in = spans;
        engine.process(cy);
        if (!disk_paused) {
            while (disk->step()) {
            }
        }
        next = start + n;
    }
    // Cycles of n frames from `next` until `until` (exclusive, rounded up to a cycle).
    void run_until(Frame until, std::uint32_t n = 256) {
        while (next < until) {
            cycle(next, n);
        }
    }
    std::string path(const std::string& name) const { return dir.path() + "/" + name; }
    // Events the disk thread reported, collected.
    std::vector<DiskEvent>& events() {
        for (auto& e : disk->poll_events()) {
            events_.push_back(std::move(e));
        }
        return events_;
    }
    std::vector<FromEngine> feedback() {
        std::vector<FromEngine> out;
        FromEngine m;
        while (engine.receive(m)) {
            out.push_back(m);
        }
        return out;
    }

    lockstep::test::TempDir dir{"capture-engine"};
    Engine engine;
    std::unique_ptr<DiskWriter> disk;
    std::function<float(std::uint32_t, Frame)> input = ramp;
    bool freewheeling = false;
    bool disk_paused = false;
    jack::Transport transport;
    Frame next = 0;

private:
    std::vector<std::vector<float>> buffers;
    std::vector<std::span<const float>> spans;
    std::vector<DiskEvent> events_;
};

} // namespace lockstep::capture::test
