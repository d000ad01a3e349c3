#pragma once
// Host check only (firmware/teensy/hostcheck): the little of the Teensy core that the sketch's
// glue uses, recorded so that a test can drive and inspect it. Not the Teensy API in full.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fake {

// USB serial: the test puts host bytes into `rx` and reads the device's bytes from `tx`.
struct SerialPort {
    std::vector<std::uint8_t> rx;
    std::vector<std::uint8_t> tx;
    bool begun = false;

    void begin(unsigned long /*baud*/) { begun = true; }
    int available() const { return static_cast<int>(rx.size()); }
    std::size_t readBytes(char* buffer, std::size_t length);
    std::size_t write(const std::uint8_t* data, std::size_t size);
};

extern std::uint8_t pin_levels[64]; // digitalWriteFast
extern int interrupt_masks;         // noInterrupts() - interrupts(): 0 when balanced

} // namespace fake

extern fake::SerialPort Serial;

// The i.MX RT1062's unique-id fuses (OCOTP CFG0/CFG1).
extern std::uint32_t HW_OCOTP_CFG0;
extern std::uint32_t HW_OCOTP_CFG1;

inline constexpr std::uint8_t OUTPUT = 1;
inline constexpr std::uint8_t LOW = 0;
inline constexpr std::uint8_t HIGH = 1;

inline void pinMode(std::uint8_t /*pin*/, std::uint8_t /*mode*/) {}
inline void digitalWriteFast(std::uint8_t pin, unsigned level) {
    fake::pin_levels[pin % 64] = static_cast<std::uint8_t>(level != 0);
}
inline void noInterrupts() {
    ++fake::interrupt_masks;
}
inline void interrupts() {
    --fake::interrupt_masks;
}
