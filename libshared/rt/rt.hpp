// Real-time annotations shared by every engine and adapter.
#pragma once

// RT_NONBLOCKING marks a function that runs on the audio thread, or is called from
// one: it never allocates, locks, logs or does I/O. Under clang >= 20 it becomes
// [[clang::nonblocking]]: -Wfunction-effects checks it at compile time and the RTSan
// build (-fsanitize=realtime) checks everything it calls at run time.
#if defined(__clang__) && __clang_major__ >= 20
#define RT_NONBLOCKING [[clang::nonblocking]]
#else
#define RT_NONBLOCKING
#endif

// RT_BLOCKING marks a function that must never be called from a real-time context
// (RTSan reports a call to it from one).
#if defined(__clang__) && __clang_major__ >= 20
#define RT_BLOCKING [[clang::blocking]]
#else
#define RT_BLOCKING
#endif
