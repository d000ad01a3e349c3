// lockstep-capture's OSC namespace (/capture/..., docs/osc.md "## /capture"): paths mapped
// onto engine messages, status and counters for /query, and the meter feedback.
// Thread: the endpoint's thread runs the handlers (the only producer of ToEngine
// messages); MeterFeed::message() runs on the main loop. Never the audio thread.
#pragma once

#include "disk.hpp"
#include "engine.hpp"
#include "jack/client.hpp"
#include "osc/endpoint.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace lockstep::capture {

// Settings shown by /query.
struct CaptureInfo {
    std::string dir;
    std::string format; // "wav" | "flac"
    std::string bits;   // "16" | "24" | "32f"
    bool per_channel = false;
    double preroll_seconds = 0;
};

// /capture/status s:state s:take h:frames_written i:overruns f:buffer_fill
osc::Message status_message(const Engine& engine, const DiskWriter& disk);

// Registers /capture/start, /capture/stop, /capture/status and the /query dump.
void register_osc(osc::Endpoint& endpoint, Engine& engine, DiskWriter& disk,
                  const jack::Client& client, CaptureInfo info);

// Meters with peak hold, as /capture/meter i:channels then per channel f:peak f:rms f:hold
// (dBFS, -120 for silence). The hold keeps a channel's highest peak for `hold` and then
// follows the peak again.
class MeterFeed {
public:
    explicit MeterFeed(std::uint32_t channels,
                       std::chrono::milliseconds hold = std::chrono::milliseconds(2000));
    // Main loop: a message when the engine has published a new reading since the last
    // call, else nothing (empty path).
    osc::Message
    message(const Engine& engine,
            std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

private:
    std::chrono::milliseconds hold_;
    std::uint64_t seen_ = 0;
    std::vector<float> hold_value_;
    std::vector<std::chrono::steady_clock::time_point> hold_since_;
};

float to_dbfs(float linear) noexcept;

} // namespace lockstep::capture
