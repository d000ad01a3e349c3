// Test audio files built in memory: WAV (PCM, float, extensible, any format tag), AIFF and
// AIFF-C, so tests need no binary fixtures. Thread: test thread only.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

// g++ 12 reports a false -Wstringop-overflow for vector<uint8_t>::push_back after inlining
// (GCC bug 106199); test code only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif

namespace lockstep::sampler::test {

using Bytes = std::vector<std::uint8_t>;

inline void put_le(Bytes& b, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) {
        b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
}
inline void put_be(Bytes& b, std::uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) {
        b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
}
inline void put_id(Bytes& b, const char* id) {
    b.insert(b.end(), id, id + 4);
}

struct WavSpec {
    std::uint32_t channels = 1;
    std::uint32_t rate = 48000;
    std::uint32_t bits = 16;
    std::uint32_t tag = 1;       // 1 PCM, 3 float, 0x11 IMA ADPCM, ...
    bool extensible = false;     // WAVE_FORMAT_EXTENSIBLE with `tag` as the sub-format
    std::int64_t data_size = -1; // override the data chunk's declared size
};

// `samples` interleaved in [-1, 1]; encoded per spec (PCM 16/24/32, float 32).
inline Bytes wav(const std::vector<float>& samples, WavSpec s = {}) {
    Bytes data;
    for (float x : samples) {
        if (s.tag == 3 && s.bits == 32) {
            std::uint32_t u = 0;
            std::memcpy(&u, &x, 4);
            put_le(data, u, 4);
        } else if (s.tag == 1) {
            const double scale = std::ldexp(1.0, static_cast<int>(s.bits) - 1);
            auto v = static_cast<std::int64_t>(std::lround(x * scale));
            v = std::min<std::int64_t>(v, static_cast<std::int64_t>(scale) - 1);
            put_le(data, static_cast<std::uint64_t>(v), static_cast<int>(s.bits / 8));
        } else {
            put_le(data, 0, static_cast<int>(s.bits / 8)); // opaque codec payload
        }
    }
    Bytes b;
    put_id(b, "RIFF");
    put_le(b, 0, 4); // patched below
    put_id(b, "WAVE");
    put_id(b, "fmt ");
    put_le(b, s.extensible ? 40 : 16, 4);
    put_le(b, s.extensible ? 0xFFFE : s.tag, 2);
    put_le(b, s.channels, 2);
    put_le(b, s.rate, 4);
    const std::uint32_t align = s.channels * (s.bits / 8);
    put_le(b, s.rate * align, 4);
    put_le(b, align, 2);
    put_le(b, s.bits, 2);
    if (s.extensible) {
        put_le(b, 22, 2);
        put_le(b, s.bits, 2);
        put_le(b, s.channels == 2 ? 3 : 4, 4);
        put_le(b, s.tag, 2);
        const std::uint8_t tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                       0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
        b.insert(b.end(), tail, tail + 14);
    }
    put_id(b, "data");
    put_le(b, s.data_size >= 0 ? static_cast<std::uint64_t>(s.data_size) : data.size(), 4);
    b.insert(b.end(), data.begin(), data.end());
    if (data.size() % 2 != 0) {
        b.push_back(0);
    }
    const std::uint64_t riff = b.size() - 8;
    for (int i = 0; i < 4; ++i) {
        b[4 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(riff >> (8 * i));
    }
    return b;
}

// AIFF (aifc=false) or AIFF-C with `codec` ("NONE", "sowt", "fl32", "ima4", ...), 16-bit
// big-endian PCM payload (or float for fl32).
inline Bytes aiff(const std::vector<float>& samples, std::uint32_t channels, std::uint32_t rate,
                  bool aifc, const char* codec = "NONE") {
    const bool fl = std::strcmp(codec, "fl32") == 0;
    const bool sowt = std::strcmp(codec, "sowt") == 0;
    const std::uint32_t bits = fl ? 32 : 16;
    Bytes ssnd;
    put_le(ssnd, 0, 8); // offset, block size
    for (float x : samples) {
        if (fl) {
            std::uint32_t u = 0;
            std::memcpy(&u, &x, 4);
            put_be(ssnd, u, 4);
        } else {
            const auto v =
                static_cast<std::uint16_t>(static_cast<std::int16_t>(std::lround(x * 32767)));
            if (sowt) {
                put_le(ssnd, v, 2);
            } else {
                put_be(ssnd, v, 2);
            }
        }
    }
    Bytes comm;
    put_be(comm, channels, 2);
    put_be(comm, samples.size() / channels, 4);
    put_be(comm, bits, 2);
    // 80-bit extended rate
    int exponent = 0;
    std::uint64_t mantissa = rate;
    while ((mantissa & (std::uint64_t{1} << 63)) == 0) {
        mantissa <<= 1;
        ++exponent;
    }
    put_be(comm, static_cast<std::uint64_t>(16383 + 63 - exponent), 2);
    put_be(comm, mantissa, 8);
    if (aifc) {
        put_id(comm, codec);
        comm.push_back(0); // empty pascal string + pad
        comm.push_back(0);
    }
    Bytes b;
    put_id(b, "FORM");
    put_be(b, 0, 4);
    put_id(b, aifc ? "AIFC" : "AIFF");
    if (aifc) {
        put_id(b, "FVER");
        put_be(b, 4, 4);
        put_be(b, 0xA2805140, 4);
    }
    put_id(b, "COMM");
    put_be(b, comm.size(), 4);
    b.insert(b.end(), comm.begin(), comm.end());
    put_id(b, "SSND");
    put_be(b, ssnd.size(), 4);
    b.insert(b.end(), ssnd.begin(), ssnd.end());
    const std::uint64_t form = b.size() - 8;
    for (int i = 0; i < 4; ++i) {
        b[4 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(form >> (8 * (3 - i)));
    }
    return b;
}

inline void write_file(const std::filesystem::path& p, const Bytes& b) {
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
inline void write_text(const std::filesystem::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary);
    out << s;
}

// Values representable exactly in 16-bit PCM read back by libsndfile (x / 32768).
inline std::vector<float> ramp(std::size_t frames, std::uint32_t channels = 1) {
    std::vector<float> v(frames * channels);
    for (std::size_t i = 0; i < v.size(); ++i) {
        v[i] = static_cast<float>((i % 2000) + 1) / 32768.0F;
    }
    return v;
}

// A fresh directory under the system temp dir, removed on destruction.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "lockstep-sampler-XXXXXX").string();
        path = ::mkdtemp(tmpl.data());
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

} // namespace lockstep::sampler::test
