#include "model.hpp"

#include <numeric>

namespace lockstep::seq {

Model default_model() noexcept {
    Model m;
    for (int t = 0; t < max_tracks; ++t) {
        Track& tr = m.track[static_cast<std::size_t>(t)];
        tr.notes.fill(-1);
        tr.notes[0] = static_cast<std::int8_t>(36 + t);
    }
    return m;
}

const char* check(const Model& m) noexcept {
    if (m.tracks < 1 || m.tracks > max_tracks) {
        return "tracks must be 1 .. 32";
    }
    if (m.selected >= max_patterns) {
        return "selected pattern must be 0 .. 63";
    }
    for (const Track& t : m.track) {
        if (t.channel > 15) {
            return "track channel must be 0 .. 15";
        }
        if (t.gate < 1 || t.gate > micro_units) {
            return "track gate must be 1 .. 96";
        }
        for (const std::int8_t n : t.notes) {
            if (n < -1) {
                return "track note must be -1 (none) or 0 .. 127";
            }
        }
    }
    for (const Pattern& p : m.pattern) {
        if (p.steps < 1 || p.steps > max_steps) {
            return "pattern steps must be 1 .. 64";
        }
        if (p.beats_num < 1 || p.beats_den < 1 || p.beats_num > 64 * 16 ||
            p.beats_den > max_steps * micro_units || std::gcd(p.beats_num, p.beats_den) != 1) {
            return "pattern length must be a reduced fraction of beats, 1/6144 .. 1024";
        }
        if (p.swing < 0 || p.swing > swing_units) {
            return "pattern swing must be 0 .. 1000";
        }
        for (const auto& row : p.grid) {
            for (const Step& s : row) {
                if (s.velocity < 1 || s.velocity > 127) {
                    return "step velocity must be 1 .. 127";
                }
                if (s.probability > 100) {
                    return "step probability must be 0 .. 100";
                }
                if (s.ratchet < 1 || s.ratchet > max_ratchet) {
                    return "step ratchet must be 1 .. 8";
                }
                if (s.micro < -max_micro || s.micro > max_micro) {
                    return "step microtiming must be -48 .. 48";
                }
                if (s.layers >= (1U << max_layers)) {
                    return "step layer mask must be 0 .. 15";
                }
            }
        }
    }
    if (m.song.length > max_chain) {
        return "song chain holds at most 128 slots";
    }
    for (const ChainSlot& c : m.song.chain) {
        if (c.pattern >= max_patterns || c.repeats < 1 || c.repeats > max_repeats) {
            return "song slot must be pattern 0 .. 63 with 1 .. 64 repeats";
        }
    }
    return nullptr;
}

} // namespace lockstep::seq
