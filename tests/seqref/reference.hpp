// An independent exact reference of docs/seq.md ("Where a step lands", "Transport", "Ports"):
// what lockstep-seq plays, and on which frames, for one run from a start to a stop. Written
// from that page alone with boost::multiprecision::cpp_rational: allocating, slow and
// obviously right. Tests compare the engine (offline) and the real client (through JACK)
// against it, event by event.
//
// Thread: any (pure functions of their arguments). Test code only.
#pragma once

#include "chance.hpp" // step_fires: docs/seq.md defines probability by this function
#include "model.hpp"
#include "time/frame_clock.hpp"
#include "time/rational.hpp"

#include <boost/multiprecision/cpp_int.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lockstep::seqref {

using boost::multiprecision::cpp_int;
using boost::multiprecision::cpp_rational;

cpp_rational to_q(Rational r);
cpp_int floor_q(const cpp_rational& q);
cpp_int ceil_q(const cpp_rational& q);

// The tempo map of docs/timing.md, literally: segments anchored at the exact ideal frame of
// their start; position 0 sits on the integer frame `origin`.
class TempoMap {
public:
    TempoMap(std::uint32_t rate, const cpp_rational& bpm, Frame origin);
    // A change at `at` (>= the last change's position; equal replaces that tempo).
    void set_tempo_at(const cpp_rational& at, const cpp_rational& bpm);
    cpp_rational ideal(const cpp_rational& position) const;
    Frame emitted(const cpp_rational& position) const;      // ceil(ideal)
    cpp_rational position(const cpp_rational& frame) const; // the inverse of ideal

private:
    struct Seg {
        cpp_rational start, bpm, anchor;
    };
    std::uint32_t rate_;
    std::vector<Seg> segs_;
};

struct TempoChange {
    cpp_rational position; // beats since position 0
    cpp_rational bpm;
};

// One run of the sequencer: play at `start_frame`, optionally stop at `stop_frame`.
struct Performance {
    seq::Model model = seq::default_model();
    std::uint64_t seed = 0;
    std::uint32_t rate = 48000;
    cpp_rational bpm = 120;           // tempo at position 0
    std::vector<TempoChange> changes; // scheduled with /seq/tempo/at, any order
    Frame origin = 0;                 // frame of position 0 (the tempo map's origin)
    // Where play starts: `origin` for a play from position 0; later for a start from the
    // position whose ideal frame is start_frame (a locate, JACK transport in follow mode).
    std::optional<Frame> start_frame;
    std::optional<Frame> stop_frame; // /seq/stop applied at this frame
    Frame until = 0;                 // events at frames < until
    bool clock = true;               // compute the clock port (24 per beat: the slow part)
};

struct Event {
    Frame frame = 0;
    std::vector<std::uint8_t> bytes;
    friend bool operator==(const Event&, const Event&) = default;
};

struct Output {
    std::vector<Event> out;   // notes (all tracks)
    std::vector<Event> clock; // MIDI clock, start/continue/stop
    std::vector<Event> sync;  // one SysEx per step, and the stop SysEx
    std::optional<Frame> end; // the frame a song without loop stopped at
    std::size_t instances = 0;
};

Output play(const Performance& run);

// "frame b0 b1 ..." (hex bytes), for failure messages.
std::string to_string(const Event& e);

} // namespace lockstep::seqref
