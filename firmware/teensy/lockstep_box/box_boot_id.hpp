#pragma once
// The boot id (docs/bridge-protocol.md section 4): a new value at every boot, so that the host
// sees a reboot. Made from a boot counter in EEPROM (bytes 0..3, incremented at every boot)
// and the chip's unique id (OCOTP fuses CFG0/CFG1), through a bijective mix: consecutive boots
// of one box always differ (the counter does), and two boxes on one host differ too.
#include <cstdint>

namespace box {

// setup() only (writes the EEPROM counter; the Teensy's EEPROM is emulated in flash with
// wear levelling, 4 bytes per boot).
std::uint32_t next_boot_id();

// murmur3's 32-bit finaliser: a bijection, so distinct counters give distinct ids.
constexpr std::uint32_t mix32(std::uint32_t h) {
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

constexpr std::uint32_t boot_id_of(std::uint32_t counter, std::uint32_t uid0, std::uint32_t uid1) {
    return mix32(counter + mix32(uid0 ^ mix32(uid1)));
}

} // namespace box
