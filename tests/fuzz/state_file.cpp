// Fuzz target: the state-file reader (envelope + JSON + a validator) on arbitrary bytes,
// in memory. Whatever it accepts must survive a write/read round trip unchanged.
#include "service/state_file.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

// Walks the data the way a client's validator does: optional typed fields, at(), get<>()
// (which throw on the wrong type; the reader turns that into "invalid data").
std::string validate(const nlohmann::json& data, int /*version*/) {
    if (const auto tempo = data.find("tempo"); tempo != data.end()) {
        const double bpm = tempo->get<double>();
        if (!(bpm >= 20 && bpm <= 300)) {
            return "tempo out of range";
        }
    }
    if (data.contains("tracks")) {
        for (const auto& track : data.at("tracks")) {
            (void)track.at("channel").get<int>();
            for (const auto& step : track.at("steps")) {
                (void)step.get<bool>();
            }
        }
    }
    if (const auto name = data.find("name"); name != data.end()) {
        (void)name->get_ref<const std::string&>();
    }
    return {};
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    static const lockstep::service::StateSpec spec{"seq-state", 1, 2};
    const std::string_view input(reinterpret_cast<const char*>(bytes), size);
    const auto parsed = lockstep::service::parse_state(input, spec, validate);
    if (parsed.ok) {
        const std::string text = lockstep::service::serialize_state(spec, parsed.data);
        const auto again = lockstep::service::parse_state(text, spec, validate);
        if (!again.ok || again.data != parsed.data) {
            std::abort(); // accepted state did not survive a save/load round trip
        }
    } else if (parsed.reason.empty()) {
        std::abort(); // every refusal must say why
    }
    return 0;
}
