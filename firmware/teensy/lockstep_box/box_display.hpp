#pragma once
// The SH1106 128x64 OLED on I2C (Wire, address 0x3C). A frame goes out one page per
// display_service() call so that the main loop never blocks for a whole frame (~25 ms at
// 400 kHz); a new frame may start only when the previous one is out (display_idle()).
#include "src/core/display.hpp"

namespace box {

void display_begin();
bool display_idle();
void display_show(const lockstep::fw::Framebuffer& fb); // copies fb
void display_service();

} // namespace box
