#include "autosample_session.hpp"

#include "autosample_files.hpp"
#include "service/state_file.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace lockstep::capture::autosample {

namespace {

std::string db(float linear) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f dBFS",
                  linear > 1e-6F ? 20.0 * std::log10(static_cast<double>(linear)) : -120.0);
    return buf;
}

std::string describe(const NoteId& id) {
    return note_name(id.note) + " (" + std::to_string(id.note) + ") v" +
           std::to_string(id.velocity) + (id.rr > 0 ? " rr" + std::to_string(id.rr) : "");
}

std::string ll(std::int64_t v) {
    return std::to_string(v);
}

} // namespace

const char* to_string(Phase p) noexcept {
    switch (p) {
    case Phase::latency:
        return "latency";
    case Phase::recording:
        return "recording";
    case Phase::paused:
        return "paused";
    case Phase::done:
        return "done";
    case Phase::cancelled:
        return "cancelled";
    case Phase::failed:
        return "failed";
    }
    return "?";
}

std::string render_progress(const Progress& p, int width) {
    const double frac =
        p.total == 0 ? 0.0 : static_cast<double>(p.recorded) / static_cast<double>(p.total);
    const int fill = static_cast<int>(frac * width + 1e-9);
    std::string out = "[" + std::string(static_cast<std::size_t>(fill), '#') +
                      std::string(static_cast<std::size_t>(width - fill), '.') + "] " +
                      std::to_string(p.recorded) + "/" + std::to_string(p.total);
    if (p.has_current) {
        out += "  " + note_name(p.current.note) + " v" + std::to_string(p.current.velocity) +
               " rr" + std::to_string(p.current.rr);
    }
    out += "  ";
    out += to_string(p.phase);
    if (p.phase == Phase::latency || p.phase == Phase::recording || p.phase == Phase::paused) {
        const auto s = static_cast<long long>(std::llround(p.seconds_left));
        char buf[48];
        std::snprintf(buf, sizeof buf, "  %lld:%02lld left", s / 60, s % 60);
        out += buf;
    }
    if (p.warnings > 0) {
        out += "  " + std::to_string(p.warnings) + " warnings";
    }
    return out;
}

Session::Session(SessionOptions options, AutoEngine& engine)
    : options_(std::move(options)), engine_(engine) {
    plan_ = make_plan(options_.plan);
    const auto recorded = scan_recorded(raw_dir(), options_.name);
    pending_ = pending(plan_, recorded);
    resumed_ = plan_.size() - pending_.size();
    recorded_ = resumed_;
    if (options_.latency_mode == LatencyMode::fixed) {
        latency_ = options_.latency;
        phase_ = Phase::recording;
    }
    std::error_code ec;
    std::filesystem::create_directories(raw_dir(), ec);
    if (plan_.empty()) {
        fail("nothing to play: " + check_plan(options_.plan));
    } else if (ec) {
        fail(raw_dir().string() + ": " + ec.message());
    } else if (resumed_ > 0 && !check_resumed()) {
        // fail() said why
    } else if (resumed_ > 0) {
        log(5, "resuming: " + std::to_string(resumed_) + " of " + std::to_string(plan_.size()) +
                   " notes already recorded in " + raw_dir().string());
    }
    publish(phase_);
}

// Takes recorded with other channels or another rate would make a set that cannot be
// normalised or played together: refuse to mix them.
bool Session::check_resumed() {
    for (const NoteId& id : plan_) {
        const auto raw = raw_dir() / file_name(options_.name, id);
        SampleAudio a;
        SampleMeta m;
        std::string err;
        if (!std::filesystem::exists(raw)) {
            continue;
        }
        if (!read_sample(raw.string(), a, m, err)) {
            fail("cannot read " + err);
            return false;
        }
        if (a.channels != options_.channels || a.rate != options_.rate) {
            fail(raw.string() + " holds " + std::to_string(a.channels) + " channels at " +
                 std::to_string(a.rate) + " Hz, this session records " +
                 std::to_string(options_.channels) + " at " + std::to_string(options_.rate) +
                 " Hz: use the same --channels and JACK rate, or another --set or --dir");
            return false;
        }
        return true; // one is enough: every take of a session has the same format
    }
    return true;
}

void Session::log(int level, std::string text) {
    if (level <= 4) {
        ++warnings_;
    }
    log_.push_back(LogLine{level, std::move(text)});
}

std::vector<LogLine> Session::poll_log() {
    std::vector<LogLine> out;
    out.swap(log_);
    return out;
}

void Session::fail(std::string why) {
    log(3, "autosample: " + why);
    phase_ = Phase::failed;
    std::lock_guard lock(mutex_);
    progress_.error = std::move(why);
}

Progress Session::progress() const {
    std::lock_guard lock(mutex_);
    return progress_;
}

void Session::publish(Phase phase) {
    Progress p;
    p.phase = phase;
    p.total = plan_.size();
    p.recorded = recorded_;
    p.resumed = resumed_;
    p.failed = failed_;
    p.has_current = cur_.active && !cur_.probe;
    p.current = cur_.id;
    p.latency = latency_;
    p.warnings = warnings_;
    p.steps = steps_;
    const double per_note =
        note_frames_count_ > 0
            ? note_frames_sum_ / static_cast<double>(note_frames_count_)
            : static_cast<double>(options_.lead + options_.preroll + options_.hold +
                                  options_.end_window + options_.gap);
    const std::size_t left = pending_.size() > next_ ? pending_.size() - next_ : 0;
    p.seconds_left = per_note * static_cast<double>(left + (p.has_current ? 1 : 0)) /
                     static_cast<double>(options_.rate);
    std::lock_guard lock(mutex_);
    p.error = progress_.error;
    progress_ = p;
}

void Session::drain() {
    AutoSent s;
    while (engine_.receive(s)) {
        if (cur_.active && s.id == cur_.on_id) {
            cur_.actual_on = s.frame;
            if (s.late) {
                log(4, "note-on of " + describe(cur_.id) + " went out late, at frame " +
                           ll(s.frame) + " instead of " + ll(cur_.planned_on));
            }
        }
    }
    AudioRing& ring = engine_.ring();
    const std::uint32_t ch = options_.channels;
    for (;;) {
        const std::uint64_t pub = ring.published();
        if (cursor_ >= pub) {
            break;
        }
        std::uint64_t n = pub - cursor_;
        if (const AutoSegment* seg = engine_.peek_segment()) {
            if (seg->pos <= cursor_) {
                AutoSegment sg;
                engine_.pop_segment(sg);
                if (!have_frames_ || sg.frame != cursor_frame_) {
                    // Frames are missing here: what was collected no longer lines up.
                    // Only a note whose window had begun lost any of its frames.
                    acc_.clear();
                    acc_first_ = sg.frame;
                    if (cur_.active && sg.frame > cur_.window_start) {
                        cur_.broken = true;
                    }
                }
                cursor_frame_ = sg.frame;
                have_frames_ = true;
                continue;
            }
            n = std::min(n, seg->pos - cursor_);
        }
        std::uint64_t k = n;
        for (std::uint32_t c = 0; c < ch; ++c) {
            k = std::min<std::uint64_t>(k, ring.read(c, cursor_, n).size());
        }
        const std::size_t base = acc_.size();
        acc_.resize(base + static_cast<std::size_t>(k) * ch);
        for (std::uint32_t c = 0; c < ch; ++c) {
            const auto src = ring.read(c, cursor_, k);
            for (std::uint64_t i = 0; i < k; ++i) {
                acc_[base + static_cast<std::size_t>(i) * ch + c] = src[i];
            }
        }
        cursor_ += k;
        cursor_frame_ += static_cast<Frame>(k);
        ring.release(cursor_);
    }
}

// Keeps what the current note (or the next one's pre-roll) may still need.
void Session::trim_history() {
    const std::uint32_t ch = options_.channels;
    Frame keep = cur_.active ? cur_.window_start
                             : acc_end() - static_cast<Frame>(options_.preroll + options_.gap);
    keep = std::clamp(keep, acc_first_, acc_end()); // a window may start in the future
    const auto drop = static_cast<std::size_t>(keep - acc_first_);
    // Erasing the front costs a copy: do it in large steps.
    if (drop > options_.rate / 2 || (drop > 0 && drop * ch == acc_.size())) {
        acc_.erase(acc_.begin(), acc_.begin() + static_cast<std::ptrdiff_t>(drop * ch));
        acc_first_ = keep;
    }
}

bool Session::step() {
    if (phase_ == Phase::done || phase_ == Phase::cancelled || phase_ == Phase::failed) {
        return false;
    }
    ++steps_;
    drain();
    if (cancel_.load()) {
        // The engine sends the queued note-off and all-notes-off in its next cycle (not at
        // the note-off's frame, up to --hold ahead) and drops a queued note-on.
        engine_.cancel(static_cast<std::uint8_t>(options_.midi_channel - 1));
        if (cur_.active && !cur_.probe) {
            log(5, "cancelled during " + describe(cur_.id) + ": not kept");
        }
        cur_.active = false;
        log(5, "autosample cancelled: " + std::to_string(recorded_) + " of " +
                   std::to_string(plan_.size()) +
                   " notes recorded; run the same command again to resume");
        phase_ = Phase::cancelled;
        publish(phase_);
        return false;
    }
    if (cur_.active) {
        check_current();
    }
    if (phase_ == Phase::failed) {
        publish(phase_);
        return false;
    }
    if (!cur_.active && !settled()) {
        // the previous note still rings above the noise floor: wait
    } else if (!cur_.active) {
        if (latency_ < 0 && next_ < pending_.size()) {
            schedule_next(); // the probe (not when every note is recorded already)
        } else if (next_ < pending_.size()) {
            if (pause_.load()) {
                phase_ = Phase::paused;
            } else {
                phase_ = Phase::recording;
                schedule_next();
            }
        } else {
            const bool ok = finish_set();
            phase_ = ok ? Phase::done : Phase::failed;
            publish(phase_);
            return false;
        }
    }
    trim_history();
    publish(phase_);
    return true;
}

// The next note waits until the input is back at the noise floor (at most max_tail after
// the last note's end), so that its pre-roll measures noise, not the previous tail.
bool Session::settled() {
    if (noise_floor_ < 0 || last_end_ == 0) {
        return true;
    }
    const Frame end = acc_end();
    const auto window = static_cast<Frame>(options_.end_window);
    const Frame from = end - window;
    if (from < last_end_ || from < acc_first_) {
        return false;
    }
    if (end < last_end_ + static_cast<Frame>(options_.max_tail)) {
        const std::uint32_t ch = options_.channels;
        const std::span<const float> x(acc_.data(), acc_.size());
        const float settle = std::max(options_.thresholds.onset_floor,
                                      noise_floor_ * options_.thresholds.end_over_noise);
        const auto i0 = static_cast<std::size_t>(from - acc_first_);
        if (level(x, ch, i0, i0 + static_cast<std::size_t>(window)).peak > settle) {
            return false;
        }
    }
    last_end_ = std::max(last_end_, from - static_cast<Frame>(options_.gap));
    return true;
}

bool Session::schedule_next() {
    const Frame now = engine_.now();
    if (now == 0 || !have_frames_) {
        return false; // no cycle has run yet
    }
    const bool probe = latency_ < 0;
    NoteId id;
    if (probe) {
        const auto& pl = options_.plan;
        id = NoteId{pl.low + (pl.high - pl.low) / 2 / pl.step * pl.step, pl.velocities.back(), 0};
    } else {
        id = pending_[next_];
    }
    const std::int64_t lat = probe ? 0 : latency_;
    const auto preroll = static_cast<Frame>(options_.preroll);
    Frame on = now + static_cast<Frame>(options_.lead);
    on = std::max(on, last_end_ + static_cast<Frame>(options_.gap) + preroll - lat);
    // The engine sends in queue order: a note-on before a still queued note-off would go
    // out late, after it.
    on = std::max(on, last_midi_);
    // The pre-roll must still be in acc_ (a pre-roll longer than the lead).
    on = std::max(on, acc_first_ + preroll - lat);
    const std::uint8_t status = static_cast<std::uint8_t>(options_.midi_channel - 1);
    AutoMidi m_on;
    m_on.frame = on;
    m_on.id = next_id_++;
    m_on.bytes[0] = static_cast<std::uint8_t>(0x90 | status);
    m_on.bytes[1] = static_cast<std::uint8_t>(id.note);
    m_on.bytes[2] = static_cast<std::uint8_t>(id.velocity);
    m_on.size = 3;
    AutoMidi m_off = m_on;
    m_off.frame = on + static_cast<Frame>(options_.hold);
    m_off.id = next_id_++;
    m_off.bytes[0] = static_cast<std::uint8_t>(0x80 | status);
    m_off.bytes[2] = 64;
    if (engine_.unsent() + 2 > engine_.options().queue_capacity || !engine_.send(m_on)) {
        return false;
    }
    engine_.send(m_off);
    last_midi_ = m_off.frame;
    cur_ = Current{};
    cur_.active = true;
    cur_.probe = probe;
    cur_.id = id;
    cur_.on_id = m_on.id;
    cur_.planned_on = on;
    cur_.window_start = on + lat - preroll;
    cur_.release_at = on + lat + static_cast<Frame>(options_.hold);
    cur_.deadline = cur_.release_at + static_cast<Frame>(options_.max_tail);
    cur_.scan_from = cur_.release_at;
    cur_.scheduled_at = now;
    if (last_scheduled_at_ >= 0 && !probe) {
        note_frames_sum_ += static_cast<double>(now - last_scheduled_at_);
        ++note_frames_count_;
    }
    if (!probe) {
        last_scheduled_at_ = now;
    }
    return true;
}

void Session::check_current() {
    if (cur_.window_start < acc_first_) {
        cur_.broken = true;
    }
    if (cur_.broken) {
        log(4, "frames were lost while recording " +
                   (cur_.probe ? std::string("the latency probe") : describe(cur_.id)) +
                   ": recording it again");
        cur_.active = false;
        // Its note-off is still queued and its release still sounds: the retake's pre-roll
        // starts after both (schedule_next also never goes before the queued MIDI).
        // Without a noise floor settled() cannot hear the old note end: wait it out.
        last_end_ = std::max(acc_end(), noise_floor_ < 0 ? cur_.deadline : cur_.release_at);
        return;
    }
    const Frame end = acc_end();
    const auto window = static_cast<Frame>(options_.end_window);
    if (end < cur_.release_at + window) {
        return;
    }
    if (end >= cur_.deadline) {
        finish_note(cur_.deadline);
        return;
    }
    // The thresholds depend on the pre-roll's noise: analyse() computes the same.
    const std::uint32_t ch = options_.channels;
    const auto preroll = static_cast<std::size_t>(options_.preroll);
    const std::size_t w0 = static_cast<std::size_t>(cur_.window_start - acc_first_);
    const std::span<const float> x(acc_.data() + w0 * ch, acc_.size() - w0 * ch);
    const std::size_t frames = x.size() / ch;
    const float pre_noise = level(x, ch, 0, noise_frames(preroll)).peak;
    if (!cur_.onset) {
        // No end before the sound began: a round trip longer than the hold (the probe)
        // is only "no sound" once the maximum tail has passed without any.
        const float on_thr = onset_threshold(pre_noise, options_.thresholds);
        std::size_t i = cur_.onset_scan;
        while (i < frames && frame_peak(x, ch, i) <= on_thr) {
            ++i;
        }
        cur_.onset_scan = i;
        if (i == frames) {
            return;
        }
        cur_.onset = find_onset(x, ch, 0, pre_noise, on_thr);
    }
    const float noise = noise_floor_ >= 0 ? noise_floor_ : pre_noise;
    const float thr =
        std::max(options_.thresholds.end_floor, noise * options_.thresholds.end_over_noise);
    const auto from = std::max(static_cast<std::size_t>(cur_.scan_from - cur_.window_start),
                               cur_.onset.value_or(0) + 1);
    if (find_end(x, ch, from, thr, options_.end_window)) {
        finish_note(end);
    } else {
        cur_.scan_from = std::max(cur_.window_start + static_cast<Frame>(from), end - window);
    }
}

void Session::finish_note(Frame stop) {
    const std::uint32_t ch = options_.channels;
    const std::size_t w0 = static_cast<std::size_t>(cur_.window_start - acc_first_);
    const std::size_t w1 = static_cast<std::size_t>(std::min(stop, acc_end()) - acc_first_);
    const std::span<const float> x(acc_.data() + w0 * ch, (w1 - w0) * ch);
    const Analysis a =
        analyse(x, ch, static_cast<std::size_t>(options_.preroll),
                static_cast<std::size_t>(cur_.release_at - cur_.window_start),
                static_cast<std::size_t>(options_.end_window), options_.thresholds, noise_floor_);
    cur_.active = false;
    const std::size_t end_idx = a.end.value_or(x.size() / ch);
    last_end_ = cur_.window_start + static_cast<Frame>(end_idx);
    if (noise_floor_ < 0 && a.ok) {
        // The set's noise floor: the first pre-roll, heard before anything was played
        // (later ones may still hold the tail of the note before). Only its first half
        // is measured (noise_frames): sound in the second half is flagged, not taken.
        noise_floor_ = a.noise.peak;
    }
    if (cur_.probe) {
        if (!a.ok) {
            fail("no sound came back from the instrument for the latency probe (" +
                 describe(cur_.id) +
                 "): is the MIDI output linked to it and its audio to "
                 "the inputs?");
            return;
        }
        const Frame on = cur_.actual_on >= 0 ? cur_.actual_on : cur_.planned_on;
        latency_ = cur_.window_start + static_cast<Frame>(a.onset) - on;
        log(5, "round-trip latency: " + ll(latency_) + " frames (" +
                   std::to_string(static_cast<double>(latency_) * 1000.0 /
                                  static_cast<double>(options_.rate)) +
                   " ms), measured with " + describe(cur_.id) + "; noise floor " +
                   db(a.noise.peak) + " peak");
        phase_ = Phase::recording;
        return;
    }
    if (!a.ok) {
        ++failed_;
        ++next_;
        log(4, describe(cur_.id) + ": no sound above " + db(a.onset_threshold) +
                   ": skipped (a later session retries it)");
        return;
    }
    ++next_;
    const std::size_t frames = end_idx - a.onset;
    SampleAudio audio;
    audio.channels = ch;
    audio.rate = options_.rate;
    audio.samples.assign(x.begin() + static_cast<std::ptrdiff_t>(a.onset * ch),
                         x.begin() + static_cast<std::ptrdiff_t>(end_idx * ch));
    apply_fades(audio.samples, ch, options_.fade_in, options_.fade_out);
    const Frame on = cur_.actual_on >= 0 ? cur_.actual_on : cur_.planned_on;
    NoteRecord r;
    r.id = cur_.id;
    r.note_on = on;
    r.onset = cur_.window_start + static_cast<Frame>(a.onset);
    r.end = cur_.window_start + static_cast<Frame>(end_idx);
    r.peak = a.peak;
    r.noise = a.noise.peak;
    r.clipped = a.clipped;
    r.file = (raw_dir() / file_name(options_.name, cur_.id)).string();
    SampleMeta meta;
    meta.time_reference = static_cast<std::uint64_t>(r.onset);
    meta.description = "note_on=" + ll(r.note_on) + " onset=" + ll(r.onset) +
                       " latency=" + ll(latency_) +
                       " noise_ppm=" + ll(std::llround(static_cast<double>(a.noise.peak) * 1e6)) +
                       " peak_ppm=" + ll(std::llround(static_cast<double>(a.peak) * 1e6)) +
                       (a.end ? "" : " tail=max");
    std::string err;
    if (!write_sample(r.file, audio, SampleFormat::float32, meta, err)) {
        fail("cannot write " + err);
        return;
    }
    ++recorded_;
    log(6, describe(r.id) + ": note-on at frame " + ll(r.note_on) + ", onset at frame " +
               ll(r.onset) + " (+" + ll(r.onset - r.note_on) + "), " + std::to_string(frames) +
               " frames, peak " + db(a.peak) + (a.end ? "" : ", cut at the maximum tail"));
    if (a.clipped) {
        log(4, describe(r.id) + ": clipping (peak " + db(a.peak) +
                   "): lower the instrument's level and record this note again");
    }
    if (a.noise.peak > options_.noise_warning) {
        log(4, describe(r.id) + ": noise floor " + db(a.noise.peak) + " peak in the pre-roll");
    }
    if (a.onset_in_preroll) {
        log(4, describe(r.id) + ": sound before the compensated note-on (latency " + ll(latency_) +
                   " too high?)");
    }
    records_.push_back(std::move(r));
}

bool Session::finish_set() {
    // Two passes, one take in memory at a time: the peaks first (the set's gain needs
    // them all), then each final file.
    struct Item {
        NoteId id;
        float peak = 0;
    };
    std::vector<Item> items;
    for (const NoteId& id : plan_) {
        const auto raw = raw_dir() / file_name(options_.name, id);
        if (!std::filesystem::exists(raw)) {
            continue;
        }
        SampleAudio audio;
        SampleMeta meta;
        std::string err;
        if (!read_sample(raw.string(), audio, meta, err)) {
            fail("cannot read " + err);
            return false;
        }
        Item it;
        it.id = id;
        for (const float v : audio.samples) {
            it.peak = std::max(it.peak, std::fabs(v));
        }
        items.push_back(it);
    }
    if (items.empty()) {
        fail("no note was recorded");
        return false;
    }
    float set_peak = 0;
    std::vector<NoteId> ids;
    for (const auto& it : items) {
        set_peak = std::max(set_peak, it.peak);
        ids.push_back(it.id);
    }
    // Ranges and round robins from the takes present: a note left out (no sound) leaves
    // no hole in the velocity ranges nor a round-robin position that never plays.
    const auto map = map_regions(ids);
    std::vector<SfzSample> sfz;
    for (std::size_t i = 0; i < items.size(); ++i) {
        const Item& it = items[i];
        SampleAudio audio;
        SampleMeta meta;
        std::string err;
        if (!read_sample((raw_dir() / file_name(options_.name, it.id)).string(), audio, meta,
                         err)) {
            fail("cannot read " + err);
            return false;
        }
        double gain = 1.0;
        if (options_.normalise == Normalise::set) {
            gain = normalise_gain(set_peak, options_.target_peak);
        } else if (options_.normalise == Normalise::file) {
            gain = normalise_gain(it.peak, options_.target_peak);
        }
        for (float& v : audio.samples) {
            v = static_cast<float>(v * gain);
        }
        meta.root_key = it.id.note;
        meta.key_lo = map[i].key.lo;
        meta.key_hi = map[i].key.hi;
        meta.vel_lo = map[i].vel.lo;
        meta.vel_hi = map[i].vel.hi;
        char g[48];
        std::snprintf(g, sizeof g, " gain_db=%.2f", 20.0 * std::log10(gain));
        meta.description += g;
        const std::string file = file_name(options_.name, it.id);
        if (!write_sample((options_.dir / file).string(), audio, options_.sample, meta, err)) {
            fail("cannot write " + err);
            return false;
        }
        sfz.push_back(SfzSample{it.id, file});
    }
    const auto w =
        service::write_file_atomically(sfz_path().string(), make_sfz(options_.name, sfz));
    if (!w) {
        fail("cannot write " + sfz_path().string() + ": " + w.message);
        return false;
    }
    if (options_.normalise == Normalise::set) {
        log(5,
            "normalised the set by " +
                std::to_string(20.0 * std::log10(normalise_gain(set_peak, options_.target_peak))) +
                " dB (one gain: the velocity layers keep their dynamics)");
    }
    log(5, "wrote " + std::to_string(items.size()) + " samples and " + sfz_path().string());
    if (items.size() < plan_.size()) {
        // Written (playable: mapped from what is there), but not what was asked for.
        fail(std::to_string(plan_.size() - items.size()) + " of " + std::to_string(plan_.size()) +
             " notes gave no sound and are missing from the set: run the session again to "
             "record them");
        return false;
    }
    return true;
}

} // namespace lockstep::capture::autosample
