// libFuzzer target: the SFZ parser (clients/sampler/sfz.cpp) on arbitrary text. Any input
// must give either regions that satisfy the parser's own invariants or one error line.
#include "../../clients/sampler/sfz.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    lockstep::sampler::SfzLimits limits;
    limits.max_regions = 256; // keep each run short; the limit path is exercised too
    const auto r = lockstep::sampler::parse_sfz(
        std::string_view(reinterpret_cast<const char*>(data), size), limits);
    if (r.ok) {
        for (const auto& g : r.document.regions) {
            if (g.sample.empty() || g.lokey > g.hikey || g.lovel > g.hivel ||
                g.seq_position > g.seq_length || g.lorand >= g.hirand || g.hikey > 127) {
                std::abort();
            }
        }
        if (r.document.regions.size() > limits.max_regions) {
            std::abort();
        }
    } else if (r.error.empty() || !r.document.regions.empty()) {
        std::abort();
    }
    return 0;
}
