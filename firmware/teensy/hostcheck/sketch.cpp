// Host check: the sketch compiled as the Arduino builder does (it prepends <Arduino.h>), against
// the fakes in include/ and fake_box.cpp.
#include <Arduino.h>

#include "../lockstep_box/lockstep_box.ino"
