#include "writer.hpp"

#include "rt/simd.hpp"

#include <sndfile.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lockstep::capture {

struct TakeWriter::File {
    int fd = -1;
    SNDFILE* sf = nullptr;
    std::string path;
    std::uint64_t reserved = 0; // bytes allocated from the start of the file
    bool can_reserve = true;
    std::uint64_t flushed = 0;      // writeback started for bytes before this
    std::uint64_t prev_flushed = 0; // writeback waited for (and cache dropped) before this
    bool written = false;           // libsndfile has written the header for data

    ~File() {
        if (sf != nullptr) {
            sf_close(sf);
        }
        if (fd >= 0) {
            ::close(fd);
        }
    }
};

const char* extension(FileFormat f) noexcept {
    return f == FileFormat::flac ? "flac" : "wav";
}

bool expand_template(std::string_view tmpl, std::uint64_t take, std::time_t when, Frame frame,
                     std::string& out, std::string& error) {
    out.clear();
    std::tm tm{};
    localtime_r(&when, &tm);
    for (std::size_t i = 0; i < tmpl.size(); ++i) {
        const char ch = tmpl[i];
        if (ch == '/') {
            error = "a take name cannot contain '/'";
            return false;
        }
        if (ch != '{') {
            out += ch;
            continue;
        }
        const std::size_t close = tmpl.find('}', i);
        if (close == std::string_view::npos) {
            error = "unclosed '{' in the take name template";
            return false;
        }
        const std::string_view key = tmpl.substr(i + 1, close - i - 1);
        char buf[32];
        if (key == "n") {
            std::snprintf(buf, sizeof buf, "%03llu", static_cast<unsigned long long>(take));
        } else if (key == "date") {
            std::strftime(buf, sizeof buf, "%Y%m%d", &tm);
        } else if (key == "time") {
            std::strftime(buf, sizeof buf, "%H%M%S", &tm);
        } else if (key == "frame") {
            std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(frame));
        } else {
            error = "unknown placeholder {" + std::string(key) +
                    "} in the take name template (known: {n} {date} {time} {frame})";
            return false;
        }
        out += buf;
        i = close;
    }
    if (out.empty()) {
        error = "empty take name";
        return false;
    }
    return true;
}

namespace {

int sf_format(const WriterOptions& o) {
    int major = o.format == FileFormat::flac ? SF_FORMAT_FLAC : SF_FORMAT_RF64;
    int minor = SF_FORMAT_FLOAT;
    if (o.sample == SampleFormat::pcm16) {
        minor = SF_FORMAT_PCM_16;
    } else if (o.sample == SampleFormat::pcm24) {
        minor = SF_FORMAT_PCM_24;
    }
    return major | minor;
}

bool is_disk_full(int err) {
    return err == ENOSPC || err == EDQUOT;
}

} // namespace

std::unique_ptr<TakeWriter> TakeWriter::open(const WriterOptions& options, const std::string& base,
                                             Frame first_frame, std::string& error) {
    std::unique_ptr<TakeWriter> w(new TakeWriter());
    w->options_ = options;
    w->raw_ = options.format == FileFormat::wav && options.sample == SampleFormat::float32 &&
              std::endian::native == std::endian::little;
    w->bytes_per_sample_ = options.sample == SampleFormat::pcm16   ? 2
                           : options.sample == SampleFormat::pcm24 ? 3
                                                                   : 4;
    const std::uint32_t nfiles = options.per_channel ? options.channels : 1;
    const std::uint32_t file_channels = options.per_channel ? 1 : options.channels;
    if (options.format == FileFormat::flac &&
        (file_channels > 8 || options.sample == SampleFormat::float32)) {
        error = "FLAC holds 16 or 24-bit samples and at most 8 channels per file";
        return nullptr;
    }
    if (options.reserve_bytes > 0) {
        // The whole take reserves about reserve_bytes, spread over its files.
        w->options_.reserve_bytes =
            std::max<std::uint64_t>(options.reserve_bytes / nfiles, 64u << 10);
    }
    if (options.flush_bytes > 0) {
        w->options_.flush_bytes = std::max<std::uint64_t>(options.flush_bytes / nfiles, 1u << 20);
    }
    auto cleanup = [&] {
        w->files_.clear();
        for (const auto& p : w->paths_) {
            ::unlink(p.c_str());
        }
    };
    for (std::uint32_t k = 0; k < nfiles; ++k) {
        std::string path = base;
        if (options.per_channel) {
            char buf[16];
            std::snprintf(buf, sizeof buf, "_ch%03u", k + 1);
            path += buf;
        }
        path += ".";
        path += extension(options.format);
        auto f = std::make_unique<File>();
        f->path = path;
        f->fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (f->fd < 0) {
            error = path + ": " + std::strerror(errno);
            cleanup();
            return nullptr;
        }
        w->paths_.push_back(path);
        SF_INFO info{};
        info.samplerate = static_cast<int>(options.rate);
        info.channels = static_cast<int>(file_channels);
        info.format = sf_format(options);
        f->sf = sf_open_fd(f->fd, SFM_WRITE, &info, SF_FALSE);
        if (f->sf == nullptr) {
            error = path + ": " + sf_strerror(nullptr);
            cleanup();
            return nullptr;
        }
        if (options.format == FileFormat::wav) {
            sf_command(f->sf, SFC_RF64_AUTO_DOWNGRADE, nullptr, SF_TRUE);
            sf_command(f->sf, SFC_SET_ADD_PEAK_CHUNK, nullptr, SF_FALSE);
            SF_BROADCAST_INFO bext{};
            std::snprintf(bext.description, sizeof bext.description, "lockstep-capture take");
            std::snprintf(bext.originator, sizeof bext.originator, "lockstep-capture");
            const std::time_t now = std::time(nullptr);
            std::tm tm{};
            localtime_r(&now, &tm);
            char date[16];
            char tod[16];
            std::strftime(date, sizeof date, "%Y-%m-%d", &tm);
            std::strftime(tod, sizeof tod, "%H:%M:%S", &tm);
            std::memcpy(bext.origination_date, date, sizeof bext.origination_date);
            std::memcpy(bext.origination_time, tod, sizeof bext.origination_time);
            const auto ref = static_cast<std::uint64_t>(std::max<Frame>(first_frame, 0));
            bext.time_reference_low = static_cast<std::uint32_t>(ref & 0xffffffffU);
            bext.time_reference_high = static_cast<std::uint32_t>(ref >> 32);
            bext.version = 1;
            if (sf_command(f->sf, SFC_SET_BROADCAST_INFO, &bext, sizeof bext) != SF_TRUE) {
                error = path + ": cannot set the bext chunk: " + sf_strerror(f->sf);
                cleanup();
                return nullptr;
            }
        } else {
            const std::string comment = "time_reference=" + std::to_string(first_frame);
            sf_set_string(f->sf, SF_STR_COMMENT, comment.c_str());
        }
        if (options.sample != SampleFormat::float32) {
            sf_command(f->sf, SFC_SET_CLIPPING, nullptr, SF_TRUE);
        }
        if (w->reserve(*f, 0) == WriteStatus::disk_full) {
            error = path + ": " + std::strerror(ENOSPC);
            w->files_.push_back(std::move(f));
            cleanup();
            return nullptr;
        }
        w->files_.push_back(std::move(f));
    }
    if (!options.per_channel) {
        w->interleaved_.resize(options.chunk_frames * options.channels);
    }
    w->zeros_.assign(options.chunk_frames * (options.per_channel ? 1 : options.channels), 0.0F);
    return w;
}

TakeWriter::~TakeWriter() {
    close();
}

// Keeps at least half of reserve_bytes allocated beyond the file's current end plus
// `more_bytes`: ENOSPC shows up here, before a write could fail half-way.
WriteStatus TakeWriter::reserve(File& f, std::uint64_t more_bytes) {
    if (options_.reserve_bytes == 0 || !f.can_reserve) {
        return WriteStatus::ok;
    }
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) {
        return WriteStatus::ok;
    }
    const std::uint64_t need =
        static_cast<std::uint64_t>(st.st_size) + more_bytes + options_.reserve_bytes / 2;
    if (f.reserved >= need) {
        return WriteStatus::ok;
    }
    const std::uint64_t target = need + options_.reserve_bytes / 2;
    const int rc = ::fallocate(f.fd, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(target));
    if (rc == 0) {
        f.reserved = target;
        return WriteStatus::ok;
    }
    if (is_disk_full(errno)) {
        error_ = f.path + ": " + std::strerror(errno);
        return WriteStatus::disk_full;
    }
    f.can_reserve = false; // EOPNOTSUPP and friends: write without reservation
    return WriteStatus::ok;
}

// Starts writeback of each `flush_bytes` window as soon as it is complete and waits for
// the window before it, dropping it from the page cache: dirty pages stay bounded, so the
// kernel never throttles the disk thread for seconds when its dirty limit is reached
// (at 512 channels we write ~100 MB/s), and a long take does not fill the page cache.
void TakeWriter::flush(File& f) {
    struct stat st {};
    if (options_.flush_bytes == 0 || ::fstat(f.fd, &st) != 0) {
        return;
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size < f.flushed + options_.flush_bytes) {
        return;
    }
    ::sync_file_range(f.fd, static_cast<off_t>(f.flushed), static_cast<off_t>(size - f.flushed),
                      SYNC_FILE_RANGE_WRITE);
    if (f.flushed > f.prev_flushed) {
        ::sync_file_range(f.fd, static_cast<off_t>(f.prev_flushed),
                          static_cast<off_t>(f.flushed - f.prev_flushed),
                          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                              SYNC_FILE_RANGE_WAIT_AFTER);
        ::posix_fadvise(f.fd, static_cast<off_t>(f.prev_flushed),
                        static_cast<off_t>(f.flushed - f.prev_flushed), POSIX_FADV_DONTNEED);
    }
    f.prev_flushed = f.flushed;
    f.flushed = size;
}

WriteStatus TakeWriter::fail(File& f, std::size_t written, std::size_t wanted) {
    const int err = errno;
    error_ = f.path + ": writing " + std::to_string(wanted) + " frames failed" +
             (written > 0 ? " after " + std::to_string(written) : std::string()) + ": " +
             sf_strerror(f.sf);
    return is_disk_full(err) || std::strstr(sf_strerror(f.sf), "No space") != nullptr
               ? WriteStatus::disk_full
               : WriteStatus::error;
}

// Planar to interleaved, four channels by four frames at a time (a 4x4 transpose): the
// plain strided loop cost about six instructions per sample.
void TakeWriter::interleave(std::span<const float* const> channels, std::size_t from, std::size_t k,
                            float* out) const {
    const std::size_t nch = options_.channels;
    std::size_t c = 0;
    for (; c + 4 <= nch; c += 4) {
        const float* p0 = channels[c] + from;
        const float* p1 = channels[c + 1] + from;
        const float* p2 = channels[c + 2] + from;
        const float* p3 = channels[c + 3] + from;
        std::size_t i = 0;
        for (; i + 4 <= k; i += 4) {
            simd::F4 r0 = simd::load4(p0 + i);
            simd::F4 r1 = simd::load4(p1 + i);
            simd::F4 r2 = simd::load4(p2 + i);
            simd::F4 r3 = simd::load4(p3 + i);
            simd::transpose4(r0, r1, r2, r3);
            float* o = out + i * nch + c;
            simd::store4(o, r0);
            simd::store4(o + nch, r1);
            simd::store4(o + 2 * nch, r2);
            simd::store4(o + 3 * nch, r3);
        }
        for (; i < k; ++i) {
            float* o = out + i * nch + c;
            o[0] = p0[i];
            o[1] = p1[i];
            o[2] = p2[i];
            o[3] = p3[i];
        }
    }
    for (; c < nch; ++c) {
        const float* in = channels[c] + from;
        for (std::size_t i = 0; i < k; ++i) {
            out[i * nch + c] = in[i];
        }
    }
}

// Float32 WAV on a little-endian host is written raw: the bytes are the file's samples,
// and libsndfile's float path would also scan every sample for the PEAK chunk, which
// Debian 12's libsndfile (1.2.0) cannot switch off for RF64. The PEAK chunk it keeps
// writing (with no peaks, since it never saw the samples) is renamed JUNK after every
// header write (hide_peak), so no reader is told a wrong peak.
bool TakeWriter::write_frames(File& f, const float* data, std::size_t k) {
    const std::size_t ch = options_.per_channel ? 1 : options_.channels;
    if (raw_) {
        const bool first = !f.written;
        const auto bytes = static_cast<sf_count_t>(k * ch * sizeof(float));
        if (sf_write_raw(f.sf, data, bytes) != bytes) {
            return false;
        }
        f.written = true;
        if (first) {
            hide_peak(f);
        }
        return true;
    }
    f.written = true;
    return sf_writef_float(f.sf, data, static_cast<sf_count_t>(k)) == static_cast<sf_count_t>(k);
}

// Renames the PEAK chunk of `f`'s header to JUNK (see write_frames). Reads the header
// through our own descriptor; stops at the data chunk.
void TakeWriter::hide_peak(File& f) const {
    if (!raw_) {
        return;
    }
    std::array<unsigned char, 4096> h{};
    const ssize_t n = ::pread(f.fd, h.data(), h.size(), 0);
    if (n < 12 || std::memcmp(h.data() + 8, "WAVE", 4) != 0) {
        return;
    }
    std::size_t pos = 12;
    while (pos + 8 <= static_cast<std::size_t>(n)) {
        const unsigned char* id = h.data() + pos;
        const std::uint32_t size =
            static_cast<std::uint32_t>(id[4]) | static_cast<std::uint32_t>(id[5]) << 8 |
            static_cast<std::uint32_t>(id[6]) << 16 | static_cast<std::uint32_t>(id[7]) << 24;
        if (std::memcmp(id, "data", 4) == 0) {
            return;
        }
        if (std::memcmp(id, "PEAK", 4) == 0) {
            (void)::pwrite(f.fd, "JUNK", 4, static_cast<off_t>(pos));
            return;
        }
        pos += 8 + size + (size & 1U);
    }
}

WriteStatus TakeWriter::write(std::span<const float* const> channels, std::size_t frames) {
    if (closed_) {
        return WriteStatus::error;
    }
    const std::uint32_t nch = options_.channels;
    std::size_t done = 0;
    while (done < frames) {
        const std::size_t k = std::min(frames - done, options_.chunk_frames);
        if (options_.per_channel) {
            for (std::uint32_t c = 0; c < nch; ++c) {
                File& f = *files_[c];
                if (auto s = reserve(f, k * bytes_per_sample_); s != WriteStatus::ok) {
                    return s;
                }
                if (!write_frames(f, channels[c] + done, k)) {
                    return fail(f, 0, k);
                }
                flush(f);
            }
        } else {
            File& f = *files_[0];
            if (auto s = reserve(f, k * nch * bytes_per_sample_); s != WriteStatus::ok) {
                return s;
            }
            float* out = interleaved_.data();
            interleave(channels, done, k, out);
            if (!write_frames(f, out, k)) {
                return fail(f, 0, k);
            }
            flush(f);
        }
        done += k;
        frames_ += k;
    }
    return WriteStatus::ok;
}

WriteStatus TakeWriter::write_silence(std::uint64_t frames) {
    std::vector<const float*> ptrs(options_.channels, zeros_.data());
    while (frames > 0) {
        const std::size_t k =
            static_cast<std::size_t>(std::min<std::uint64_t>(frames, options_.chunk_frames));
        if (options_.per_channel) {
            if (auto s = write(ptrs, k); s != WriteStatus::ok) {
                return s;
            }
        } else {
            File& f = *files_[0];
            if (auto s = reserve(f, k * options_.channels * bytes_per_sample_);
                s != WriteStatus::ok) {
                return s;
            }
            if (!write_frames(f, zeros_.data(), k)) {
                return fail(f, 0, k);
            }
            frames_ += k;
        }
        frames -= k;
    }
    return WriteStatus::ok;
}

bool TakeWriter::update_header() {
    if (closed_ || options_.format != FileFormat::wav) {
        return !closed_;
    }
    for (auto& f : files_) {
        sf_command(f->sf, SFC_UPDATE_HEADER_NOW, nullptr, 0);
        hide_peak(*f);
    }
    return true;
}

bool TakeWriter::close() {
    if (closed_) {
        return true;
    }
    closed_ = true;
    bool ok = true;
    for (auto& f : files_) {
        if (f->sf != nullptr) {
            if (sf_close(f->sf) != 0) {
                ok = false;
                if (error_.empty()) {
                    error_ = f->path + ": " + sf_strerror(nullptr);
                }
            }
            f->sf = nullptr;
            hide_peak(*f);
        }
        if (f->fd >= 0) {
            // Give back the space reserved beyond the end (growing by one byte and
            // shrinking back makes every file system free blocks past the end).
            struct stat st {};
            if (f->reserved > 0 && ::fstat(f->fd, &st) == 0) {
                if (::ftruncate(f->fd, st.st_size + 1) == 0) {
                    (void)::ftruncate(f->fd, st.st_size);
                }
            }
            ::close(f->fd);
            f->fd = -1;
        }
    }
    return ok;
}

} // namespace lockstep::capture
