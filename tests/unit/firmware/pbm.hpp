#pragma once
// Expected-image checks for the firmware display: 128x64 plain PBM (P1) files under
// tests/data/firmware/, 1 = a lit pixel. On a mismatch the actual image is written to the
// build directory (<name>.actual.pbm) and the failure says which rows and columns differ.
// LOCKSTEP_UPDATE_IMAGES=1 writes the expected files instead (then inspect them by eye).
#include "core/display.hpp"

#include <gtest/gtest.h>

#include <string>

namespace lockstep::fw::test {

std::string to_pbm(const Framebuffer& fb);
// Parses P1 text (comments allowed); false with a reason on malformed input or wrong size.
bool parse_pbm(const std::string& text, Framebuffer& fb, std::string& error);
::testing::AssertionResult matches_image(const Framebuffer& fb, const std::string& name);

} // namespace lockstep::fw::test
