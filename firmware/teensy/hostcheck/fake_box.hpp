#pragma once
// Host check only: the state behind the fake box layer (fake_box.cpp) and the fake Teensy
// core (include/), for the glue test.
#include "src/core/config.hpp"
#include "src/core/ui.hpp"

#include <deque>

namespace fake {

// box::now(): advances by 1 us per read (a busy-wait on it ends); the test may jump it.
extern lockstep::fw::DeviceTime clock_ns;
extern std::deque<lockstep::fw::KeyEvent> keys; // box::keyboard_next()
extern unsigned frames_shown;                   // box::display_show()

} // namespace fake

// The sketch's entry points (sketch.cpp).
void setup();
void loop();
