// Fuzz target: lockstep-seq's state file (envelope + JSON + the strict seq reader) on
// arbitrary bytes, in memory. It must never crash, every refusal must say why, and an
// accepted state must survive a write/read round trip exactly.
#include "../../clients/seq/state.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    using namespace lockstep;
    const auto validate = [](const nlohmann::json& data, int /*version*/) {
        seq::State scratch;
        return seq::state_from_json(data, scratch);
    };
    const std::string_view input(reinterpret_cast<const char*>(bytes), size);
    const auto parsed = service::parse_state(input, seq::state_spec(), validate);
    if (!parsed.ok) {
        if (parsed.reason.empty()) {
            std::abort(); // every refusal must say why
        }
        return 0;
    }
    seq::State state;
    if (!seq::state_from_json(parsed.data, state).empty()) {
        std::abort(); // validated, yet not readable
    }
    const std::string text = service::serialize_state(seq::state_spec(), seq::state_to_json(state));
    const auto again = service::parse_state(text, seq::state_spec(), validate);
    seq::State back;
    if (!again.ok || !seq::state_from_json(again.data, back).empty() || !(back == state)) {
        std::abort(); // accepted state did not survive a save/load round trip
    }
    return 0;
}
