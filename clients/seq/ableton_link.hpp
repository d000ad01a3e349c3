// <ableton/Link.hpp> for lockstep-seq and its tests. Ableton Link and Asio are header-only
// and this build sees them as our code (-I/usr/include comes with another dependency):
// their headers do not meet our warnings, which are off for them only. g++ 12's
// -Wnull-dereference false positive in Asio is reported after inlining, so a file that
// includes this turns it off itself, before any header.
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wcast-align"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
#include <ableton/Link.hpp>
#pragma GCC diagnostic pop
