// The one wait an audio thread of lockstep-capture may make: in freewheel only, when the
// thread that drains its ring is behind. Nothing is real time in freewheel, so the audio
// thread sleeps ~100 us and tries again; RTSan is told so here, clang's effect analysis by
// a pragma at the call site. Used by the recorder's and the autosampler's engines.
#pragma once

#include <ctime>

#if defined(LOCKSTEP_RTSAN)
#include <sanitizer/rtsan_interface.h>
#endif

namespace lockstep::capture {

inline void freewheel_pause() noexcept {
#if defined(LOCKSTEP_RTSAN)
    __rtsan::ScopedDisabler allow_sleep;
#endif
    timespec ts{0, 100'000};
    nanosleep(&ts, nullptr);
}

} // namespace lockstep::capture
