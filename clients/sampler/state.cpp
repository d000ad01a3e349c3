#include "state.hpp"

namespace lockstep::sampler {

namespace {

bool default_settings(const SlotSettings& s) {
    const SlotSettings d;
    return s.gain_db == d.gain_db && s.pan == d.pan && s.tune == d.tune && s.choke == d.choke &&
           s.one_shot == d.one_shot && s.output == d.output;
}

} // namespace

const service::StateSpec& state_spec() {
    static const service::StateSpec spec{"sampler-state", 1, 1, 1U << 20, 16};
    return spec;
}

std::string validate_state(const nlohmann::json& data, int /*version*/) {
    if (!data.is_object()) {
        return "data is not an object";
    }
    if (!data.contains("kit") || !data.at("kit").is_string()) {
        return "kit: not a string";
    }
    if (!data.contains("slots") || !data.at("slots").is_array()) {
        return "slots: not an array";
    }
    std::array<bool, slot_count> seen{};
    for (const auto& s : data.at("slots")) {
        if (!s.is_object()) {
            return "slots: an entry is not an object";
        }
        const auto& slot = s.at("slot");
        if (!slot.is_number_integer() || slot.get<long long>() < 0 ||
            slot.get<long long>() >= slot_count) {
            return "slots: slot is not 0-127";
        }
        const auto index = static_cast<std::size_t>(slot.get<long long>());
        if (seen[index]) {
            return "slots: slot " + std::to_string(index) + " appears twice";
        }
        seen[index] = true;
        if (!s.at("path").is_string()) {
            return "slots: path is not a string";
        }
        const auto number = [&](const char* key, double lo, double hi) {
            const auto& v = s.at(key);
            return v.is_number() && v.get<double>() >= lo && v.get<double>() <= hi;
        };
        if (!number("gain_db", -144, 24) || !number("pan", -100, 100) ||
            !number("tune", -9600, 9600) || !s.at("tune").is_number_integer() ||
            !s.at("choke").is_number_integer() || s.at("choke").get<long long>() < 0 ||
            !s.at("one_shot").is_boolean()) {
            return "slots: slot " + std::to_string(index) +
                   ": gain_db, pan, tune, choke or one_shot missing or out of range";
        }
        // Optional (files written before group outputs have none): 0, the main pair.
        if (s.contains("output") &&
            (!s.at("output").is_number_integer() || s.at("output").get<long long>() < 0 ||
             s.at("output").get<long long>() > max_sfz_output)) {
            return "slots: slot " + std::to_string(index) + ": output is not 0-16";
        }
    }
    return {};
}

SamplerState state_from_json(const nlohmann::json& data) {
    SamplerState state;
    state.kit = data.at("kit").get<std::string>();
    for (const auto& s : data.at("slots")) {
        SlotView& v = state.slots[s.at("slot").get<std::size_t>()];
        v.path = s.at("path").get<std::string>();
        v.settings.gain_db = s.at("gain_db").get<double>();
        v.settings.pan = s.at("pan").get<double>();
        v.settings.tune = s.at("tune").get<int>();
        v.settings.choke = s.at("choke").get<std::int64_t>();
        v.settings.one_shot = s.at("one_shot").get<bool>();
        v.settings.output = s.value("output", 0);
    }
    return state;
}

nlohmann::json state_to_json(const SamplerState& state) {
    nlohmann::json slots = nlohmann::json::array();
    for (int i = 0; i < slot_count; ++i) {
        const SlotView& v = state.slots[static_cast<std::size_t>(i)];
        if (v.path.empty() && default_settings(v.settings)) {
            continue;
        }
        slots.push_back({{"slot", i},
                         {"path", v.path},
                         {"gain_db", v.settings.gain_db},
                         {"pan", v.settings.pan},
                         {"tune", v.settings.tune},
                         {"choke", v.settings.choke},
                         {"one_shot", v.settings.one_shot},
                         {"output", v.settings.output}});
    }
    return {{"kit", state.kit}, {"slots", slots}};
}

SamplerState state_from_view(const ControlView& view) {
    SamplerState s;
    s.kit = view.kit;
    s.slots = view.slots;
    return s;
}

} // namespace lockstep::sampler
