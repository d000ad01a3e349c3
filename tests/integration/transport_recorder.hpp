// A JACK client for transport tests: records the JACK transport (state, frame, BBT) that
// every one of its cycles saw, and the MIDI that reaches its first MIDI input (if it has
// one) in the same frames; it can be JACK's timebase master with a given source.
// Threads: process() is RT; everything else is for the test's control thread.
#pragma once

#include "harness/probe/probe.hpp"
#include "harness/process.hpp"
#include "jack/client.hpp"
#include "rt/spsc_queue.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace lockstep::test {

struct TransportCycle {
    Frame start = 0;
    std::uint32_t nframes = 0;
    jack::Transport transport;
    bool has_bbt = false;
    jack::Bbt bbt;
    // The order of process callbacks across all recorders in this process: which of two
    // clients ran first in a cycle.
    std::uint64_t order = 0;
};

// The cycles a recorder's client skipped between frames `from` and `to` of its own frame
// clock: each start that does not follow on from the previous cycle's end, as
// "WHO skipped [a,b); " ("" when none).
inline std::string skipped_cycles(const std::string& who, const std::vector<TransportCycle>& cycles,
                                  Frame from, Frame to) {
    std::string why;
    for (std::size_t i = 1; i < cycles.size(); ++i) {
        const auto& p = cycles[i - 1];
        const auto& c = cycles[i];
        if (c.start > from && p.start < to && c.start != p.start + p.nframes) {
            why += who + " skipped [" + std::to_string(p.start + p.nframes) + "," +
                   std::to_string(c.start) + "); ";
        }
    }
    return why;
}

class TransportRecorder final : public jack::Processor {
public:
    // `timebase`: when set, the client asks to be JACK's timebase master with it.
    TransportRecorder(std::string name, std::string server,
                      jack::TimebaseSource* timebase = nullptr,
                      std::vector<jack::PortSpec> ports = {})
        : ring_(1 << 16), midi_ring_(1 << 16),
          client_(options(std::move(name), std::move(server), timebase, std::move(ports)), *this) {}
    ~TransportRecorder() override { client_.stop(); }
    TransportRecorder(const TransportRecorder&) = delete;
    TransportRecorder& operator=(const TransportRecorder&) = delete;

    jack::Client& client() { return client_; }

    void process(jack::Cycle& c) noexcept RT_NONBLOCKING override {
        ring_.try_push(TransportCycle{c.start, c.nframes, c.transport, c.has_bbt, c.bbt,
                                      callbacks_.fetch_add(1, std::memory_order_relaxed)});
        if (!c.midi_in.empty()) {
            for (const auto& e : c.midi_in[0]) {
                ProbeEvent pe;
                pe.frame = c.start + e.offset;
                pe.size = static_cast<std::uint32_t>(e.bytes.size());
                for (std::size_t i = 0; i < e.bytes.size() && i < pe.data.size(); ++i) {
                    pe.data[i] = e.bytes[i];
                }
                midi_ring_.try_push(pe);
            }
        }
    }

    // Moves what the process thread recorded into cycles(); returns how many were new.
    std::size_t drain() {
        std::size_t n = 0;
        TransportCycle c;
        while (ring_.try_pop(c)) {
            cycles_.push_back(c);
            ++n;
        }
        ProbeEvent e;
        while (midi_ring_.try_pop(e)) {
            midi_.push_back(e);
        }
        return n;
    }
    const std::vector<TransportCycle>& cycles() const { return cycles_; }
    const std::vector<ProbeEvent>& midi() const { return midi_; }
    void clear() {
        cycles_.clear();
        midi_.clear();
    }
    std::uint64_t lost() const { return ring_.overflows() + midi_ring_.overflows(); }

    // Waits until a newly recorded cycle satisfies `pred`; returns the index of that cycle
    // in cycles(), or -1 on timeout.
    template <typename Pred>
    std::ptrdiff_t wait_cycle(Pred pred, std::chrono::milliseconds timeout) {
        std::size_t checked = cycles_.size();
        std::ptrdiff_t found = -1;
        wait_until(
            [&] {
                drain();
                for (; checked < cycles_.size(); ++checked) {
                    if (pred(cycles_[checked])) {
                        found = static_cast<std::ptrdiff_t>(checked);
                        return true;
                    }
                }
                return false;
            },
            timeout);
        return found;
    }

private:
    static inline std::atomic<std::uint64_t> callbacks_{0};

    static jack::ClientOptions options(std::string name, std::string server,
                                       jack::TimebaseSource* timebase,
                                       std::vector<jack::PortSpec> ports) {
        jack::ClientOptions o;
        o.name = std::move(name);
        o.server = std::move(server);
        o.timebase = timebase;
        o.ports = std::move(ports);
        return o;
    }

    SpscQueue<TransportCycle> ring_;
    SpscQueue<ProbeEvent> midi_ring_;
    std::vector<TransportCycle> cycles_;
    std::vector<ProbeEvent> midi_;
    jack::Client client_; // last: stopped before the ring its thread uses
};

} // namespace lockstep::test
