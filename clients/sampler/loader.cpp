#include "loader.hpp"

#include <sndfile.h>
#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <system_error>

namespace lockstep::sampler {
namespace {

// libsndfile reads the checked bytes from memory, never the file again: what it decodes is
// exactly what check_sample() accepted.
struct MemoryFile {
    std::span<const std::uint8_t> bytes;
    sf_count_t pos = 0;
};

sf_count_t vio_length(void* user) {
    return static_cast<sf_count_t>(static_cast<MemoryFile*>(user)->bytes.size());
}
sf_count_t vio_seek(sf_count_t offset, int whence, void* user) {
    auto* m = static_cast<MemoryFile*>(user);
    const auto size = static_cast<sf_count_t>(m->bytes.size());
    sf_count_t next = offset;
    if (whence == SEEK_CUR) {
        next = m->pos + offset;
    } else if (whence == SEEK_END) {
        next = size + offset;
    }
    if (next < 0 || next > size) {
        return -1;
    }
    m->pos = next;
    return next;
}
sf_count_t vio_read(void* ptr, sf_count_t count, void* user) {
    auto* m = static_cast<MemoryFile*>(user);
    const auto size = static_cast<sf_count_t>(m->bytes.size());
    const sf_count_t n = std::max<sf_count_t>(0, std::min(count, size - m->pos));
    if (n > 0) {
        std::memcpy(ptr, m->bytes.data() + m->pos, static_cast<std::size_t>(n));
    }
    m->pos += n;
    return n;
}
sf_count_t vio_write(const void*, sf_count_t, void*) {
    return 0;
}
sf_count_t vio_tell(void* user) {
    return static_cast<MemoryFile*>(user)->pos;
}

DecodedSample decode_failure(std::string error) {
    DecodedSample d;
    d.error = std::move(error);
    return d;
}

} // namespace

DecodedSample decode_sample(std::span<const std::uint8_t> bytes, std::uint32_t rate,
                            const SampleLimits& limits, std::string name) {
    const SampleCheck check = check_sample(bytes, limits);
    if (!check.ok) {
        return decode_failure(check.reason);
    }
    MemoryFile mem{bytes, 0};
    SF_VIRTUAL_IO vio{vio_length, vio_seek, vio_read, vio_write, vio_tell};
    SF_INFO sfinfo{};
    SNDFILE* sf = sf_open_virtual(&vio, SFM_READ, &sfinfo, &mem);
    if (sf == nullptr) {
        return decode_failure(std::string("decoder refused the file: ") + sf_strerror(nullptr));
    }
    const SampleInfo& info = check.info;
    if (static_cast<std::uint32_t>(sfinfo.channels) != info.channels ||
        static_cast<std::uint32_t>(sfinfo.samplerate) != info.rate) {
        sf_close(sf);
        return decode_failure("decoder disagrees with the header (channels or rate)");
    }
    const std::uint64_t frames = std::min<std::uint64_t>(
        info.frames, static_cast<std::uint64_t>(std::max<sf_count_t>(0, sfinfo.frames)));
    if (frames == 0) {
        sf_close(sf);
        return decode_failure("decoder found no audio frames");
    }
    std::vector<float> pcm(frames * info.channels);
    const sf_count_t got = sf_readf_float(sf, pcm.data(), static_cast<sf_count_t>(frames));
    sf_close(sf);
    if (got != static_cast<sf_count_t>(frames)) {
        return decode_failure("decoder stopped at frame " + std::to_string(got) + " of " +
                              std::to_string(frames) + " (corrupt or truncated audio)");
    }
    DecodedSample d;
    d.info = info;
    for (float& x : pcm) {
        if (!std::isfinite(x)) {
            x = 0.0F;
            ++d.non_finite;
        }
    }
    if (rate != 0 && rate != info.rate) {
        // soxr_oneshot converts the whole signal and flushes the filter: frame 0 of the
        // output is aligned with frame 0 of the input (the filter's delay is removed).
        const double ratio = static_cast<double>(rate) / info.rate;
        const auto out_frames = static_cast<std::size_t>(std::ceil(frames * ratio));
        std::vector<float> out(out_frames * info.channels);
        const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
        const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
        std::size_t done = 0;
        const soxr_error_t err =
            soxr_oneshot(info.rate, rate, info.channels, pcm.data(), frames, nullptr, out.data(),
                         out_frames, &done, &io, &quality, nullptr);
        if (err != nullptr) {
            return decode_failure(std::string("sample-rate conversion failed: ") + err);
        }
        out.resize(done * info.channels);
        pcm = std::move(out);
    }
    d.sample = SampleData::make(pcm, info.channels, std::move(name));
    d.ok = true;
    return d;
}

DecodedSample load_sample_file(const std::filesystem::path& path, std::uint32_t rate,
                               const SampleLimits& limits) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        return decode_failure(ec ? ec.message() : "not a regular file (or missing)");
    }
    const std::uint64_t size = std::filesystem::file_size(path, ec);
    if (ec) {
        return decode_failure(ec.message());
    }
    if (size > limits.max_file_bytes) {
        return decode_failure("file is " + std::to_string(size) + " bytes; the limit is " +
                              std::to_string(limits.max_file_bytes));
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return decode_failure("cannot open: " + std::string(std::strerror(errno)));
    }
    // Read at most limit + 1 bytes: the file may grow between the size check and the read.
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size) + 1);
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    bytes.resize(static_cast<std::size_t>(in.gcount()));
    if (in.bad()) {
        return decode_failure("read error");
    }
    return decode_sample(bytes, rate, limits, path.string());
}

Region make_region(const SfzRegion& r, std::uint32_t rate) {
    Region g;
    g.lokey = r.lokey;
    g.hikey = r.hikey;
    g.lovel = r.lovel;
    g.hivel = r.hivel;
    g.keycenter = r.pitch_keycenter;
    g.one_shot = r.loop_mode == LoopMode::one_shot;
    g.seq_length = r.seq_length;
    g.seq_position = r.seq_position;
    g.lorand = static_cast<float>(r.lorand);
    g.hirand = static_cast<float>(r.hirand);
    g.group = r.group;
    g.off_by = r.off_by;
    float pl = 1.0F, pr = 1.0F;
    pan_gains(r.pan, pl, pr);
    const double volume = std::pow(10.0, r.volume / 20.0);
    g.gain_l = static_cast<float>(volume * pl);
    g.gain_r = static_cast<float>(volume * pr);
    g.cents = r.tune + 100 * r.transpose;
    const auto frames = [rate](double seconds) {
        return static_cast<std::uint32_t>(std::llround(seconds * rate));
    };
    g.attack = frames(r.ampeg_attack);
    g.decay = frames(r.ampeg_decay);
    g.release = frames(r.ampeg_release);
    g.sustain = static_cast<float>(r.ampeg_sustain / 100.0);
    g.output = r.output;
    return g;
}

KitStore::KitStore(std::uint32_t rate, LoadLimits limits, int group_outs)
    : rate_(rate), limits_(std::move(limits)), group_outs_(group_outs) {}

KitStore::~KitStore() = default;

LoadReport KitStore::load_kit(const std::filesystem::path& sfz) {
    return load_kit_with(sfz, slots_);
}

LoadReport KitStore::clear_kit() {
    return build_and_publish({}, {}, slots_, "");
}

LoadReport KitStore::set_rate(std::uint32_t rate) {
    LoadReport report;
    if (rate == rate_) {
        report.ok = true;
        return report;
    }
    rate_ = rate;
    std::vector<std::string> warnings;
    std::array<Slot, slot_count> slots = slots_;
    bool any = !source_.empty();
    for (Slot& slot : slots) {
        if (!slot.sample) {
            continue;
        }
        any = true;
        DecodedSample d = load_sample_file(slot.sample->path, rate_, limits_.sample);
        if (!d.ok) {
            warnings.push_back("slot dropped: " + slot.sample->path + ": " + d.error);
            slot.sample.reset();
        } else {
            slot.sample = std::move(d.sample);
        }
    }
    if (!any) {
        report.ok = true;
        return report;
    }
    report = source_.empty() ? build_and_publish({}, {}, slots, "") : load_kit_with(source_, slots);
    report.warnings.insert(report.warnings.begin(), warnings.begin(), warnings.end());
    return report;
}

LoadReport KitStore::load_kit_with(const std::filesystem::path& sfz,
                                   const std::array<Slot, slot_count>& slots) {
    LoadReport report;
    std::error_code ec;
    const std::uint64_t size = std::filesystem::file_size(sfz, ec);
    if (ec) {
        report.error = sfz.string() + ": " + ec.message();
        return report;
    }
    if (size > limits_.sfz.max_bytes) {
        report.error = sfz.string() + ": file is " + std::to_string(size) +
                       " bytes; the limit is " + std::to_string(limits_.sfz.max_bytes);
        return report;
    }
    std::ifstream in(sfz, std::ios::binary);
    if (!in) {
        report.error = sfz.string() + ": cannot open";
        return report;
    }
    std::string text(static_cast<std::size_t>(size) + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    SfzResult parsed = parse_sfz(text, limits_.sfz);
    if (!parsed.ok) {
        report.error = sfz.string() + ": " + parsed.error;
        return report;
    }
    report.warnings = parsed.document.warnings;
    if (parsed.document.warnings_dropped > 0) {
        report.warnings.push_back(std::to_string(parsed.document.warnings_dropped) +
                                  " more warnings not shown");
    }
    // One line for the whole load, however many regions route beyond the group pairs.
    std::size_t beyond = 0;
    const SfzRegion* first_beyond = nullptr;
    for (const SfzRegion& r : parsed.document.regions) {
        if (r.output > group_outs_) {
            if (beyond++ == 0) {
                first_beyond = &r;
            }
        }
    }
    if (first_beyond != nullptr) {
        report.warnings.push_back(
            std::to_string(beyond) + (beyond == 1 ? " region routes" : " regions route") +
            " to a group output beyond --group-outs " + std::to_string(group_outs_) +
            " (first: line " + std::to_string(first_beyond->line) +
            ", output=" + std::to_string(first_beyond->output) + "): played on the main pair");
    }
    const std::filesystem::path dir = sfz.parent_path();
    std::map<std::string, std::shared_ptr<const SampleData>> by_path;
    std::vector<std::shared_ptr<const SampleData>> samples;
    std::vector<Region> regions;
    regions.reserve(parsed.document.regions.size());
    std::uint64_t total = 0;
    for (const SfzRegion& r : parsed.document.regions) {
        const std::filesystem::path file = dir / r.sample;
        const std::string key = file.lexically_normal().string();
        auto it = by_path.find(key);
        if (it == by_path.end()) {
            DecodedSample d = load_sample_file(file, rate_, limits_.sample);
            if (!d.ok) {
                report.error = sfz.string() + ": line " + std::to_string(r.line) + ": sample " +
                               r.sample + ": " + d.error;
                return report;
            }
            if (d.non_finite > 0) {
                report.warnings.push_back(r.sample + ": " + std::to_string(d.non_finite) +
                                          " NaN/infinite values replaced by silence");
            }
            total += d.sample->audio_bytes();
            if (total > limits_.max_kit_bytes) {
                report.error = sfz.string() + ": the kit's decoded audio exceeds " +
                               std::to_string(limits_.max_kit_bytes >> 20) + " MiB";
                return report;
            }
            it = by_path.emplace(key, std::move(d.sample)).first;
            samples.push_back(it->second);
        }
        Region g = make_region(r, rate_);
        g.data = it->second.get();
        regions.push_back(g);
    }
    LoadReport built =
        build_and_publish(std::move(regions), std::move(samples), slots, sfz.string());
    built.warnings = std::move(report.warnings);
    return built;
}

LoadReport KitStore::load_slot(int slot, const std::filesystem::path& file) {
    LoadReport report;
    if (slot < 0 || slot >= slot_count) {
        report.error = "slot " + std::to_string(slot) + " is out of range (0-127)";
        return report;
    }
    DecodedSample d = load_sample_file(file, rate_, limits_.sample);
    if (!d.ok) {
        report.error = file.string() + ": " + d.error;
        return report;
    }
    std::array<Slot, slot_count> slots = slots_;
    slots[static_cast<std::size_t>(slot)].sample = std::move(d.sample);
    report = build_and_publish(sfz_regions_, sfz_samples_, slots, source_);
    if (report.ok && d.non_finite > 0) {
        report.warnings.push_back(std::to_string(d.non_finite) +
                                  " NaN/infinite values replaced by silence");
    }
    return report;
}

LoadReport KitStore::clear_slot(int slot) {
    LoadReport report;
    if (slot < 0 || slot >= slot_count) {
        report.error = "slot " + std::to_string(slot) + " is out of range (0-127)";
        return report;
    }
    std::array<Slot, slot_count> slots = slots_;
    slots[static_cast<std::size_t>(slot)] = Slot{};
    return build_and_publish(sfz_regions_, sfz_samples_, slots, source_);
}

LoadReport KitStore::set_slot(int slot, const SlotSettings& settings) {
    LoadReport report;
    if (slot < 0 || slot >= slot_count) {
        report.error = "slot " + std::to_string(slot) + " is out of range (0-127)";
        return report;
    }
    if (!(settings.pan >= -100.0 && settings.pan <= 100.0) ||
        !(settings.gain_db >= -144.0 && settings.gain_db <= 24.0) || settings.tune < -9600 ||
        settings.tune > 9600 || settings.output < 0 || settings.output > max_sfz_output) {
        report.error = "slot settings out of range (gain -144..24 dB, pan -100..100, tune "
                       "-9600..9600 cents, output 0..16)";
        return report;
    }
    std::array<Slot, slot_count> slots = slots_;
    const bool new_output =
        slots[static_cast<std::size_t>(slot)].settings.output != settings.output;
    slots[static_cast<std::size_t>(slot)].settings = settings;
    report = build_and_publish(sfz_regions_, sfz_samples_, slots, source_);
    if (report.ok && new_output && settings.output > group_outs_) {
        report.warnings.push_back("slot " + std::to_string(slot) + ": output " +
                                  std::to_string(settings.output) + " is beyond --group-outs " +
                                  std::to_string(group_outs_) + ": played on the main pair");
    }
    return report;
}

LoadReport KitStore::build_and_publish(std::vector<Region> sfz_regions,
                                       std::vector<std::shared_ptr<const SampleData>> sfz_samples,
                                       const std::array<Slot, slot_count>& slots,
                                       std::string source) {
    LoadReport report;
    auto kit = std::make_shared<Kit>();
    kit->rate = rate_;
    kit->source = source;
    kit->regions = sfz_regions;
    kit->samples = sfz_samples;
    for (int s = 0; s < slot_count; ++s) {
        const Slot& slot = slots[static_cast<std::size_t>(s)];
        if (!slot.sample) {
            continue;
        }
        SfzRegion r;
        r.lokey = r.hikey = r.pitch_keycenter = static_cast<std::uint8_t>(s);
        r.volume = slot.settings.gain_db;
        r.pan = slot.settings.pan;
        r.tune = slot.settings.tune;
        r.group = slot.settings.choke;
        r.off_by = slot.settings.choke;
        r.loop_mode = slot.settings.one_shot ? LoopMode::one_shot : LoopMode::gated;
        r.output = static_cast<std::uint8_t>(slot.settings.output);
        Region g = make_region(r, rate_);
        g.data = slot.sample.get();
        g.slot = static_cast<std::int16_t>(s);
        kit->regions.push_back(g);
        if (std::find(kit->samples.begin(), kit->samples.end(), slot.sample) ==
            kit->samples.end()) {
            kit->samples.push_back(slot.sample);
        }
    }
    kit->regions.shrink_to_fit();
    kit->samples.shrink_to_fit();
    kit->index();
    if (kit->sample_bytes() > limits_.max_kit_bytes) {
        report.error = "the kit's decoded audio exceeds " +
                       std::to_string(limits_.max_kit_bytes >> 20) + " MiB";
        return report;
    }
    report.ok = true;
    report.regions = kit->regions.size();
    report.samples = kit->samples.size();
    report.sample_bytes = kit->sample_bytes();
    report.kit_bytes = kit->memory_bytes();
    // Commit: nothing below fails except by std::bad_alloc.
    sfz_regions_ = std::move(sfz_regions);
    sfz_samples_ = std::move(sfz_samples);
    source_ = std::move(source);
    slots_ = slots;
    std::shared_ptr<const Kit> k = std::move(kit);
    alive_.push_back(k);
    current_ = k;
    published_.publish(std::make_unique<const KitRef>(KitRef{k.get(), k}));
    collect();
    return report;
}

void KitStore::publish(std::shared_ptr<Kit> kit) {
    kit->index();
    sfz_regions_ = kit->regions;
    sfz_samples_ = kit->samples;
    source_ = kit->source;
    slots_ = {};
    std::shared_ptr<const Kit> k = std::move(kit);
    alive_.push_back(k);
    current_ = k;
    published_.publish(std::make_unique<const KitRef>(KitRef{k.get(), k}));
    collect();
}

std::size_t KitStore::collect() {
    published_.collect();
    const std::size_t before = alive_.size();
    // use_count 1: only alive_ holds it (not current here, its KitRef freed by Published,
    // so no cycle can start a voice on it); voices 0: no voice plays from it any more.
    std::erase_if(alive_, [](const std::shared_ptr<const Kit>& k) {
        return k.use_count() == 1 && k->voices.load(std::memory_order_acquire) == 0;
    });
    return before - alive_.size();
}

} // namespace lockstep::sampler
