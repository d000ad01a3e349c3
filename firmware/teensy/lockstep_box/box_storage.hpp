#pragma once
// The project on the Teensy 4.1's built-in SD card (SD library, SdFat underneath):
// /LOCKSTEP.PRJ in the format of firmware/core/project.hpp. Main loop only (blocking I/O,
// tens of milliseconds; the trigger timer keeps running meanwhile).
#include "src/core/project.hpp"

namespace box {

bool storage_begin();
// Returns a short text for the UI's message line ("SAVED", "NO SD CARD", ...).
const char* storage_save(const lockstep::fw::Model& model);
const char* storage_load(lockstep::fw::Sequencer& seq);

} // namespace box
