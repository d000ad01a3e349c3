// RTSan canary: a real-time function that allocates on purpose. In the -Drtsan=true build
// RealtimeSanitizer must report it and fail the program; rtsan_expect_report checks that
// it does, proving the RTSan checks of the integration suite are live.
#include "rt/rt.hpp"

#include <cstdio>

namespace {
int* volatile g_sink = nullptr; // keeps the allocation from being optimized away

#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wfunction-effects" // the violation is the point
#endif
[[gnu::noinline]] void allocate_in_realtime_context() RT_NONBLOCKING {
    g_sink = new int[64];
    delete[] g_sink;
}
#if defined(__clang__)
#pragma clang diagnostic pop
#endif
} // namespace

int main() {
    allocate_in_realtime_context();
    std::puts("rtsan_canary: the allocation was NOT reported");
    return 0;
}
