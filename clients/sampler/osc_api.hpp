// lockstep-sampler's OSC namespace (/sampler/..., docs/osc.md): maps messages onto
// Control requests, answers queries, and reports each finished request — the new value to
// the sender and to subscribers (feedback paths equal control paths), or `/error` with
// the reason to the sender plus a log line when it failed.
//
// Threads: construct before endpoint.start()/run_once() on the control thread; handlers run
// on the endpoint's thread; finished() runs on the loader thread (it is Control's Done).
#pragma once

#include "control.hpp"
#include "engine.hpp"

#include "osc/endpoint.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lockstep::sampler {

class OscApi {
public:
    // Extra counters for /query and /sampler/counters: (name, value) pairs.
    using Counters = std::function<std::vector<std::pair<std::string, std::uint64_t>>()>;

    // Registers every /sampler path on `endpoint`. `control` is set later (set_control)
    // because Control's Done callback is finished() on this object.
    OscApi(osc::Endpoint& endpoint, const Engine& engine, Counters counters);
    ~OscApi();
    OscApi(const OscApi&) = delete;
    OscApi& operator=(const OscApi&) = delete;

    void set_control(Control& control) { control_ = &control; }

    // Loader thread (Control::Done): replies and feedback for a finished request.
    void finished(const Request& request, const LoadReport& report);

    // The reply or feedback message that describes slot `slot` / the kit now.
    static osc::Message kit_message(const std::string& path);
    static osc::Message slot_message(Request::Kind kind, int slot, const SlotView& view);

private:
    void add_paths();
    void submit(Request request, osc::Context& ctx);
    void query(osc::Context& ctx);
    osc::Message status_message() const;
    osc::Message voices_message() const;
    void send(const osc::SocketAddress& to, const osc::Message& m);

    osc::Endpoint& endpoint_;
    const Engine& engine_;
    Counters counters_;
    Control* control_ = nullptr;
    struct Replies; // sockets for replies sent after the handler returned
    std::unique_ptr<Replies> replies_;
};

} // namespace lockstep::sampler
