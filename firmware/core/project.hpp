#pragma once
// The SD-card project file: the whole sequencer model (patterns, song chain, tempo, swing,
// mutes, selection), versioned and checked. All fields little-endian; offsets in bytes; T is
// the number of tracks in the file (the saving build's `outputs`).
//
//   offset        size  field
//   0             4     magic "LSPJ" (4C 53 50 4A)
//   4             2     format version: 1
//   6             2     T: tracks, 1..16; a build loads files with T <= outputs (its
//                       tracks >= T come out empty)
//   8             4     L: total file length in bytes, = 284 + 256*T
//   12            4     tempo, BPM*100, 1000..100000
//   16            2     swing, 0..1000
//   18            2     mutes, bit t = track t muted; bits >= T must be 0
//   20            1     selected pattern, 0..63
//   21            1     flags: bit 0 song mode, bit 1 song loop; other bits 0
//   22            1     chain length, 0..128
//   23            1     reserved, 0
//   24            256   chain: 128 slots of (pattern 0..63, repeats 1..64); all 128 slots
//                       are stored and checked, those past the length are unused
//   280           256*T patterns 0..63, each T tracks of (u16 on, u16 accent): bit k =
//                       step k
//   L-4           4     CRC-32 (IEEE 802.3: reflected polynomial 0xEDB88320, initial and
//                       final value 0xFFFFFFFF) of bytes 0..L-5
//
// load() is all or nothing: it checks everything (the exact length, magic, version, CRC,
// every field's range) before it changes the model, so a rejected file leaves it untouched.
// Main loop only (the caller does the SD card I/O).
#include "core/sequencer.hpp"

#include <cstddef>
#include <cstdint>

namespace lockstep::fw::project {

inline constexpr std::uint16_t format_version = 1;
inline constexpr std::size_t header_size = 280;

inline constexpr std::size_t file_size(unsigned tracks) {
    return header_size + std::size_t{pattern_count} * tracks * 4U + 4U;
}
inline constexpr std::size_t max_file_size = file_size(outputs);

enum class Status : std::uint8_t {
    ok,
    bad_length,  // shorter than a header, or not the length the header says
    bad_magic,   // not a project file
    bad_version, // 0, or a future version this build cannot read
    bad_tracks,  // 0, or more tracks than this build has
    bad_crc,     // corrupt
    bad_field,   // a field out of range
};
const char* to_string(Status status);

// CRC-32 (IEEE), continuing from `crc` (0 to start).
std::uint32_t crc32(const std::uint8_t* data, std::size_t size, std::uint32_t crc = 0);

// Writes the model; returns the bytes written (file_size(outputs)) or 0 if capacity is short.
std::size_t save(const Model& model, std::uint8_t* out, std::size_t capacity);

// Checks a file without loading it.
Status check(const std::uint8_t* data, std::size_t size);

// Replaces the sequencer's model with the file's if check() passes (the undo history is
// cleared); otherwise changes nothing.
Status load(Sequencer& sequencer, const std::uint8_t* data, std::size_t size);

} // namespace lockstep::fw::project
