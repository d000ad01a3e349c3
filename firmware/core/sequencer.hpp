#pragma once
// The box's standalone step sequencer: `outputs` tracks x 16 steps, a pool of 64 patterns, a
// 128-slot song chain with repeats, per-step on/accent, per-track mute, swing, tempo, undo.
//
// Every function is for the main loop only (edits from the UI, ticks, host messages); the
// trigger scheduler carries the steps into the timer ISR. RAM: about 10 KB with 4 outputs
// (most of it the 32 undo levels), 15 KB with 16.
//
// Timing (docs/timing.md's rule, on the device clock): the tempo is BPM*100 (13730 = 137.30
// BPM), a step is a sixteenth, d = 1.5e12 / bpm100 ns. Step j of a tempo segment anchored at
// A (DeviceTime ns) is due at
//     A + ceil( (2000*j + swing*[step is odd]) * 7.5e8 / bpm100 )
// swing 0..1000 as in lockstep-seq: odd steps of the pattern late by swing/1000 * d/2. The
// time is computed from the anchor with integer maths only (j is split by bpm100 so that no
// product overflows 64 bits; no __int128 on Cortex-M7), never by adding a rounded interval.
// A tempo change takes effect at the next step not yet emitted: its unswung time under the
// old tempo, rounded up to whole ns, becomes the new segment's anchor (so each tempo change
// may round once, by under 1 ns; within a segment there is no rounding at all).
//
// Host follow: while a host is connected the own clock emits nothing; the position follows
// the host's step messages (the bridge schedules the triggers itself). When the host goes
// away while its transport plays, the box continues on its own clock in phase with the host's
// last step: it plays the host's last pattern in pattern mode (song mode is switched off) at
// the box's tempo, from the first step of that grid after the moment of loss (steps that fell
// in the gap are skipped, never played late). If the host's transport was stopped the box
// stays stopped.
#include "core/config.hpp"

#include <cstddef>
#include <cstdint>

namespace lockstep::fw {

inline constexpr unsigned steps_per_pattern = 16;
inline constexpr unsigned pattern_count = 64;
inline constexpr unsigned chain_capacity = 128;
inline constexpr unsigned undo_levels = 32;
inline constexpr std::uint32_t min_tempo_bpm100 = 1000;   // 10 BPM
inline constexpr std::uint32_t max_tempo_bpm100 = 100000; // 1000 BPM
inline constexpr std::uint32_t default_tempo_bpm100 = 12000;
inline constexpr std::uint16_t max_swing = 1000;
inline constexpr std::uint8_t max_repeats = 64;

struct Pattern {
    std::uint16_t on[outputs];     // bit k: step k of track t fires
    std::uint16_t accent[outputs]; // bit k: step k is accented (reported in StepEvent)
};

struct ChainSlot {
    std::uint8_t pattern; // 0..63
    std::uint8_t repeats; // 1..64
};

// Everything a project file holds.
struct Model {
    Pattern patterns[pattern_count];
    ChainSlot chain[chain_capacity]; // slots at or beyond chain_length are kept but unused
    std::uint8_t chain_length;       // 0..128
    std::uint8_t selected;           // the pattern that loops outside song mode
    bool song_mode;
    bool song_loop; // at the chain's end: loop to slot 0 (true) or stop
    std::uint32_t tempo_bpm100;
    std::uint16_t swing; // 0..1000
    std::uint16_t mutes; // bit t: track t muted
};
bool operator==(const Model& a, const Model& b);
inline bool operator!=(const Model& a, const Model& b) {
    return !(a == b);
}
Model default_model();

// One step of the own clock, for the trigger scheduler and the display.
struct StepEvent {
    DeviceTime at;        // due time (swing applied)
    std::uint16_t mask;   // tracks that fire (mutes applied); 0 = nothing to schedule
    std::uint16_t accent; // of those, the accented ones
    std::uint8_t pattern;
    std::uint8_t step;
    std::uint8_t slot; // song chain slot (0 outside song mode)
};

struct Position {
    bool playing; // own transport, or the host's while connected
    bool host;    // a host is connected and the box follows it
    std::uint8_t pattern;
    std::uint8_t step; // the last step emitted (or reported by the host)
    std::uint8_t slot;
    std::uint16_t mask; // that step's mask
};

class Sequencer {
public:
    Sequencer();

    const Model& model() const { return model_; }

    // Edits, recorded for undo (a redo history is cleared by a new edit). Out-of-range
    // arguments return false and change nothing; an edit that changes nothing records nothing.
    bool set_step(unsigned pattern, unsigned track, unsigned step, bool on);
    bool toggle_step(unsigned pattern, unsigned track, unsigned step);
    bool set_accent(unsigned pattern, unsigned track, unsigned step, bool accent);
    bool clear_pattern(unsigned pattern);
    bool copy_pattern(unsigned from, unsigned to);
    bool set_chain_slot(unsigned slot, unsigned pattern, unsigned repeats); // slot <= length
    bool insert_chain_slot(unsigned slot, unsigned pattern, unsigned repeats);
    bool remove_chain_slot(unsigned slot);
    bool clear_chain();
    bool set_tempo(std::uint32_t bpm100); // from the next step boundary
    bool set_swing(std::uint16_t swing);  // from the next step

    bool undo();
    bool redo();
    unsigned undo_depth() const { return undo_count_; }
    unsigned redo_depth() const { return redo_count_; }

    // Performance settings (not recorded for undo).
    bool set_mute(unsigned track, bool muted);
    bool select_pattern(unsigned pattern); // at the end of the playing instance
    // From the next instance: switching song mode on starts the chain at slot 0 there.
    void set_song_mode(bool on);
    void set_song_loop(bool loop) { model_.song_loop = loop; }

    // Own transport. play() starts position 0 (chain slot 0 in song mode, else step 0 of the
    // selected pattern) at `at`; refused while a host is connected or in song mode with an
    // empty chain; play while playing does nothing.
    bool play(DeviceTime at);
    void stop();
    bool playing() const { return playing_; }

    // Own clock. next_step() yields the next step if it is due at or before horizon (each
    // step once, in order). tick() emits every step due up to now + lookahead_ns, so that
    // the scheduler has it before it is due.
    bool next_step(DeviceTime horizon, StepEvent& out);
    template <class Emit>
    void tick(DeviceTime now, Emit&& emit) {
        StepEvent e{};
        while (next_step(now + lookahead_ns, e)) {
            emit(e);
        }
    }
    DeviceTime lookahead_ns = 5'000'000;

    // Host follow (messages from the bridge). at: the host step's unswung start on the device
    // clock (its arrival time if the bridge cannot say).
    void host_connected();
    void host_transport(bool playing);
    void set_host_step(std::uint8_t pattern, std::uint8_t step, std::uint16_t mask, DeviceTime at);
    void host_lost(DeviceTime now);

    Position position() const;

    // Project loading (project.cpp): it validates a file completely, writes the model in
    // place, then calls loaded(), which clears the undo history. The tempo applies from the
    // next step boundary, the patterns from the next step.
    Model& model_for_load() { return model_; }
    void loaded();

    // Exact offset of step j of a segment at bpm100 from the segment's anchor (ns).
    static DeviceTime step_offset(std::uint64_t j, bool odd, std::uint32_t bpm100,
                                  std::uint16_t swing);

private:
    struct UndoRecord {
        enum class Kind : std::uint8_t { pattern, chain, tempo, swing };
        Kind kind;
        std::uint8_t index;
        Pattern pattern;
        ChainSlot chain[chain_capacity];
        std::uint8_t chain_length;
        std::uint32_t tempo;
        std::uint16_t swing;
    };
    void record_pattern(unsigned pattern);
    void record_chain();
    void push(const UndoRecord& r);
    void swap_with_model(UndoRecord& r);
    void next_instance();
    DeviceTime next_step_time() const;

    Model model_;
    UndoRecord history_[undo_levels];
    unsigned top_ = 0; // next record slot
    unsigned undo_count_ = 0;
    unsigned redo_count_ = 0;

    // Own clock: the next step to emit.
    bool playing_ = false;
    DeviceTime anchor_ = 0;
    std::uint64_t index_ = 0; // steps since anchor_
    std::uint32_t segment_tempo_ = default_tempo_bpm100;
    std::uint8_t pattern_ = 0;
    std::uint8_t step_ = 0;
    std::uint8_t slot_ = 0;
    std::uint8_t repeat_ = 0;
    bool chain_restart_ = false; // song mode was switched on: slot 0 at the next instance
    StepEvent last_{};
    bool emitted_ = false;

    // Host follow.
    bool host_ = false;
    bool host_playing_ = false;
    bool host_step_valid_ = false;
    std::uint8_t host_pattern_ = 0;
    std::uint8_t host_step_ = 0;
    std::uint16_t host_mask_ = 0;
    DeviceTime host_at_ = 0;
};

} // namespace lockstep::fw
