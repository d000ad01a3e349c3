#include "box_boot_id.hpp"

#include <Arduino.h>
#include <EEPROM.h>

namespace box {

std::uint32_t next_boot_id() {
    constexpr int counter_address = 0;
    std::uint32_t counter = 0;
    EEPROM.get(counter_address, counter); // erased EEPROM reads 0xFFFFFFFF: wraps to 0
    ++counter;
    EEPROM.put(counter_address, counter);
    return boot_id_of(counter, HW_OCOTP_CFG0, HW_OCOTP_CFG1);
}

} // namespace box
