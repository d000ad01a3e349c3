// One take on disk: a multichannel file or one file per channel, written through
// libsndfile. WAV (float32 by default, 16/24-bit on request) is RF64 with automatic
// downgrade: a plain RIFF/WAVE file (with a JUNK chunk reserving room for ds64) until the
// data passes 4 GiB, RF64 after. The BWF bext chunk's time reference is the JACK frame
// of the file's first sample. FLAC (16/24-bit, at most 8 channels per file) on request.
//
// Crash safety: update_header() rewrites the header in place so that a reader sees every
// frame written so far; the disk thread calls it several times a second. Disk full:
// space is reserved ahead of the data with fallocate(2) (where the file system supports
// it), so a full disk is noticed before a write fails and the take ends with a valid file
// holding every frame written; a write that fails anyway is reported the same way.
//
// Thread: the disk thread (or a test). Nothing here is real-time.
#pragma once

#include "time/frame_clock.hpp"

#include <cstdint>
#include <ctime>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lockstep::capture {

enum class FileFormat : std::uint8_t { wav, flac };
enum class SampleFormat : std::uint8_t { pcm16, pcm24, float32 };

struct WriterOptions {
    FileFormat format = FileFormat::wav;
    SampleFormat sample = SampleFormat::float32;
    bool per_channel = false; // one mono file per channel
    std::uint32_t channels = 2;
    std::uint32_t rate = 48000;
    std::uint64_t reserve_bytes = 8u << 20; // per file, kept allocated ahead of the data; 0: off
    std::size_t chunk_frames = 1024;        // interleaving buffer (multichannel files)
    std::uint64_t flush_bytes = 32u
                                << 20; // writeback window (whole take); 0: leave it to the kernel
};

// File extension for a format ("wav", "flac").
const char* extension(FileFormat f) noexcept;

// Expands a take name template: {n} take number (3 digits), {date} YYYYMMDD, {time}
// HHMMSS (local time `when`), {frame} the first sample's frame. Returns false (with
// `error`) for an unknown placeholder, an unclosed brace or a '/'.
bool expand_template(std::string_view tmpl, std::uint64_t take, std::time_t when, Frame frame,
                     std::string& out, std::string& error);

enum class WriteStatus : std::uint8_t { ok, disk_full, error };

class TakeWriter {
public:
    // Creates the take's file(s) from `base` (a path without extension): base.wav, or
    // base_ch001.wav ... for per-channel takes. Never overwrites: fails if a file exists.
    // Returns null with `error` set on failure (nothing is left behind then).
    static std::unique_ptr<TakeWriter> open(const WriterOptions& options, const std::string& base,
                                            Frame first_frame, std::string& error);
    ~TakeWriter();
    TakeWriter(const TakeWriter&) = delete;
    TakeWriter& operator=(const TakeWriter&) = delete;

    // Appends `frames` frames; channels[c] points at channel c's samples (planar).
    WriteStatus write(std::span<const float* const> channels, std::size_t frames);
    // Appends `frames` frames of silence.
    WriteStatus write_silence(std::uint64_t frames);
    // Brings the header(s) up to date with the frames written so far.
    bool update_header();
    // Finalizes and closes the file(s); idempotent. False (with error()) when that failed.
    bool close();

    std::uint64_t frames() const noexcept { return frames_; }
    const std::vector<std::string>& paths() const noexcept { return paths_; }
    const std::string& error() const noexcept { return error_; }

private:
    struct File;
    TakeWriter() = default;
    WriteStatus reserve(File& f, std::uint64_t more_bytes);
    WriteStatus fail(File& f, std::size_t written, std::size_t wanted);
    void flush(File& f);
    void interleave(std::span<const float* const> channels, std::size_t from, std::size_t k,
                    float* out) const;
    bool write_frames(File& f, const float* data, std::size_t k);
    void hide_peak(File& f) const;

    WriterOptions options_;
    std::vector<std::unique_ptr<File>> files_;
    std::vector<std::string> paths_;
    std::vector<float> interleaved_;
    std::vector<float> zeros_;
    std::uint64_t frames_ = 0;
    std::uint32_t bytes_per_sample_ = 4;
    std::string error_;
    bool closed_ = false;
    bool raw_ = false; // float32 WAV on a little-endian host: sf_write_raw (writer.cpp)
};

} // namespace lockstep::capture
