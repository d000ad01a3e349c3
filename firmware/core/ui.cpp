#include "core/ui.hpp"

#include <cstring>

namespace lockstep::fw {
namespace {

bool is_digit(const KeyEvent& k) {
    return k.key == Key::character && k.ch >= '0' && k.ch <= '9' && (k.mods & mod_ctrl) == 0;
}

bool is_char(const KeyEvent& k, char c) {
    return k.key == Key::character && k.ch == c && (k.mods & (mod_ctrl | mod_alt)) == 0;
}

bool ctrl_char(const KeyEvent& k, char c) {
    return k.key == Key::character && k.ch == c && (k.mods & mod_ctrl) != 0;
}

// Parses decimal digits with at most one '.' into value * 10^decimals (extra decimals are
// refused). Returns false on malformed text or overflow.
bool parse_fixed(const char* s, unsigned decimals, std::uint32_t& out) {
    std::uint32_t v = 0;
    bool dot = false;
    unsigned after = 0;
    bool any = false;
    for (; *s != '\0'; ++s) {
        if (*s == '.') {
            if (dot) {
                return false;
            }
            dot = true;
            continue;
        }
        if (dot && ++after > decimals) {
            return false;
        }
        if (v > 100'000'000u) {
            return false;
        }
        v = v * 10u + static_cast<std::uint32_t>(*s - '0');
        any = true;
    }
    if (!any) {
        return false;
    }
    for (; after < decimals; ++after) {
        v *= 10u;
    }
    out = v;
    return true;
}

} // namespace

void Ui::show_message(const char* text, DeviceTime now) {
    std::size_t n = 0;
    while (text[n] != '\0' && n + 1 < message_capacity) {
        state_.message[n] = text[n];
        ++n;
    }
    state_.message[n] = '\0';
    state_.message_at = now;
}

bool Ui::tick(DeviceTime now) {
    if (state_.message[0] != '\0' && now - state_.message_at >= message_duration_ns) {
        state_.message[0] = '\0';
        return true;
    }
    return false;
}

void Ui::clear_entry() {
    state_.entry_len = 0;
    state_.entry[0] = '\0';
}

bool Ui::push_entry(char c, unsigned max_len) {
    if (state_.entry_len >= max_len || state_.entry_len + 1u >= entry_capacity) {
        return false;
    }
    state_.entry[state_.entry_len++] = c;
    state_.entry[state_.entry_len] = '\0';
    return true;
}

// Pattern and song edit: one typed digit of a two-digit pattern number (01..64). Returns true
// with `pattern` (0-based) when the second digit completes a valid number; an out-of-range
// number is dropped with a message.
bool Ui::take_pattern_entry(char digit, DeviceTime now, unsigned& pattern) {
    push_entry(digit, 2);
    if (state_.entry_len < 2) {
        return false;
    }
    const unsigned n = static_cast<unsigned>(state_.entry[0] - '0') * 10u +
                       static_cast<unsigned>(state_.entry[1] - '0');
    clear_entry();
    if (n < 1 || n > pattern_count) {
        show_message("NO SUCH PATTERN", now);
        return false;
    }
    pattern = n - 1;
    return true;
}

void Ui::set_mode(UiMode m) {
    clear_entry();
    state_.mode = m;
    clamp();
}

void Ui::clamp() {
    if (state_.track >= outputs) {
        state_.track = static_cast<std::uint8_t>(outputs - 1);
    }
    if (state_.step >= steps_per_pattern) {
        state_.step = steps_per_pattern - 1;
    }
    if (state_.pattern >= pattern_count) {
        state_.pattern = 0;
    }
    const unsigned len = seq_.model().chain_length;
    const unsigned max_slot = len < chain_capacity ? len : chain_capacity - 1;
    if (state_.slot > max_slot) {
        state_.slot = static_cast<std::uint8_t>(max_slot);
    }
}

void Ui::reset_after_load() {
    state_.pattern = seq_.model().selected;
    state_.clipboard = -1;
    clear_entry();
    if (state_.mode == UiMode::confirm) {
        state_.mode = state_.back;
    }
    state_.confirm = ConfirmAction::none;
    clamp();
}

void Ui::select(unsigned pattern) {
    state_.pattern = static_cast<std::uint8_t>(pattern % pattern_count);
    seq_.select_pattern(state_.pattern);
}

void Ui::transport() {
    requests_ |= seq_.position().playing ? request_stop : request_play;
}

bool Ui::handle(const KeyEvent& k, DeviceTime now) {
    if (k.key == Key::none) {
        return false;
    }
    if (state_.help) { // any key closes the overlay, and does nothing else
        state_.help = false;
        return true;
    }
    if (state_.mode == UiMode::confirm) {
        return confirm_key(k, now);
    }
    if (global_key(k, now)) {
        return true;
    }
    switch (state_.mode) {
    case UiMode::pattern:
        return pattern_key(k, now);
    case UiMode::song:
        return song_key(k, now);
    case UiMode::tempo:
        return tempo_key(k, now);
    case UiMode::confirm:
        break;
    }
    return false;
}

// Keys that mean the same in every mode (except the confirm dialog).
bool Ui::global_key(const KeyEvent& k, DeviceTime now) {
    const bool shift = (k.mods & mod_shift) != 0;
    if (ctrl_char(k, 'z') && !shift) {
        show_message(seq_.undo() ? "UNDO" : "NOTHING TO UNDO", now);
        clamp();
        return true;
    }
    if (ctrl_char(k, 'y') || (ctrl_char(k, 'z') && shift)) {
        show_message(seq_.redo() ? "REDO" : "NOTHING TO REDO", now);
        clamp();
        return true;
    }
    if (ctrl_char(k, 's')) {
        requests_ |= request_save;
        show_message("SAVING", now);
        return true;
    }
    if (ctrl_char(k, 'o')) {
        state_.back = state_.mode;
        state_.confirm = ConfirmAction::load_project;
        set_mode(UiMode::confirm);
        return true;
    }
    switch (k.key) {
    case Key::f1:
        state_.help = true;
        return true;
    case Key::f2:
        set_mode(UiMode::pattern);
        return true;
    case Key::f3:
        set_mode(UiMode::song);
        return true;
    case Key::f4:
        set_mode(UiMode::tempo);
        return true;
    case Key::tab:
        set_mode(state_.mode == UiMode::pattern ? UiMode::song
                 : state_.mode == UiMode::song  ? UiMode::tempo
                                                : UiMode::pattern);
        return true;
    case Key::escape:
        if (state_.entry_len > 0) {
            clear_entry();
        } else {
            set_mode(UiMode::pattern);
        }
        return true;
    case Key::enter:
        if (state_.entry_len > 0) {
            return false; // the mode commits its entry
        }
        transport();
        return true;
    default:
        return false;
    }
}

bool Ui::pattern_key(const KeyEvent& k, DeviceTime now) {
    const bool shift = (k.mods & mod_shift) != 0;
    const unsigned jump = shift ? 4 : 1;
    switch (k.key) {
    case Key::left:
        state_.step =
            static_cast<std::uint8_t>((state_.step + steps_per_pattern - jump) % steps_per_pattern);
        return true;
    case Key::right:
        state_.step = static_cast<std::uint8_t>((state_.step + jump) % steps_per_pattern);
        return true;
    case Key::up:
        state_.track = static_cast<std::uint8_t>((state_.track + outputs - 1) % outputs);
        return true;
    case Key::down:
        state_.track = static_cast<std::uint8_t>((state_.track + 1) % outputs);
        return true;
    case Key::space:
        return seq_.toggle_step(state_.pattern, state_.track, state_.step);
    case Key::backspace:
        if (state_.entry_len > 0) {
            state_.entry[--state_.entry_len] = '\0';
            return true;
        }
        return false;
    case Key::del:
        state_.back = UiMode::pattern;
        state_.confirm = ConfirmAction::clear_pattern;
        set_mode(UiMode::confirm);
        return true;
    default:
        break;
    }
    if (is_digit(k)) {
        // Two digits select a pattern: 01..64.
        unsigned pattern = 0;
        if (take_pattern_entry(k.ch, now, pattern)) {
            select(pattern);
        }
        return true;
    }
    if (is_char(k, '[')) {
        select(state_.pattern + pattern_count - 1);
        return true;
    }
    if (is_char(k, ']')) {
        select(state_.pattern + 1u);
        return true;
    }
    if (is_char(k, 'a')) {
        const bool accent =
            ((seq_.model().patterns[state_.pattern].accent[state_.track] >> state_.step) & 1u) != 0;
        return seq_.set_accent(state_.pattern, state_.track, state_.step, !accent);
    }
    if (is_char(k, 'm')) {
        const bool muted = ((seq_.model().mutes >> state_.track) & 1u) != 0;
        return seq_.set_mute(state_.track, !muted);
    }
    if (is_char(k, 'c')) {
        state_.clipboard = state_.pattern;
        show_message("COPIED", now);
        return true;
    }
    if (is_char(k, 'v')) {
        if (state_.clipboard < 0) {
            show_message("CLIPBOARD EMPTY", now);
        } else {
            seq_.copy_pattern(static_cast<unsigned>(state_.clipboard), state_.pattern);
            show_message("PASTED", now);
        }
        return true;
    }
    if (is_char(k, 'x')) {
        state_.back = UiMode::pattern;
        state_.confirm = ConfirmAction::clear_pattern;
        set_mode(UiMode::confirm);
        return true;
    }
    return false;
}

bool Ui::song_key(const KeyEvent& k, DeviceTime now) {
    const Model& m = seq_.model();
    const unsigned len = m.chain_length;
    const unsigned slot = state_.slot;
    const bool shift = (k.mods & mod_shift) != 0;
    const bool at_slot = slot < len;
    switch (k.key) {
    case Key::left:
        if (slot > 0) {
            --state_.slot;
        }
        return true;
    case Key::right:
        if (slot < len && slot + 1 < chain_capacity) {
            ++state_.slot;
        }
        return true;
    case Key::up:
    case Key::down: {
        // The slot's pattern (shift: by 8); on the end marker, appends the edited pattern.
        const unsigned step = shift ? 8 : 1;
        if (!at_slot) {
            return seq_.set_chain_slot(slot, state_.pattern, 1);
        }
        const unsigned p = m.chain[slot].pattern;
        const unsigned next = k.key == Key::up ? (p + step) % pattern_count
                                               : (p + pattern_count - step) % pattern_count;
        return seq_.set_chain_slot(slot, next, m.chain[slot].repeats);
    }
    case Key::insert:
        if (!seq_.insert_chain_slot(slot, state_.pattern, 1)) {
            show_message("CHAIN FULL", now);
        }
        return true;
    case Key::del:
    case Key::backspace:
        if (state_.entry_len > 0) {
            state_.entry[--state_.entry_len] = '\0';
            return true;
        }
        if (k.key == Key::backspace) {
            if (slot == 0) {
                return false;
            }
            --state_.slot;
            return seq_.remove_chain_slot(slot - 1);
        }
        seq_.remove_chain_slot(slot);
        clamp();
        return true;
    default:
        break;
    }
    if (is_char(k, 'i')) {
        return song_key(KeyEvent::of(Key::insert), now);
    }
    if (is_char(k, 'x')) {
        return song_key(KeyEvent::of(Key::del), now);
    }
    if (is_char(k, '+') || is_char(k, '-')) {
        if (!at_slot) {
            return false;
        }
        const unsigned r = m.chain[slot].repeats;
        const unsigned next = k.ch == '+' ? (r < max_repeats ? r + 1 : r) : (r > 1 ? r - 1 : r);
        return seq_.set_chain_slot(slot, m.chain[slot].pattern, next);
    }
    if (is_char(k, 's')) {
        seq_.set_song_mode(!m.song_mode);
        show_message(seq_.model().song_mode ? "SONG MODE ON" : "SONG MODE OFF", now);
        return true;
    }
    if (is_char(k, 'l')) {
        seq_.set_song_loop(!m.song_loop);
        return true;
    }
    if (is_digit(k)) {
        // Two digits set the slot's pattern (or append one at the end marker).
        unsigned pattern = 0;
        if (take_pattern_entry(k.ch, now, pattern)) {
            seq_.set_chain_slot(slot, pattern, at_slot ? m.chain[slot].repeats : 1u);
        }
        return true;
    }
    return false;
}

bool Ui::tempo_key(const KeyEvent& k, DeviceTime now) {
    const Model& m = seq_.model();
    const bool shift = (k.mods & mod_shift) != 0;
    const bool tempo = state_.field == TempoField::tempo;
    switch (k.key) {
    case Key::up:
    case Key::down:
    case Key::left:
    case Key::right:
        state_.field = tempo ? TempoField::swing : TempoField::tempo;
        clear_entry();
        return true;
    case Key::backspace:
        if (state_.entry_len > 0) {
            state_.entry[--state_.entry_len] = '\0';
            return true;
        }
        return false;
    case Key::enter: {
        // Only reached with an entry (global_key handles a bare enter).
        std::uint32_t v = 0;
        const bool ok = parse_fixed(state_.entry, tempo ? 2 : 1, v);
        clear_entry();
        if (tempo) {
            if (!ok || v < min_tempo_bpm100 || v > max_tempo_bpm100) {
                show_message("TEMPO 10-1000", now);
                return true;
            }
            seq_.set_tempo(v);
        } else {
            if (!ok || v > max_swing) {
                show_message("SWING 0-100", now);
                return true;
            }
            seq_.set_swing(static_cast<std::uint16_t>(v));
        }
        return true;
    }
    default:
        break;
    }
    if (is_digit(k) || is_char(k, '.')) {
        push_entry(k.ch, entry_capacity - 1);
        return true;
    }
    if (is_char(k, '+') || is_char(k, '-')) {
        const bool up = k.ch == '+';
        clear_entry();
        if (tempo) {
            const std::uint32_t d = shift ? 1000u : 100u; // 10 or 1 BPM
            std::uint32_t t = m.tempo_bpm100;
            t = up ? (t + d > max_tempo_bpm100 ? max_tempo_bpm100 : t + d)
                   : (t < min_tempo_bpm100 + d ? min_tempo_bpm100 : t - d);
            return seq_.set_tempo(t);
        }
        const unsigned d = shift ? 100u : 10u; // 10% or 1%
        unsigned s = m.swing;
        s = up ? (s + d > max_swing ? max_swing : s + d) : (s < d ? 0u : s - d);
        return seq_.set_swing(static_cast<std::uint16_t>(s));
    }
    return false;
}

bool Ui::confirm_key(const KeyEvent& k, DeviceTime now) {
    const bool yes = is_char(k, 'y') || k.key == Key::enter;
    const bool no = is_char(k, 'n') || k.key == Key::escape;
    if (!yes && !no) {
        return false;
    }
    const ConfirmAction action = state_.confirm;
    state_.confirm = ConfirmAction::none;
    state_.mode = state_.back;
    if (no) {
        show_message("CANCELLED", now);
        return true;
    }
    if (action == ConfirmAction::clear_pattern) {
        seq_.clear_pattern(state_.pattern);
        show_message("CLEARED", now);
    } else if (action == ConfirmAction::load_project) {
        requests_ |= request_load;
        show_message("LOADING", now);
    }
    return true;
}

} // namespace lockstep::fw
