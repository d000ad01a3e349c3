// lockstep-bridge's OSC namespace (/bridge/..., docs/osc.md "## /bridge").
// Thread: the endpoint's thread runs the handlers; status_message() also runs on the main
// loop for feedback. Never the audio thread.
#pragma once

#include "engine.hpp"
#include "link.hpp"

#include "jack/client.hpp"
#include "osc/endpoint.hpp"

#include <string>

namespace lockstep::bridge {

// /bridge/status s:state s:device h:boot_id d:offset_ns d:drift_ppm h:rtt_min_ns
//   h:rtt_median_ns h:rtt_max_ns d:residual_ns h:triggers_sent h:late h:dropped h:unsynced
//   h:garbage_bytes h:reconnects
osc::Message status_message(const Link& link, const Engine& engine);

// Registers /bridge/status and the /query dump.
void register_osc(osc::Endpoint& endpoint, const Link& link, const Engine& engine,
                  const jack::Client& client, std::string map);

} // namespace lockstep::bridge
