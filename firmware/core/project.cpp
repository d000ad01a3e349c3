#include "core/project.hpp"

namespace lockstep::fw::project {

namespace {

constexpr std::uint8_t magic[4] = {'L', 'S', 'P', 'J'};
constexpr std::uint8_t flag_song_mode = 1;
constexpr std::uint8_t flag_song_loop = 2;

void put16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
}
void put32(std::uint8_t* p, std::uint32_t v) {
    for (unsigned i = 0; i < 4; ++i) {
        p[i] = static_cast<std::uint8_t>(v >> (8 * i));
    }
}
std::uint16_t get16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
std::uint32_t get32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
           (std::uint32_t{p[3]} << 24);
}

} // namespace

const char* to_string(Status status) {
    switch (status) {
    case Status::ok:
        return "ok";
    case Status::bad_length:
        return "wrong length";
    case Status::bad_magic:
        return "not a project file";
    case Status::bad_version:
        return "unknown format version";
    case Status::bad_tracks:
        return "unsupported track count";
    case Status::bad_crc:
        return "CRC mismatch (corrupt file)";
    case Status::bad_field:
        return "field out of range";
    }
    return "?";
}

std::uint32_t crc32(const std::uint8_t* data, std::size_t size, std::uint32_t crc) {
    // Bitwise: small, no table in flash; a project is a few KB and saved rarely.
    crc = ~crc;
    for (std::size_t i = 0; i < size; ++i) {
        crc ^= data[i];
        for (unsigned b = 0; b < 8; ++b) {
            crc = (crc >> 1) ^ (0xEDB88320U & (0U - (crc & 1U)));
        }
    }
    return ~crc;
}

std::size_t save(const Model& model, std::uint8_t* out, std::size_t capacity) {
    const std::size_t size = file_size(outputs);
    if (out == nullptr || capacity < size) {
        return 0;
    }
    for (unsigned i = 0; i < 4; ++i) {
        out[i] = magic[i];
    }
    put16(out + 4, format_version);
    put16(out + 6, static_cast<std::uint16_t>(outputs));
    put32(out + 8, static_cast<std::uint32_t>(size));
    put32(out + 12, model.tempo_bpm100);
    put16(out + 16, model.swing);
    put16(out + 18, model.mutes);
    out[20] = model.selected;
    out[21] = static_cast<std::uint8_t>((model.song_mode ? flag_song_mode : 0) |
                                        (model.song_loop ? flag_song_loop : 0));
    out[22] = model.chain_length;
    out[23] = 0;
    std::uint8_t* p = out + 24;
    for (const ChainSlot& s : model.chain) {
        *p++ = s.pattern;
        *p++ = s.repeats;
    }
    for (const Pattern& pattern : model.patterns) {
        for (unsigned t = 0; t < outputs; ++t) {
            put16(p, pattern.on[t]);
            put16(p + 2, pattern.accent[t]);
            p += 4;
        }
    }
    put32(p, crc32(out, size - 4));
    return size;
}

Status check(const std::uint8_t* data, std::size_t size) {
    if (data == nullptr || size < 12) {
        return Status::bad_length;
    }
    for (unsigned i = 0; i < 4; ++i) {
        if (data[i] != magic[i]) {
            return Status::bad_magic;
        }
    }
    const std::uint16_t version = get16(data + 4);
    if (version == 0 || version > format_version) {
        return Status::bad_version;
    }
    const std::uint16_t tracks = get16(data + 6);
    if (tracks == 0 || tracks > outputs) {
        return Status::bad_tracks;
    }
    if (get32(data + 8) != file_size(tracks) || size != file_size(tracks)) {
        return Status::bad_length;
    }
    if (crc32(data, size - 4) != get32(data + size - 4)) {
        return Status::bad_crc;
    }
    const std::uint32_t tempo = get32(data + 12);
    const std::uint16_t track_bits = static_cast<std::uint16_t>((1U << tracks) - 1U);
    if (tempo < min_tempo_bpm100 || tempo > max_tempo_bpm100 || get16(data + 16) > max_swing ||
        (get16(data + 18) & ~track_bits) != 0 || data[20] >= pattern_count ||
        (data[21] & ~(flag_song_mode | flag_song_loop)) != 0 || data[22] > chain_capacity ||
        data[23] != 0) {
        return Status::bad_field;
    }
    for (unsigned s = 0; s < chain_capacity; ++s) {
        const std::uint8_t pattern = data[24 + 2 * s];
        const std::uint8_t repeats = data[25 + 2 * s];
        if (pattern >= pattern_count || repeats < 1 || repeats > max_repeats) {
            return Status::bad_field;
        }
    }
    // Every value of the pattern bits is valid (16 steps fill 16 bits).
    return Status::ok;
}

Status load(Sequencer& sequencer, const std::uint8_t* data, std::size_t size) {
    const Status status = check(data, size);
    if (status != Status::ok) {
        return status;
    }
    const unsigned tracks = get16(data + 6);
    Model& m = sequencer.model_for_load();
    m.tempo_bpm100 = get32(data + 12);
    m.swing = get16(data + 16);
    m.mutes = get16(data + 18);
    m.selected = data[20];
    m.song_mode = (data[21] & flag_song_mode) != 0;
    m.song_loop = (data[21] & flag_song_loop) != 0;
    m.chain_length = data[22];
    const std::uint8_t* p = data + 24;
    for (ChainSlot& s : m.chain) {
        s.pattern = *p++;
        s.repeats = *p++;
    }
    for (Pattern& pattern : m.patterns) {
        for (unsigned t = 0; t < outputs; ++t) {
            if (t < tracks) {
                pattern.on[t] = get16(p);
                pattern.accent[t] = get16(p + 2);
                p += 4;
            } else {
                pattern.on[t] = 0;
                pattern.accent[t] = 0;
            }
        }
    }
    sequencer.loaded();
    return Status::ok;
}

} // namespace lockstep::fw::project
