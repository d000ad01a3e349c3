// Internal to the adapter: brackets calls from RT_NONBLOCKING code into JACK's C API.
// libjack's functions carry no nonblocking annotation, so clang's -Wfunction-effects would
// flag every call; the ones we make on the process thread (port buffers, MIDI buffers,
// cycle times) only touch shared memory, and the RTSan build checks them at run time.
#pragma once

#if defined(__clang__)
#define LOCKSTEP_JACK_CALLS_BEGIN                                                                  \
    _Pragma("clang diagnostic push") _Pragma("clang diagnostic ignored \"-Wfunction-effects\"")
#define LOCKSTEP_JACK_CALLS_END _Pragma("clang diagnostic pop")
#else
#define LOCKSTEP_JACK_CALLS_BEGIN
#define LOCKSTEP_JACK_CALLS_END
#endif
