// Host check only: the parts of the box layer that need real hardware (cycle counter, USB
// host, I2C display, SD card) replaced by fakes, and the fake Teensy core's globals. The
// sketch and box_outputs.cpp / box_boot_id.cpp are compiled as they are.
#include "fake_box.hpp"

#include "../lockstep_box/box_clock.hpp"
#include "../lockstep_box/box_display.hpp"
#include "../lockstep_box/box_keyboard.hpp"
#include "../lockstep_box/box_storage.hpp"

#include <Arduino.h>
#include <EEPROM.h>
#include <IntervalTimer.h>

#include <algorithm>
#include <cstring>

fake::SerialPort Serial;
fake::Eeprom EEPROM;
std::uint32_t HW_OCOTP_CFG0 = 0x12345678;
std::uint32_t HW_OCOTP_CFG1 = 0x9abcdef0;

namespace fake {

std::uint8_t pin_levels[64] = {};
int interrupt_masks = 0;
Timer timer;
lockstep::fw::DeviceTime clock_ns = 0;
std::deque<lockstep::fw::KeyEvent> keys;
unsigned frames_shown = 0;

std::size_t SerialPort::readBytes(char* buffer, std::size_t length) {
    const std::size_t n = std::min(length, rx.size());
    std::memcpy(buffer, rx.data(), n);
    rx.erase(rx.begin(), rx.begin() + static_cast<std::ptrdiff_t>(n));
    return n;
}

std::size_t SerialPort::write(const std::uint8_t* data, std::size_t size) {
    tx.insert(tx.end(), data, data + size);
    return size;
}

} // namespace fake

namespace box {

void clock_begin() {}

lockstep::fw::DeviceTime now() {
    fake::clock_ns += 1000;
    return fake::clock_ns;
}

void keyboard_begin() {}
void keyboard_task() {}
bool keyboard_next(lockstep::fw::KeyEvent& out) {
    if (fake::keys.empty()) {
        return false;
    }
    out = fake::keys.front();
    fake::keys.pop_front();
    return true;
}

void display_begin() {}
bool display_idle() {
    return true;
}
void display_show(const lockstep::fw::Framebuffer& /*fb*/) {
    ++fake::frames_shown;
}
void display_service() {}

bool storage_begin() {
    return false;
}
const char* storage_save(const lockstep::fw::Model& /*model*/) {
    return "NO SD CARD";
}
const char* storage_load(lockstep::fw::Sequencer& /*seq*/) {
    return "NO SD CARD";
}

} // namespace box
