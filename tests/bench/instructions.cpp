#include "instructions.hpp"

// valgrind's client-request macros are C: they use old-style casts and zero-as-null.
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wzero-as-null-pointer-constant"
#pragma GCC diagnostic ignored "-Wpedantic"
#include <valgrind/callgrind.h>

namespace lockstep::bench {

void start_counting() noexcept {
    CALLGRIND_START_INSTRUMENTATION;
}

void stop_counting() noexcept {
    CALLGRIND_STOP_INSTRUMENTATION;
}

} // namespace lockstep::bench
