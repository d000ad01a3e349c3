// Finding the box (`--device auto`, docs/bridge.md "Finding the box").
// Thread: the serial thread (file system reads; never RT).
#pragma once

#include <string>

namespace lockstep::bridge {

// The serial port of the box under `root` ("/" in service, a fake tree in tests):
//  1. the first entry (sorted by name) of <root>/dev/serial/by-id/ whose name contains
//     "teensy" or "lockstep" (any case), e.g. usb-Teensyduino_USB_Serial_12345-if00;
//  2. else the first tty (sorted) under <root>/sys/class/tty/ whose USB device has
//     idVendor 16c0 and idProduct 0483 (PJRC's Teensy USB serial), as <root>/dev/<tty>.
// The result is the path as found (a by-id symlink is not resolved, so a replugged box
// keeps its name). Empty when there is none.
std::string find_device(const std::string& root = "/");

// `--device` as given: "auto" -> find_device(root); anything else is used as is.
std::string resolve_device(const std::string& spec, const std::string& root = "/");

} // namespace lockstep::bridge
