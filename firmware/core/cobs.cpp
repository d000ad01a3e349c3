#include "core/cobs.hpp"

namespace lockstep::fw {

std::size_t cobs_encode(const std::uint8_t* in, std::size_t size, std::uint8_t* out,
                        std::size_t cap) {
    if (cap == 0) {
        return 0;
    }
    std::size_t code_pos = 0; // where the current run's code byte goes
    std::size_t o = 1;
    unsigned code = 1; // 1 + bytes in the current run
    for (std::size_t i = 0; i < size; ++i) {
        if (in[i] == 0) {
            out[code_pos] = static_cast<std::uint8_t>(code);
            if (o >= cap) {
                return 0;
            }
            code_pos = o++;
            code = 1;
            continue;
        }
        if (o >= cap) {
            return 0;
        }
        out[o++] = in[i];
        if (++code == 0xFF) {
            out[code_pos] = 0xFF;
            if (i + 1 == size) {
                return o; // a full run at the end needs no empty run after it
            }
            if (o >= cap) {
                return 0;
            }
            code_pos = o++;
            code = 1;
        }
    }
    out[code_pos] = static_cast<std::uint8_t>(code);
    return o;
}

bool cobs_decode(const std::uint8_t* in, std::size_t size, std::uint8_t* out, std::size_t cap,
                 std::size_t& out_size) {
    if (size == 0) {
        return false;
    }
    std::size_t i = 0;
    std::size_t o = 0;
    while (i < size) {
        const unsigned code = in[i++];
        if (code == 0 || code - 1 > size - i) {
            return false;
        }
        for (unsigned k = 1; k < code; ++k) {
            const std::uint8_t byte = in[i++];
            if (byte == 0 || o >= cap) {
                return false;
            }
            out[o++] = byte;
        }
        // A run shorter than 254 stands for its bytes and a zero, except the last one.
        if (code != 0xFF && i < size) {
            if (o >= cap) {
                return false;
            }
            out[o++] = 0;
        }
    }
    out_size = o;
    return true;
}

} // namespace lockstep::fw
