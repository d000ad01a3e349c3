#include "box_keyboard.hpp"

#include <USBHost_t36.h>

namespace box {
namespace {

using lockstep::fw::Key;
using lockstep::fw::KeyEvent;

USBHost usb_host;
USBHub hub1(usb_host);
KeyboardController keyboard1(usb_host);

// Presses arrive in callbacks from usb_host.Task() (main loop); a small ring decouples them.
KeyEvent queue[16];
unsigned head = 0;
unsigned tail = 0;

void on_raw_press(std::uint8_t usage) {
    const KeyEvent e = translate(usage, keyboard1.getModifiers());
    if (e.key != Key::none && head - tail < 16) {
        queue[head++ % 16] = e;
    }
}

} // namespace

KeyEvent translate(std::uint8_t u, std::uint8_t hid_mods) {
    std::uint8_t mods = 0;
    if ((hid_mods & 0x22) != 0) {
        mods |= lockstep::fw::mod_shift;
    }
    if ((hid_mods & 0x11) != 0) {
        mods |= lockstep::fw::mod_ctrl;
    }
    if ((hid_mods & 0x44) != 0) {
        mods |= lockstep::fw::mod_alt;
    }
    if (u >= 0x04 && u <= 0x1D) {
        return KeyEvent::chr(static_cast<char>('a' + (u - 0x04)), mods);
    }
    if (u >= 0x1E && u <= 0x27) { // 1..9, 0
        return KeyEvent::chr(u == 0x27 ? '0' : static_cast<char>('1' + (u - 0x1E)), mods);
    }
    if (u >= 0x59 && u <= 0x62) { // keypad 1..9, 0
        return KeyEvent::chr(u == 0x62 ? '0' : static_cast<char>('1' + (u - 0x59)), mods);
    }
    if (u >= 0x3A && u <= 0x45) {
        return KeyEvent::of(static_cast<Key>(static_cast<unsigned>(Key::f1) + (u - 0x3A)), mods);
    }
    switch (u) {
    case 0x28:
    case 0x58:
        return KeyEvent::of(Key::enter, mods);
    case 0x29:
        return KeyEvent::of(Key::escape, mods);
    case 0x2A:
        return KeyEvent::of(Key::backspace, mods);
    case 0x2B:
        return KeyEvent::of(Key::tab, mods);
    case 0x2C:
        return KeyEvent::of(Key::space, mods);
    case 0x2D: // '-'
    case 0x56: // keypad '-'
        return KeyEvent::chr('-', mods);
    case 0x2E: // '=' (its shifted '+' is the coarse step)
    case 0x57: // keypad '+'
        return KeyEvent::chr('+', mods);
    case 0x2F:
        return KeyEvent::chr('[', mods);
    case 0x30:
        return KeyEvent::chr(']', mods);
    case 0x37:
    case 0x63:
        return KeyEvent::chr('.', mods);
    case 0x49:
        return KeyEvent::of(Key::insert, mods);
    case 0x4C:
        return KeyEvent::of(Key::del, mods);
    case 0x4F:
        return KeyEvent::of(Key::right, mods);
    case 0x50:
        return KeyEvent::of(Key::left, mods);
    case 0x51:
        return KeyEvent::of(Key::down, mods);
    case 0x52:
        return KeyEvent::of(Key::up, mods);
    default:
        return KeyEvent{};
    }
}

void keyboard_begin() {
    usb_host.begin();
    keyboard1.attachRawPress(on_raw_press);
}

void keyboard_task() {
    usb_host.Task();
}

bool keyboard_next(KeyEvent& out) {
    if (head == tail) {
        return false;
    }
    out = queue[tail++ % 16];
    return true;
}

} // namespace box
