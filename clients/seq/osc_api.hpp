// lockstep-seq's OSC namespace (/seq/..., docs/osc.md "seq"): edits of the model, transport
// and tempo, feedback to subscribers, and the /query dump.
//
// The control thread owns the master Model. Each edit is validated whole before anything
// changes (else /error s:path s:reason to the sender), applied to the master copy, and then
// published to the audio thread as one new snapshot (Published<Model>); subscribers get the
// new values on the control paths (explicit-pattern form, see docs/osc.md). Transport and
// tempo requests go to the engine as ToEngine messages at the frame of their OSC timetag
// (or asap). poll() drains the engine's feedback and pushes it to subscribers.
//
// Thread: the one control thread. Construct before osc::Endpoint::start()/run_once(); the
// endpoint's handlers and poll() must run on the same thread (main drives the endpoint with
// run_once(), then calls poll()).
#pragma once

#include "engine.hpp"
#include "messages.hpp"
#include "model.hpp"
#include "osc/endpoint.hpp"
#include "rt/publish.hpp"
#include "state.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace lockstep::seq {

// What the OSC API needs of the engine. A seam for tests (they pass a fake that records
// ToEngine messages and injects FromEngine ones); main.cpp adapts the real Engine.
class EngineLink {
public:
    virtual ~EngineLink() = default;
    virtual bool send(const ToEngine& message) = 0; // false: queue full
    virtual bool receive(FromEngine& out) = 0;
    virtual EngineStatus status() const = 0;
    virtual EngineCounters counters() const = 0;
};

// How main wires the OSC API to the rest of the program.
struct OscApiOptions {
    TransportMode transport = TransportMode::internal;
    // master/follow: asks JACK transport to start (true) or stop (false); returns whether
    // JACK accepted. In follow mode play/stop go only there (the engine follows JACK).
    std::function<bool(bool start)> jack_transport;
    // Extra /query lines (e.g. the JACK client's counters), sent after the seq state.
    std::function<void(const std::function<void(const osc::Message&)>&)> query_extra;
};

class OscApi {
public:
    using Sink = std::function<void(const osc::Message&)>;

    using Options = OscApiOptions;

    // Registers every /seq path and the /query dump on `endpoint`. `model` must hold
    // `initial.model` already (the engine reads it from the first cycle).
    OscApi(osc::Endpoint& endpoint, EngineLink& engine, Published<Model>& model, State initial,
           Options options = {});
    OscApi(const OscApi&) = delete;
    OscApi& operator=(const OscApi&) = delete;

    // Publishes a pending model edit, drains the engine's feedback (notifying subscribers)
    // and frees retired model snapshots. Call after every Endpoint::run_once().
    void poll();

    // The state to save: the model, the tempo last set with /seq/tempo, the settings.
    const State& state() const noexcept { return state_; }
    // Incremented by every change that a state file saves.
    std::uint64_t revision() const noexcept { return revision_; }
    std::chrono::steady_clock::time_point last_change() const noexcept { return last_change_; }
    // Whether the engine last reported playing.
    bool playing() const noexcept { return playing_; }

    // Every message /query sends, in order (also for tests).
    void dump(const Sink& sink) const;

private:
    using Args = std::vector<osc::Arg>;
    // Validates, then changes the model; returns "" or the reason (the model is unchanged).
    using PatternEdit = std::function<std::string(Pattern&, const Args& tail)>;
    using ModelEdit = std::function<std::string(Model&, const Args& args)>;

    void register_paths();
    // `path` with signature `types` on the selected pattern, and "i" + `types` with the
    // pattern first.
    void add_pattern_path(const std::string& path, const std::string& types,
                          std::vector<osc::Constraint> constraints, PatternEdit edit);
    void add_model_path(const std::string& path, const std::string& types,
                        std::vector<osc::Constraint> constraints, ModelEdit edit);
    void add_transport_paths();

    void changed();
    void publish_now();
    // Sends to the engine (publishing a pending edit first, so the engine sees the model the
    // sender saw); false and /error when the queue is full.
    bool send(const ToEngine& message, osc::Context& ctx);
    static Frame frame_of(const osc::Context& ctx) noexcept;
    void on_feedback(const FromEngine& f);

    osc::Endpoint& endpoint_;
    EngineLink& engine_;
    Published<Model>& published_;
    Options options_;
    State state_; // state_.model is the master copy
    Bpm tempo_in_force_;
    bool publish_pending_ = false;
    bool playing_ = false;
    std::uint64_t revision_ = 0;
    std::chrono::steady_clock::time_point last_change_{};
};

// Messages describing what differs between two states of one part of the model, on the
// control paths (the explicit-pattern forms). Thread: any (pure).
void emit_pattern_diff(int index, const Pattern& before, const Pattern& after,
                       const OscApi::Sink& sink, bool header_always = false);
void emit_track_diff(int index, const Track& before, const Track& after, const OscApi::Sink& sink,
                     bool always = false);
void emit_song_diff(const Song& before, const Song& after, const OscApi::Sink& sink,
                    bool always = false);

} // namespace lockstep::seq
