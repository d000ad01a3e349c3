#pragma once
// Host check only: the Teensy EEPROM emulation's get/put, over 4 KB that start erased (0xFF).
#include <cstdint>
#include <cstring>

namespace fake {

struct Eeprom {
    std::uint8_t bytes[4284];
    Eeprom() { std::memset(bytes, 0xFF, sizeof bytes); }

    template <typename T>
    T& get(int address, T& value) const {
        std::memcpy(&value, bytes + address, sizeof value);
        return value;
    }
    template <typename T>
    const T& put(int address, const T& value) {
        std::memcpy(bytes + address, &value, sizeof value);
        return value;
    }
};

} // namespace fake

extern fake::Eeprom EEPROM;
