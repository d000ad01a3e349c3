#pragma once
// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor): the frame check
// of the bridge <-> box protocol (docs/bridge-protocol.md). Check value: "123456789" -> 0x29B1.
#include <cstddef>
#include <cstdint>

namespace lockstep::fw {

inline constexpr std::uint16_t crc16_init = 0xFFFF;

// Continues a CRC over `size` more bytes; start with crc16_init. Any thread, any context
// (pure function, no state).
std::uint16_t crc16_update(std::uint16_t crc, const std::uint8_t* data, std::size_t size);

inline std::uint16_t crc16(const std::uint8_t* data, std::size_t size) {
    return crc16_update(crc16_init, data, size);
}

} // namespace lockstep::fw
