#include "core/sequencer.hpp"

#include <algorithm>

namespace lockstep::fw {

namespace {
constexpr std::uint16_t track_mask = static_cast<std::uint16_t>((std::uint32_t{1} << outputs) - 1U);
// 1.5e12 ns: bpm100 steps take 25 minutes at any tempo; 7.5e8 = 1.5e12 / 2000.
constexpr std::uint64_t block_ns = 1'500'000'000'000ULL;
constexpr std::uint64_t unit_ns = 750'000'000ULL;

bool same(const Pattern& a, const Pattern& b) {
    return std::equal(a.on, a.on + outputs, b.on) &&
           std::equal(a.accent, a.accent + outputs, b.accent);
}
} // namespace

bool operator==(const Model& a, const Model& b) {
    for (unsigned p = 0; p < pattern_count; ++p) {
        for (unsigned t = 0; t < outputs; ++t) {
            if (a.patterns[p].on[t] != b.patterns[p].on[t] ||
                a.patterns[p].accent[t] != b.patterns[p].accent[t]) {
                return false;
            }
        }
    }
    for (unsigned s = 0; s < chain_capacity; ++s) {
        if (a.chain[s].pattern != b.chain[s].pattern || a.chain[s].repeats != b.chain[s].repeats) {
            return false;
        }
    }
    return a.chain_length == b.chain_length && a.selected == b.selected &&
           a.song_mode == b.song_mode && a.song_loop == b.song_loop &&
           a.tempo_bpm100 == b.tempo_bpm100 && a.swing == b.swing && a.mutes == b.mutes;
}

Model default_model() {
    Model m{};
    for (ChainSlot& s : m.chain) {
        s = ChainSlot{0, 1};
    }
    m.song_loop = true;
    m.tempo_bpm100 = default_tempo_bpm100;
    return m;
}

Sequencer::Sequencer() : model_(default_model()), history_{} {}

DeviceTime Sequencer::step_offset(std::uint64_t j, bool odd, std::uint32_t bpm100,
                                  std::uint16_t swing) {
    // j = a*bpm100 + b: the a whole blocks are exact, and (2000*b + swing) * 7.5e8 stays
    // below 2e8 * 7.5e8 = 1.5e17, far from 2^64.
    const std::uint64_t a = j / bpm100;
    const std::uint64_t b = j % bpm100;
    const std::uint64_t num = (2000U * b + (odd ? swing : 0U)) * unit_ns;
    return a * block_ns + (num + bpm100 - 1U) / bpm100;
}

DeviceTime Sequencer::next_step_time() const {
    return anchor_ + step_offset(index_, (step_ & 1U) != 0, segment_tempo_, model_.swing);
}

// ---- edits and undo

void Sequencer::push(const UndoRecord& r) {
    history_[top_] = r;
    top_ = (top_ + 1) % undo_levels;
    undo_count_ = std::min(undo_count_ + 1, undo_levels);
    redo_count_ = 0;
}

void Sequencer::record_pattern(unsigned pattern) {
    UndoRecord r{};
    r.kind = UndoRecord::Kind::pattern;
    r.index = static_cast<std::uint8_t>(pattern);
    r.pattern = model_.patterns[pattern];
    push(r);
}

void Sequencer::record_chain() {
    UndoRecord r{};
    r.kind = UndoRecord::Kind::chain;
    std::copy(model_.chain, model_.chain + chain_capacity, r.chain);
    r.chain_length = model_.chain_length;
    push(r);
}

// A record holds the other version of what it covers: swapping makes it the redo (or undo)
// record, so one copy serves both directions.
void Sequencer::swap_with_model(UndoRecord& r) {
    switch (r.kind) {
    case UndoRecord::Kind::pattern:
        std::swap(r.pattern, model_.patterns[r.index]);
        break;
    case UndoRecord::Kind::chain:
        std::swap_ranges(r.chain, r.chain + chain_capacity, model_.chain);
        std::swap(r.chain_length, model_.chain_length);
        break;
    case UndoRecord::Kind::tempo:
        std::swap(r.tempo, model_.tempo_bpm100);
        break;
    case UndoRecord::Kind::swing:
        std::swap(r.swing, model_.swing);
        break;
    }
}

bool Sequencer::undo() {
    if (undo_count_ == 0) {
        return false;
    }
    top_ = (top_ + undo_levels - 1) % undo_levels;
    swap_with_model(history_[top_]);
    --undo_count_;
    ++redo_count_;
    return true;
}

bool Sequencer::redo() {
    if (redo_count_ == 0) {
        return false;
    }
    swap_with_model(history_[top_]);
    top_ = (top_ + 1) % undo_levels;
    --redo_count_;
    ++undo_count_;
    return true;
}

bool Sequencer::set_step(unsigned pattern, unsigned track, unsigned step, bool on) {
    if (pattern >= pattern_count || track >= outputs || step >= steps_per_pattern) {
        return false;
    }
    std::uint16_t& row = model_.patterns[pattern].on[track];
    const auto bit = static_cast<std::uint16_t>(1U << step);
    const auto next = static_cast<std::uint16_t>(on ? (row | bit) : (row & ~bit));
    if (next != row) {
        record_pattern(pattern);
        row = next;
    }
    return true;
}

bool Sequencer::toggle_step(unsigned pattern, unsigned track, unsigned step) {
    if (pattern >= pattern_count || track >= outputs || step >= steps_per_pattern) {
        return false;
    }
    return set_step(pattern, track, step, ((model_.patterns[pattern].on[track] >> step) & 1U) == 0);
}

bool Sequencer::set_accent(unsigned pattern, unsigned track, unsigned step, bool accent) {
    if (pattern >= pattern_count || track >= outputs || step >= steps_per_pattern) {
        return false;
    }
    std::uint16_t& row = model_.patterns[pattern].accent[track];
    const auto bit = static_cast<std::uint16_t>(1U << step);
    const auto next = static_cast<std::uint16_t>(accent ? (row | bit) : (row & ~bit));
    if (next != row) {
        record_pattern(pattern);
        row = next;
    }
    return true;
}

bool Sequencer::clear_pattern(unsigned pattern) {
    if (pattern >= pattern_count) {
        return false;
    }
    const Pattern empty{};
    Pattern& p = model_.patterns[pattern];
    if (!same(p, empty)) {
        record_pattern(pattern);
        p = empty;
    }
    return true;
}

bool Sequencer::copy_pattern(unsigned from, unsigned to) {
    if (from >= pattern_count || to >= pattern_count) {
        return false;
    }
    if (!same(model_.patterns[from], model_.patterns[to])) {
        record_pattern(to);
        model_.patterns[to] = model_.patterns[from];
    }
    return true;
}

bool Sequencer::set_chain_slot(unsigned slot, unsigned pattern, unsigned repeats) {
    if (slot > model_.chain_length || slot >= chain_capacity || pattern >= pattern_count ||
        repeats < 1 || repeats > max_repeats) {
        return false;
    }
    if (slot < model_.chain_length && model_.chain[slot].pattern == pattern &&
        model_.chain[slot].repeats == repeats) {
        return true;
    }
    record_chain();
    model_.chain[slot] =
        ChainSlot{static_cast<std::uint8_t>(pattern), static_cast<std::uint8_t>(repeats)};
    if (slot == model_.chain_length) {
        ++model_.chain_length;
    }
    return true;
}

bool Sequencer::insert_chain_slot(unsigned slot, unsigned pattern, unsigned repeats) {
    if (slot > model_.chain_length || model_.chain_length >= chain_capacity ||
        pattern >= pattern_count || repeats < 1 || repeats > max_repeats) {
        return false;
    }
    record_chain();
    std::copy_backward(model_.chain + slot, model_.chain + model_.chain_length,
                       model_.chain + model_.chain_length + 1);
    model_.chain[slot] =
        ChainSlot{static_cast<std::uint8_t>(pattern), static_cast<std::uint8_t>(repeats)};
    ++model_.chain_length;
    return true;
}

bool Sequencer::remove_chain_slot(unsigned slot) {
    if (slot >= model_.chain_length) {
        return false;
    }
    record_chain();
    std::copy(model_.chain + slot + 1, model_.chain + model_.chain_length, model_.chain + slot);
    --model_.chain_length;
    model_.chain[model_.chain_length] = ChainSlot{0, 1};
    return true;
}

bool Sequencer::clear_chain() {
    if (model_.chain_length != 0) {
        record_chain();
        for (ChainSlot& s : model_.chain) {
            s = ChainSlot{0, 1};
        }
        model_.chain_length = 0;
    }
    return true;
}

bool Sequencer::set_tempo(std::uint32_t bpm100) {
    if (bpm100 < min_tempo_bpm100 || bpm100 > max_tempo_bpm100) {
        return false;
    }
    if (bpm100 != model_.tempo_bpm100) {
        UndoRecord r{};
        r.kind = UndoRecord::Kind::tempo;
        r.tempo = model_.tempo_bpm100;
        push(r);
        model_.tempo_bpm100 = bpm100;
    }
    return true;
}

bool Sequencer::set_swing(std::uint16_t swing) {
    if (swing > max_swing) {
        return false;
    }
    if (swing != model_.swing) {
        UndoRecord r{};
        r.kind = UndoRecord::Kind::swing;
        r.swing = model_.swing;
        push(r);
        model_.swing = swing;
    }
    return true;
}

bool Sequencer::set_mute(unsigned track, bool muted) {
    if (track >= outputs) {
        return false;
    }
    const auto bit = static_cast<std::uint16_t>(1U << track);
    model_.mutes = static_cast<std::uint16_t>(muted ? (model_.mutes | bit) : (model_.mutes & ~bit));
    return true;
}

void Sequencer::set_song_mode(bool on) {
    if (on && !model_.song_mode) {
        chain_restart_ = true;
    }
    model_.song_mode = on;
}

bool Sequencer::select_pattern(unsigned pattern) {
    if (pattern >= pattern_count) {
        return false;
    }
    model_.selected = static_cast<std::uint8_t>(pattern);
    return true;
}

void Sequencer::loaded() {
    top_ = 0;
    undo_count_ = 0;
    redo_count_ = 0;
}

// ---- own clock

bool Sequencer::play(DeviceTime at) {
    if (host_) {
        return false;
    }
    if (playing_) {
        return true;
    }
    if (model_.song_mode && model_.chain_length == 0) {
        return false;
    }
    playing_ = true;
    chain_restart_ = false;
    anchor_ = at;
    index_ = 0;
    segment_tempo_ = model_.tempo_bpm100;
    step_ = 0;
    slot_ = 0;
    repeat_ = 0;
    pattern_ = model_.song_mode ? model_.chain[0].pattern : model_.selected;
    return true;
}

void Sequencer::stop() {
    playing_ = false;
}

void Sequencer::next_instance() {
    step_ = 0;
    if (!model_.song_mode) {
        pattern_ = model_.selected;
        slot_ = 0;
        return;
    }
    if (chain_restart_) {
        chain_restart_ = false;
        slot_ = 0;
        repeat_ = 0;
        if (model_.chain_length == 0) {
            playing_ = false;
            return;
        }
        pattern_ = model_.chain[0].pattern;
        return;
    }
    if (slot_ < model_.chain_length && ++repeat_ < model_.chain[slot_].repeats) {
        pattern_ = model_.chain[slot_].pattern;
        return;
    }
    repeat_ = 0;
    ++slot_;
    if (slot_ >= model_.chain_length) {
        slot_ = 0;
        if (!model_.song_loop || model_.chain_length == 0) {
            playing_ = false;
            return;
        }
    }
    pattern_ = model_.chain[slot_].pattern;
}

bool Sequencer::next_step(DeviceTime horizon, StepEvent& out) {
    if (!playing_ || host_) {
        return false;
    }
    if (model_.tempo_bpm100 != segment_tempo_) {
        // Re-anchor at this step's unswung start under the old tempo.
        anchor_ += step_offset(index_, false, segment_tempo_, 0);
        index_ = 0;
        segment_tempo_ = model_.tempo_bpm100;
    }
    const DeviceTime at = next_step_time();
    if (at > horizon) {
        return false;
    }
    const Pattern& p = model_.patterns[pattern_];
    std::uint16_t mask = 0;
    std::uint16_t accent = 0;
    for (unsigned t = 0; t < outputs; ++t) {
        const auto bit = static_cast<std::uint16_t>(1U << t);
        if (((p.on[t] >> step_) & 1U) != 0) {
            mask |= bit;
            if (((p.accent[t] >> step_) & 1U) != 0) {
                accent |= bit;
            }
        }
    }
    mask = static_cast<std::uint16_t>(mask & ~model_.mutes & track_mask);
    accent = static_cast<std::uint16_t>(accent & mask);
    out = StepEvent{at, mask, accent, pattern_, step_, slot_};
    last_ = out;
    emitted_ = true;
    ++index_;
    if (++step_ == steps_per_pattern) {
        next_instance();
    }
    return true;
}

// ---- host follow

void Sequencer::host_connected() {
    host_ = true;
    host_step_valid_ = false;
}

void Sequencer::host_transport(bool playing) {
    host_playing_ = playing;
}

void Sequencer::set_host_step(std::uint8_t pattern, std::uint8_t step, std::uint16_t mask,
                              DeviceTime at) {
    host_pattern_ = static_cast<std::uint8_t>(pattern % pattern_count);
    host_step_ = static_cast<std::uint8_t>(step % steps_per_pattern);
    host_mask_ = static_cast<std::uint16_t>(mask & track_mask);
    host_at_ = at;
    host_step_valid_ = true;
}

void Sequencer::host_lost(DeviceTime now) {
    if (!host_) {
        return;
    }
    host_ = false;
    playing_ = false;
    if (!host_playing_ || !host_step_valid_) {
        return;
    }
    host_playing_ = false;
    model_.song_mode = false;
    model_.selected = host_pattern_;
    playing_ = true;
    pattern_ = host_pattern_;
    slot_ = 0;
    repeat_ = 0;
    anchor_ = host_at_;
    segment_tempo_ = model_.tempo_bpm100;
    // First step of the host's grid after now: start from an estimate at or below it
    // (whole 25-minute blocks, then the rest; no product overflows), then walk.
    std::uint64_t j = 1;
    if (now > host_at_) {
        const std::uint64_t gap = now - host_at_;
        const std::uint64_t estimate =
            gap / block_ns * segment_tempo_ + (gap % block_ns) * segment_tempo_ / block_ns;
        j = estimate > 1 ? estimate : 1;
    }
    while (anchor_ + step_offset(j, ((host_step_ + j) & 1U) != 0, segment_tempo_, model_.swing) <=
           now) {
        ++j;
    }
    index_ = j;
    step_ = static_cast<std::uint8_t>((host_step_ + j) % steps_per_pattern);
}

Position Sequencer::position() const {
    if (host_) {
        return Position{host_playing_, true, host_pattern_, host_step_, 0, host_mask_};
    }
    if (!emitted_) {
        return Position{playing_, false, pattern_, 0, slot_, 0};
    }
    return Position{playing_, false, last_.pattern, last_.step, last_.slot, last_.mask};
}

} // namespace lockstep::fw
