// libFuzzer target: the sample file checks (clients/sampler/sample_check.cpp) on arbitrary
// bytes. Accepted files must satisfy the limits the loader relies on.
#include "../../clients/sampler/sample_check.hpp"

#include <cstdint>
#include <cstdlib>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const lockstep::sampler::SampleLimits limits;
    const auto r =
        lockstep::sampler::check_sample(std::span<const std::uint8_t>(data, size), limits);
    if (r.ok) {
        const auto& i = r.info;
        if (i.channels < 1 || i.channels > limits.max_channels || i.rate < limits.min_rate ||
            i.rate > limits.max_rate || i.frames == 0 ||
            static_cast<double>(i.frames) / i.rate > limits.max_seconds) {
            std::abort();
        }
    } else if (r.reason.empty()) {
        std::abort();
    }
    return 0;
}
