#pragma once
// USB keyboard (USBHost_t36, the Teensy 4.1's host port) -> lockstep::fw::KeyEvent.
#include "src/core/ui.hpp"

namespace box {

void keyboard_begin();
// Main loop: runs the USB host stack; key presses are queued for keyboard_next().
void keyboard_task();
bool keyboard_next(lockstep::fw::KeyEvent& out);

// HID usage code and modifier byte -> KeyEvent (Key::none for keys the UI does not use).
lockstep::fw::KeyEvent translate(std::uint8_t usage, std::uint8_t hid_modifiers);

} // namespace box
