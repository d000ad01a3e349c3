#include "service/rt_priority.hpp"

#include "service/log.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include <sched.h>
#include <sys/mman.h>

namespace lockstep::service {

bool lock_memory() {
    if (mlockall(MCL_CURRENT | MCL_FUTURE) == 0) {
        log::debug("memory locked");
        return true;
    }
    const int err = errno;
    static std::atomic<bool> reported{false};
    if (!reported.exchange(true)) {
        log::warning("cannot lock memory: %s (running without; grant CAP_IPC_LOCK or raise "
                     "LimitMEMLOCK to avoid page faults on the audio path)",
                     std::strerror(err));
    }
    return false;
}

bool request_fifo(pthread_t thread, int priority, const char* what) {
    const int lo = sched_get_priority_min(SCHED_FIFO);
    const int hi = sched_get_priority_max(SCHED_FIFO);
    sched_param param{};
    param.sched_priority = std::clamp(priority, lo, hi);
    const int err = pthread_setschedparam(thread, SCHED_FIFO, &param);
    if (err == 0) {
        log::debug("%s runs with SCHED_FIFO priority %d", what, param.sched_priority);
        return true;
    }
    static std::atomic<bool> reported{false};
    if (!reported.exchange(true)) {
        log::warning("cannot use SCHED_FIFO priority %d for %s: %s (running without; grant "
                     "CAP_SYS_NICE or raise LimitRTPRIO)",
                     param.sched_priority, what, std::strerror(err));
    }
    return false;
}

} // namespace lockstep::service
