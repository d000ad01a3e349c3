#include "autosample_files.hpp"

#include "service/state_file.hpp"

#include <sndfile.h>

#include <cerrno>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace lockstep::capture::autosample {

bool write_sample(const std::string& path, const SampleAudio& audio, SampleFormat sample,
                  const SampleMeta& meta, std::string& error) {
    std::string why;
    // Written, fsync'ed and renamed into place (then the directory fsync'ed): a file under
    // its final name is complete, after a crash or power loss too (resume relies on it).
    const auto w = service::write_file_atomically(path, [&](int fd) -> int {
        SF_INFO info{};
        info.samplerate = static_cast<int>(audio.rate);
        info.channels = static_cast<int>(audio.channels);
        info.format = SF_FORMAT_WAV | (sample == SampleFormat::pcm16   ? SF_FORMAT_PCM_16
                                       : sample == SampleFormat::pcm24 ? SF_FORMAT_PCM_24
                                                                       : SF_FORMAT_FLOAT);
        SNDFILE* f = sf_open_fd(fd, SFM_WRITE, &info, SF_FALSE); // fd stays open
        if (f == nullptr) {
            why = sf_strerror(nullptr);
            return EINVAL;
        }
        SF_BROADCAST_INFO bext{};
        std::snprintf(bext.description, sizeof bext.description, "%s", meta.description.c_str());
        std::snprintf(bext.originator, sizeof bext.originator, "lockstep-capture");
        bext.time_reference_low = static_cast<std::uint32_t>(meta.time_reference & 0xffffffffU);
        bext.time_reference_high = static_cast<std::uint32_t>(meta.time_reference >> 32);
        bext.version = 1;
        sf_command(f, SFC_SET_BROADCAST_INFO, &bext, sizeof bext);
        if (meta.root_key >= 0) {
            SF_INSTRUMENT inst{};
            inst.basenote = static_cast<char>(meta.root_key);
            inst.gain = 1;
            inst.key_lo = static_cast<char>(meta.key_lo);
            inst.key_hi = static_cast<char>(meta.key_hi);
            inst.velocity_lo = static_cast<char>(meta.vel_lo);
            inst.velocity_hi = static_cast<char>(meta.vel_hi);
            inst.loop_count = 0;
            if (sf_command(f, SFC_SET_INSTRUMENT, &inst, sizeof inst) != SF_TRUE) {
                why = "libsndfile refused the smpl chunk";
                sf_close(f);
                return EINVAL;
            }
        }
        if (sample != SampleFormat::float32) {
            sf_command(f, SFC_SET_CLIPPING, nullptr, SF_TRUE);
        }
        const auto frames = static_cast<sf_count_t>(audio.frames());
        const sf_count_t wrote = sf_writef_float(f, audio.samples.data(), frames);
        const int err = errno;
        const int close_err = sf_close(f);
        if (wrote != frames || close_err != 0) {
            why = "write failed";
            return err != 0 ? err : EIO;
        }
        return 0;
    });
    if (!w) {
        error = path + ": " + (why.empty() ? w.message : why + " (" + w.message + ")");
        return false;
    }
    return true;
}

bool read_sample(const std::string& path, SampleAudio& audio, SampleMeta& meta,
                 std::string& error) {
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    if (f == nullptr) {
        error = path + ": " + sf_strerror(nullptr);
        return false;
    }
    audio.channels = static_cast<std::uint32_t>(info.channels);
    audio.rate = static_cast<std::uint32_t>(info.samplerate);
    audio.samples.assign(static_cast<std::size_t>(info.frames * info.channels), 0.0F);
    const sf_count_t got = sf_readf_float(f, audio.samples.data(), info.frames);
    SF_BROADCAST_INFO bext{};
    if (sf_command(f, SFC_GET_BROADCAST_INFO, &bext, sizeof bext) == SF_TRUE) {
        meta.time_reference =
            (std::uint64_t{bext.time_reference_high} << 32) | bext.time_reference_low;
        meta.description.assign(bext.description,
                                strnlen(bext.description, sizeof bext.description));
    }
    SF_INSTRUMENT inst{};
    meta.root_key = -1;
    if (sf_command(f, SFC_GET_INSTRUMENT, &inst, sizeof inst) == SF_TRUE) {
        meta.root_key = inst.basenote;
        meta.key_lo = inst.key_lo;
        meta.key_hi = inst.key_hi;
        meta.vel_lo = inst.velocity_lo;
        meta.vel_hi = inst.velocity_hi;
    }
    sf_close(f);
    if (got != info.frames) {
        error = path + ": short read";
        return false;
    }
    return true;
}

std::optional<std::int64_t> value_of(const std::string& description, const std::string& key) {
    const std::string k = key + "=";
    std::size_t p = 0;
    while ((p = description.find(k, p)) != std::string::npos) {
        if (p == 0 || description[p - 1] == ' ') {
            const char* s = description.c_str() + p + k.size();
            char* end = nullptr;
            const long long v = std::strtoll(s, &end, 10);
            if (end != s) {
                return v;
            }
        }
        p += k.size();
    }
    return std::nullopt;
}

} // namespace lockstep::capture::autosample
