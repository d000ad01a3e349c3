// lockstep-seq's saved state: the whole Model, the tempo and the settings, as JSON inside
// service/state_file.hpp's envelope (format "lockstep-seq", version 1). docs/seq.md
// ("State") and docs/operations.md ("State files") describe the file.
//
// Reading is strict: every field is type- and range-checked, unknown keys are refused,
// missing keys take their defaults. Writing is compact (default tracks, patterns and step
// fields are left out) and exact: reading what was written gives the same State back.
//
// Thread: control thread (everything here allocates); the functions are pure apart from
// the file functions, which do I/O.
#pragma once

#include "engine.hpp" // TransportMode
#include "model.hpp"
#include "service/state_file.hpp"
#include "time/rational.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace lockstep::seq {

// Tempo range (inclusive); numerator and denominator must also stay below 2^32 (the exact
// tempo map's limit, time/timeline.hpp).
inline constexpr std::int64_t min_bpm = 20;
inline constexpr std::int64_t max_bpm = 999;

struct State {
    Model model = default_model();
    Bpm tempo = Bpm(120);
    std::uint64_t seed = 0;
    TransportMode transport = TransportMode::internal;
    friend bool operator==(const State&, const State&) = default;
};

// ---- exact numbers as text ----------------------------------------------------------

// "N", "N/D" or "N.DDD" (no sign, no spaces, at most 18 digits per part) as an exact
// reduced rational; nullopt when malformed or D is 0.
std::optional<Rational> parse_rational(std::string_view text);
// "N" when the denominator is 1, else "N/D" (reduced). parse_rational reads it back.
std::string format_rational(Rational r);

// A tempo from text (decimal or fraction); nullopt with the reason in *why when it is not
// a number or out of range.
std::optional<Bpm> parse_bpm(std::string_view text, std::string* why = nullptr);
// A float tempo read to 1/1000 BPM (f:137.3 is 1373/10); nullopt when not finite or out
// of range.
std::optional<Bpm> bpm_from_float(double bpm, std::string* why = nullptr);
// Why `bpm` is not an acceptable tempo, or nullptr.
const char* check_bpm(Bpm bpm) noexcept;

const char* to_string(TransportMode mode) noexcept;
std::optional<TransportMode> transport_from_string(std::string_view text) noexcept;

// ---- the model ----------------------------------------------------------------------

// Puts the parts of a model that mean nothing into their default form, so that equal
// behaviour means equal bytes: chain slots past the chain's length. The OSC API keeps its
// model normalized; state files can only describe normalized models.
void normalize(Model& m) noexcept;

// The built-in demo beat (--demo): kick, snare and hats on tracks 0-2, 16 steps.
Model demo_model();

// ---- JSON and files -----------------------------------------------------------------

const service::StateSpec& state_spec();

// The `data` object for `state` (compact; see top).
nlohmann::json state_to_json(const State& state);
// Reads `data` into `out` (starting from defaults). Returns "" when it is valid, otherwise
// the reason naming the offending field, e.g. "patterns[1].grid[3].velocity: must be an
// integer 1 .. 127"; `out` is then unspecified.
std::string state_from_json(const nlohmann::json& data, State& out);

struct StateRead {
    service::StateStatus status = service::StateStatus::missing;
    State state;         // defaults unless status == ok
    std::string reason;  // corrupt: why
    std::string kept_as; // corrupt: where the file went (FILE.bad[.N]); empty if not moved
};
// Reads FILE (load_state_file: a corrupt file is moved aside and logged).
StateRead read_state_file(const std::string& path);
// Writes FILE atomically; does not log.
service::StateSave write_state_file(const std::string& path, const State& state);

} // namespace lockstep::seq
