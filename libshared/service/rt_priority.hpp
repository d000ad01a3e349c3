// Real-time privileges for a service: locked memory and SCHED_FIFO threads. Both are
// requests: when the system refuses (no CAP_IPC_LOCK / CAP_SYS_NICE, RLIMIT_MEMLOCK or
// RLIMIT_RTPRIO too low, a container), the first refusal is logged once, as a warning
// that says we run without it, and the program carries on.
// Thread: any non-real-time thread (usually main, at startup).
#pragma once

#include <pthread.h>

namespace lockstep::service {

// mlockall(MCL_CURRENT | MCL_FUTURE), so the audio path never waits for a page fault.
// Returns whether memory is now locked.
bool lock_memory();

// Gives `thread` SCHED_FIFO at `priority` (clamped to the system's SCHED_FIFO range).
// Pass a priority below JACK's (jack_client_real_time_priority() - 1 or lower) for
// threads with timing duties that must not preempt the audio thread, e.g. the bridge's
// serial writer. `what` names the thread in the log. Returns whether it took effect.
bool request_fifo(pthread_t thread, int priority, const char* what = "thread");

} // namespace lockstep::service
