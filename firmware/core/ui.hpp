#pragma once
// The USB-keyboard UI as one state machine: key events in; edits on the Sequencer (through
// its API, so that undo works), requests for the device layer (transport, save, load) and the
// UiState the display renders, out. The key map is in firmware/README.md.
//
// Every function is for the main loop only (never the timer ISR).
#include "core/config.hpp"
#include "core/sequencer.hpp"

#include <cstdint>

namespace lockstep::fw {

enum class Key : std::uint8_t {
    none,
    character, // KeyEvent::ch: 'a'..'z' (lower case), '0'..'9', '[', ']', '+', '-', '.'
    up,
    down,
    left,
    right,
    enter,
    space,
    escape,
    tab,
    backspace,
    del,
    insert,
    f1,
    f2,
    f3,
    f4,
    f5,
    f6,
    f7,
    f8,
    f9,
    f10,
    f11,
    f12,
};

inline constexpr std::uint8_t mod_shift = 1;
inline constexpr std::uint8_t mod_ctrl = 2;
inline constexpr std::uint8_t mod_alt = 4;

struct KeyEvent {
    Key key = Key::none;
    char ch = 0;           // for Key::character
    std::uint8_t mods = 0; // mod_* bits
    static KeyEvent of(Key k, std::uint8_t m = 0) { return KeyEvent{k, 0, m}; }
    static KeyEvent chr(char c, std::uint8_t m = 0) { return KeyEvent{Key::character, c, m}; }
};

enum class UiMode : std::uint8_t { pattern, song, tempo, confirm };
enum class ConfirmAction : std::uint8_t { none, clear_pattern, load_project };
enum class TempoField : std::uint8_t { tempo, swing };

inline constexpr unsigned message_capacity = 22; // 21 characters and the NUL
inline constexpr unsigned entry_capacity = 8;    // typed digits (7) and the NUL
inline constexpr DeviceTime message_duration_ns = 1'500'000'000;

struct UiState {
    UiMode mode = UiMode::pattern;
    UiMode back = UiMode::pattern; // where the confirm dialog returns to
    ConfirmAction confirm = ConfirmAction::none;
    std::uint8_t pattern = 0; // the pattern shown and edited
    std::uint8_t track = 0;   // cursor, < outputs
    std::uint8_t step = 0;    // cursor, < 16
    std::uint8_t slot = 0;    // song chain cursor, <= chain_length (the end: append)
    TempoField field = TempoField::tempo;
    char entry[entry_capacity] = {}; // digits typed so far (pattern number, tempo, swing)
    std::uint8_t entry_len = 0;
    char message[message_capacity] = {}; // transient ("SAVED", "UNDO"); empty = none
    DeviceTime message_at = 0;
    std::int16_t clipboard = -1; // copied pattern, -1 = none
    bool help = false;
};

// Requests for the device layer (take_requests()).
inline constexpr unsigned request_play = 1;
inline constexpr unsigned request_stop = 2;
inline constexpr unsigned request_save = 4;
inline constexpr unsigned request_load = 8;

class Ui {
public:
    explicit Ui(Sequencer& seq) : seq_(seq) {}

    // One key press at `now` (device clock, for the message's lifetime). Returns true if it
    // changed anything (the view should be redrawn); unknown keys are ignored.
    bool handle(const KeyEvent& k, DeviceTime now);
    // Expires the transient message; returns true if the view changed.
    bool tick(DeviceTime now);
    // The device layer reports results ("SAVED", "LOAD FAILED") through the message line.
    void show_message(const char* text, DeviceTime now);
    // Called after a project was loaded: the cursors are brought back into range.
    void reset_after_load();

    unsigned take_requests() {
        const unsigned r = requests_;
        requests_ = 0;
        return r;
    }
    const UiState& state() const { return state_; }

private:
    bool global_key(const KeyEvent& k, DeviceTime now);
    bool pattern_key(const KeyEvent& k, DeviceTime now);
    bool song_key(const KeyEvent& k, DeviceTime now);
    bool tempo_key(const KeyEvent& k, DeviceTime now);
    bool confirm_key(const KeyEvent& k, DeviceTime now);
    void set_mode(UiMode m);
    void clear_entry();
    bool push_entry(char c, unsigned max_len);
    bool take_pattern_entry(char digit, DeviceTime now, unsigned& pattern);
    void select(unsigned pattern);
    void transport();
    void clamp();

    Sequencer& seq_;
    UiState state_;
    unsigned requests_ = 0;
};

} // namespace lockstep::fw
