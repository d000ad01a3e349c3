// lockstep-sampler's state file (--state FILE, libshared/service/state_file.hpp): the SFZ
// kit path, each slot's file and settings. Format "sampler-state", version 1:
//   {"kit": "/path/kit.sfz" | "",
//    "slots": [{"slot": 36, "path": "/x/kick.wav", "gain_db": -3.0, "pan": 0.0,
//               "tune": 0, "choke": 0, "one_shot": true, "output": 0}, ...]}
// Only slots with a file or non-default settings are written. "output" (group pair, 0 =
// main) is optional on reading: files from before group outputs lack it.
//
// Threads: any non-RT thread (main).
#pragma once

#include "control.hpp"

#include "service/state_file.hpp"

#include <string>

namespace lockstep::sampler {

struct SamplerState {
    std::string kit;
    std::array<SlotView, slot_count> slots{};
};

const service::StateSpec& state_spec();
// Checks a state file's `data` (the validator handed to load_state_file).
std::string validate_state(const nlohmann::json& data, int version);
// A validated `data` object to the state, and back.
SamplerState state_from_json(const nlohmann::json& data);
nlohmann::json state_to_json(const SamplerState& state);
SamplerState state_from_view(const ControlView& view);

} // namespace lockstep::sampler
