#include "sample_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace lockstep::sampler {
namespace {

using Bytes = std::span<const std::uint8_t>;

std::uint32_t le16(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8);
}
std::uint32_t le32(const std::uint8_t* p) {
    return le16(p) | (le16(p + 2) << 16);
}
std::uint64_t le64(const std::uint8_t* p) {
    return static_cast<std::uint64_t>(le32(p)) | (static_cast<std::uint64_t>(le32(p + 4)) << 32);
}
std::uint32_t be16(const std::uint8_t* p) {
    return (static_cast<std::uint32_t>(p[0]) << 8) | static_cast<std::uint32_t>(p[1]);
}
std::uint32_t be32(const std::uint8_t* p) {
    return (be16(p) << 16) | be16(p + 2);
}
bool is_id(const std::uint8_t* p, const char* id) {
    return std::memcmp(p, id, 4) == 0;
}

// Printable chunk id / codec tag for messages.
std::string printable_id(const std::uint8_t* p) {
    std::string s;
    for (int i = 0; i < 4; ++i) {
        s += (p[i] >= 0x20 && p[i] < 0x7f) ? static_cast<char>(p[i]) : '?';
    }
    return s;
}

SampleCheck refuse(std::string reason) {
    SampleCheck c;
    c.reason = std::move(reason);
    return c;
}

const char* wav_codec_name(std::uint32_t tag) {
    switch (tag) {
    case 0x0002:
        return "Microsoft ADPCM";
    case 0x0006:
        return "A-law";
    case 0x0007:
        return "mu-law";
    case 0x0011:
        return "IMA ADPCM";
    case 0x0031:
        return "GSM 6.10";
    case 0x0040:
        return "G.721 ADPCM";
    case 0x0050:
        return "MPEG";
    case 0x0055:
        return "MPEG layer 3";
    default:
        return nullptr;
    }
}

std::string codec_refusal(const char* container, std::uint32_t tag) {
    const char* name = wav_codec_name(tag);
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%04X", tag);
    return std::string(container) + ": " + (name != nullptr ? name : "codec") + " (format tag " +
           hex + ") is not supported; only PCM and IEEE float are loaded";
}

// Shared limits on what any container declared.
SampleCheck check_limits(const SampleInfo& info, const SampleLimits& limits) {
    if (info.channels == 0) {
        return refuse("declares 0 channels");
    }
    if (info.channels > limits.max_channels) {
        return refuse("has " + std::to_string(info.channels) + " channels; at most " +
                      std::to_string(limits.max_channels) +
                      " are loaded (the output is stereo; split or mix the file down first)");
    }
    if (info.rate < limits.min_rate || info.rate > limits.max_rate) {
        return refuse("sample rate " + std::to_string(info.rate) + " Hz is outside " +
                      std::to_string(limits.min_rate) + "-" + std::to_string(limits.max_rate) +
                      " Hz");
    }
    if (info.frames == 0) {
        return refuse("contains no audio frames");
    }
    const double seconds = static_cast<double>(info.frames) / info.rate;
    if (seconds > limits.max_seconds) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "is %.1f s long; the limit is %.0f s", seconds,
                      limits.max_seconds);
        return refuse(buf);
    }
    SampleCheck ok;
    ok.ok = true;
    ok.info = info;
    return ok;
}

// KSDATAFORMAT_SUBTYPE_* GUIDs end with these 14 bytes; the first two are the format tag.
constexpr std::uint8_t ks_guid_tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                           0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};

SampleCheck check_wav(Bytes b, const SampleLimits& limits, bool rf64) {
    const char* container = rf64 ? "RF64" : "WAV";
    const std::uint64_t size = b.size();
    // The RIFF size is not trusted (streaming writers leave 0 or ~0 there): chunks are
    // bounded by the file itself.
    const std::uint64_t riff_end = size;
    bool have_fmt = false;
    bool have_data = false;
    bool have_ds64 = false;
    std::uint64_t ds64_data = 0;
    std::uint32_t tag = 0, channels = 0, rate = 0, block_align = 0, bits = 0;
    std::uint64_t data_bytes = 0;
    std::uint64_t pos = 12;
    int chunks = 0;
    while (pos + 8 <= riff_end) {
        if (++chunks > 4096) {
            return refuse(std::string(container) + ": more than 4096 chunks");
        }
        const std::uint8_t* h = b.data() + pos;
        const std::uint64_t declared = le32(h + 4);
        std::uint64_t chunk_size = declared;
        const std::uint64_t body = pos + 8;
        const std::uint64_t available = size - body;
        if (is_id(h, "ds64")) {
            if (!rf64 || chunks != 1) {
                return refuse(std::string(container) + ": unexpected ds64 chunk");
            }
            if (declared < 28 || declared > available) {
                return refuse("RF64: ds64 chunk is truncated");
            }
            ds64_data = le64(h + 8 + 8);
            have_ds64 = true;
        } else if (is_id(h, "fmt ")) {
            if (have_fmt) {
                return refuse(std::string(container) + ": two fmt chunks");
            }
            if (declared < 16 || declared > available) {
                return refuse(std::string(container) + ": fmt chunk is truncated or too short");
            }
            const std::uint8_t* f = h + 8;
            tag = le16(f);
            channels = le16(f + 2);
            rate = le32(f + 4);
            block_align = le16(f + 12);
            bits = le16(f + 14);
            if (tag == 0xFFFE) {
                if (declared < 40 || le16(f + 16) < 22) {
                    return refuse(std::string(container) +
                                  ": WAVE_FORMAT_EXTENSIBLE fmt chunk is too short");
                }
                const std::uint32_t valid_bits = le16(f + 18);
                const std::uint8_t* guid = f + 24;
                if (std::memcmp(guid + 2, ks_guid_tail, sizeof ks_guid_tail) != 0) {
                    return refuse(std::string(container) +
                                  ": WAVE_FORMAT_EXTENSIBLE with an unknown sub-format GUID");
                }
                tag = le16(guid);
                if (valid_bits > bits) {
                    return refuse(std::string(container) + ": valid bits exceed the sample size");
                }
            }
            have_fmt = true;
        } else if (is_id(h, "data")) {
            if (!have_fmt) {
                return refuse(std::string(container) + ": data chunk before the fmt chunk");
            }
            if (rf64 && declared == 0xFFFFFFFFULL) {
                if (!have_ds64) {
                    return refuse("RF64: data size is in a ds64 chunk that is missing");
                }
                chunk_size = ds64_data;
            }
            if (chunk_size > available) {
                return refuse(std::string(container) + ": truncated (the data chunk declares " +
                              std::to_string(chunk_size) + " bytes, the file holds " +
                              std::to_string(available) + ")");
            }
            data_bytes = chunk_size;
            have_data = true;
            break; // what follows the audio does not matter to the decoder
        }
        if (chunk_size > available) {
            return refuse(std::string(container) + ": truncated chunk '" + printable_id(h) + "'");
        }
        pos = body + chunk_size + (chunk_size & 1U);
    }
    if (!have_fmt) {
        return refuse(std::string(container) + ": no fmt chunk (truncated or not a WAV file)");
    }
    if (tag != 1 && tag != 3) {
        return refuse(codec_refusal(container, tag));
    }
    if (tag == 1 && bits != 8 && bits != 16 && bits != 24 && bits != 32) {
        return refuse(std::string(container) + ": PCM with " + std::to_string(bits) +
                      " bits per sample is not supported (8, 16, 24, 32)");
    }
    if (tag == 3 && bits != 32 && bits != 64) {
        return refuse(std::string(container) + ": float with " + std::to_string(bits) +
                      " bits per sample is not supported (32, 64)");
    }
    if (!have_data) {
        return refuse(std::string(container) + ": no data chunk (truncated?)");
    }
    if (channels == 0 || block_align != channels * (bits / 8)) {
        return refuse(std::string(container) + ": block align " + std::to_string(block_align) +
                      " does not match " + std::to_string(channels) + " channels of " +
                      std::to_string(bits) + " bits");
    }
    SampleInfo info;
    info.format = rf64 ? SampleFormat::rf64 : SampleFormat::wav;
    info.channels = channels;
    info.rate = rate;
    info.bits = bits;
    info.is_float = tag == 3;
    info.frames = data_bytes / block_align;
    SampleCheck c = check_limits(info, limits);
    if (!c.ok) {
        c.reason = std::string(container) + ": " + c.reason;
    }
    return c;
}

// 80-bit IEEE extended (AIFF's sample rate) to an integer rate; 0 when not an integer in
// range.
std::uint32_t extended_to_rate(const std::uint8_t* p) {
    const std::uint32_t exponent = be16(p) & 0x7FFFU;
    if ((p[0] & 0x80U) != 0) {
        return 0; // negative
    }
    std::uint64_t mantissa = 0;
    for (int i = 0; i < 8; ++i) {
        mantissa = (mantissa << 8) | p[2 + i];
    }
    if (mantissa == 0) {
        return 0;
    }
    const int shift = static_cast<int>(exponent) - 16383 - 63;
    if (shift > 0 || shift < -63) {
        return 0; // too large or below 1
    }
    const std::uint64_t whole = mantissa >> (-shift);
    if ((whole << (-shift)) != mantissa || whole > 0xFFFFFFFFULL) {
        return 0; // fractional or huge
    }
    return static_cast<std::uint32_t>(whole);
}

SampleCheck check_aiff(Bytes b, const SampleLimits& limits, bool aifc) {
    const char* container = aifc ? "AIFF-C" : "AIFF";
    const std::uint64_t size = b.size();
    const std::uint64_t form_end = std::min<std::uint64_t>(size, 8ULL + be32(b.data() + 4));
    bool have_comm = false;
    bool have_ssnd = false;
    std::uint32_t channels = 0, bits = 0, rate = 0;
    std::uint64_t frames = 0;
    bool is_float = false;
    std::uint64_t ssnd_bytes = 0;
    std::uint64_t pos = 12;
    int chunks = 0;
    while (pos + 8 <= form_end) {
        if (++chunks > 4096) {
            return refuse(std::string(container) + ": more than 4096 chunks");
        }
        const std::uint8_t* h = b.data() + pos;
        const std::uint64_t chunk_size = be32(h + 4);
        const std::uint64_t body = pos + 8;
        const std::uint64_t available = size - body;
        if (chunk_size > available) {
            return refuse(std::string(container) + ": truncated chunk '" + printable_id(h) + "'");
        }
        const std::uint8_t* c = h + 8;
        if (is_id(h, "COMM")) {
            if (have_comm) {
                return refuse(std::string(container) + ": two COMM chunks");
            }
            if (chunk_size < (aifc ? 22U : 18U)) {
                return refuse(std::string(container) + ": COMM chunk is too short");
            }
            channels = be16(c);
            frames = be32(c + 2);
            bits = be16(c + 6);
            rate = extended_to_rate(c + 8);
            if (aifc) {
                const std::uint8_t* codec = c + 18;
                if (is_id(codec, "NONE") || is_id(codec, "sowt") || is_id(codec, "twos")) {
                    is_float = false;
                } else if (is_id(codec, "fl32") || is_id(codec, "FL32")) {
                    is_float = true;
                    if (bits != 32) {
                        return refuse("AIFF-C: fl32 with a sample size of " + std::to_string(bits) +
                                      " bits");
                    }
                } else {
                    return refuse("AIFF-C: compression '" + printable_id(codec) +
                                  "' is not supported; only NONE, sowt and fl32 are loaded");
                }
            }
            have_comm = true;
        } else if (is_id(h, "SSND")) {
            if (chunk_size < 8) {
                return refuse(std::string(container) + ": SSND chunk is too short");
            }
            const std::uint64_t offset = be32(c);
            if (offset > chunk_size - 8) {
                return refuse(std::string(container) + ": SSND offset beyond its chunk");
            }
            ssnd_bytes = chunk_size - 8 - offset;
            have_ssnd = true;
        }
        pos = body + chunk_size + (chunk_size & 1U);
    }
    if (!have_comm) {
        return refuse(std::string(container) + ": no COMM chunk (truncated or not AIFF)");
    }
    if (!is_float && (bits == 0 || bits > 32)) {
        return refuse(std::string(container) + ": " + std::to_string(bits) +
                      " bits per sample is not supported (1-32)");
    }
    if (rate == 0) {
        return refuse(std::string(container) + ": the sample rate is not a positive integer");
    }
    if (frames > 0) {
        if (!have_ssnd) {
            return refuse(std::string(container) + ": no SSND chunk (truncated?)");
        }
        const std::uint64_t bytes_per_frame =
            static_cast<std::uint64_t>(channels) * ((bits + 7) / 8);
        if (bytes_per_frame == 0 || ssnd_bytes / bytes_per_frame < frames) {
            return refuse(std::string(container) + ": truncated (COMM declares " +
                          std::to_string(frames) + " frames, SSND holds fewer)");
        }
    }
    SampleInfo info;
    info.format = aifc ? SampleFormat::aifc : SampleFormat::aiff;
    info.channels = channels;
    info.rate = rate;
    info.bits = bits;
    info.is_float = is_float;
    info.frames = frames;
    SampleCheck r = check_limits(info, limits);
    if (!r.ok) {
        r.reason = std::string(container) + ": " + r.reason;
    }
    return r;
}

SampleCheck check_flac(Bytes b, const SampleLimits& limits) {
    const std::uint64_t size = b.size();
    std::uint64_t pos = 4;
    bool first = true;
    SampleInfo info;
    info.format = SampleFormat::flac;
    for (int blocks = 0;; ++blocks) {
        if (blocks > 1024) {
            return refuse("FLAC: more than 1024 metadata blocks");
        }
        if (pos + 4 > size) {
            return refuse("FLAC: truncated in the metadata");
        }
        const std::uint8_t* h = b.data() + pos;
        const bool last = (h[0] & 0x80U) != 0;
        const std::uint32_t type = h[0] & 0x7FU;
        const std::uint64_t length = (static_cast<std::uint64_t>(h[1]) << 16) |
                                     (static_cast<std::uint64_t>(h[2]) << 8) | h[3];
        if (length > size - pos - 4) {
            return refuse("FLAC: truncated metadata block");
        }
        if (first) {
            if (type != 0 || length != 34) {
                return refuse("FLAC: the first metadata block is not a STREAMINFO");
            }
            const std::uint8_t* s = h + 4;
            const std::uint32_t min_block = be16(s);
            const std::uint32_t max_block = be16(s + 2);
            info.rate = (static_cast<std::uint32_t>(s[10]) << 12) |
                        (static_cast<std::uint32_t>(s[11]) << 4) | (s[12] >> 4);
            info.channels = ((s[12] >> 1) & 0x07U) + 1;
            info.bits = (((s[12] & 0x01U) << 4) | (s[13] >> 4)) + 1;
            info.frames = (static_cast<std::uint64_t>(s[13] & 0x0FU) << 32) | be32(s + 14);
            if (min_block < 16 || max_block < min_block) {
                return refuse("FLAC: STREAMINFO block sizes are invalid (" +
                              std::to_string(min_block) + ", " + std::to_string(max_block) + ")");
            }
            if (info.rate == 0) {
                return refuse("FLAC: STREAMINFO sample rate is 0");
            }
            if (info.bits < 4 || info.bits > 24) {
                return refuse("FLAC: " + std::to_string(info.bits) +
                              " bits per sample is not supported (4-24)");
            }
            if (info.frames == 0) {
                return refuse("FLAC: STREAMINFO does not give the length (total samples 0)");
            }
            first = false;
        } else if (type == 0) {
            return refuse("FLAC: a second STREAMINFO block");
        } else if (type == 127) {
            return refuse("FLAC: invalid metadata block type 127");
        }
        pos += 4 + length;
        if (last) {
            break;
        }
    }
    if (pos + 2 > size || b[pos] != 0xFF || (b[pos + 1] & 0xFEU) != 0xF8) {
        return refuse("FLAC: no audio frame after the metadata (truncated?)");
    }
    SampleCheck r = check_limits(info, limits);
    if (!r.ok) {
        r.reason = "FLAC: " + r.reason;
    }
    return r;
}

} // namespace

const char* format_name(SampleFormat f) {
    switch (f) {
    case SampleFormat::wav:
        return "WAV";
    case SampleFormat::rf64:
        return "RF64";
    case SampleFormat::aiff:
        return "AIFF";
    case SampleFormat::aifc:
        return "AIFF-C";
    case SampleFormat::flac:
        return "FLAC";
    }
    return "?";
}

SampleCheck check_sample(std::span<const std::uint8_t> bytes, const SampleLimits& limits) {
    if (bytes.size() > limits.max_file_bytes) {
        return refuse("file is " + std::to_string(bytes.size()) + " bytes; the limit is " +
                      std::to_string(limits.max_file_bytes));
    }
    if (bytes.size() < 12) {
        return refuse("file is too short to be WAV, AIFF or FLAC (" + std::to_string(bytes.size()) +
                      " bytes)");
    }
    const std::uint8_t* p = bytes.data();
    if ((is_id(p, "RIFF") || is_id(p, "RF64")) && is_id(p + 8, "WAVE")) {
        return check_wav(bytes, limits, is_id(p, "RF64"));
    }
    if (is_id(p, "FORM") && (is_id(p + 8, "AIFF") || is_id(p + 8, "AIFC"))) {
        return check_aiff(bytes, limits, is_id(p + 8, "AIFC"));
    }
    if (is_id(p, "fLaC")) {
        return check_flac(bytes, limits);
    }
    if (is_id(p, "RIFX")) {
        return refuse("big-endian RIFX WAV is not supported");
    }
    if (is_id(p, "OggS")) {
        return refuse("Ogg files (Vorbis, Opus, Ogg FLAC) are not supported");
    }
    return refuse("not a WAV, RF64, AIFF or FLAC file (starts with '" + printable_id(p) + "')");
}

} // namespace lockstep::sampler
