#include "harness/probe/probe.hpp"

#include <algorithm>
#include <cstring>
#include <thread>

namespace lockstep::test {

ProbeEvent ProbeEvent::make(Frame frame, std::span<const std::uint8_t> bytes) {
    ProbeEvent e;
    e.frame = frame;
    e.size = static_cast<std::uint32_t>(bytes.size());
    std::memcpy(e.data.data(), bytes.data(), std::min(bytes.size(), e.data.size()));
    return e;
}

namespace {
ProbeEvent make_event(Frame frame, std::span<const std::uint8_t> bytes) noexcept RT_NONBLOCKING {
    ProbeEvent e;
    e.frame = frame;
    e.size = static_cast<std::uint32_t>(bytes.size());
    const std::size_t n = bytes.size() < e.data.size() ? bytes.size() : e.data.size();
    for (std::size_t i = 0; i < n; ++i) {
        e.data[i] = bytes[i];
    }
    return e;
}

constexpr float ramp_scale = 1.0F / static_cast<float>(ramp_period);
} // namespace

float ramp_value(Frame frame) noexcept {
    return static_cast<float>(frame & (ramp_period - 1)) * ramp_scale;
}

std::int64_t ramp_frame(float value) noexcept {
    const float scaled = value * static_cast<float>(ramp_period);
    if (!(scaled >= 0.0F) || scaled >= static_cast<float>(ramp_period)) {
        return -1;
    }
    const auto k = static_cast<std::int64_t>(scaled);
    return static_cast<float>(k) == scaled ? k : -1;
}

jack::ClientOptions Probe::client_options(const ProbeOptions& o) {
    jack::ClientOptions c;
    c.name = o.name;
    c.server = o.server;
    c.connections = o.connections;
    c.wait_for_server = o.wait_for_server;
    if (o.midi_in) {
        c.ports.push_back({"in", jack::PortKind::midi_in});
    }
    if (o.midi_out) {
        c.ports.push_back({"out", jack::PortKind::midi_out});
    }
    if (o.audio_in) {
        c.ports.push_back({"audio_in", jack::PortKind::audio_in});
    }
    if (o.audio_out) {
        c.ports.push_back({"audio_out", jack::PortKind::audio_out});
    }
    return c;
}

Probe::Probe(ProbeOptions options)
    : options_(std::move(options)), received_ring_(options_.capacity),
      sent_ring_(options_.capacity), schedule_ring_(options_.capacity), gap_ring_(1024),
      onset_ring_(options_.audio_onsets ? options_.capacity : 1),
      cycle_ring_(options_.midi_cycle_times ? options_.capacity : 1),
      client_(client_options(options_), *this) {
    capture_.assign(options_.audio_capture_frames, 0.0F);
    received_.reserve(options_.capacity);
    sent_.reserve(options_.capacity);
}

Probe::~Probe() {
    stop();
}

bool Probe::start() {
    return client_.start();
}
void Probe::stop() {
    client_.stop();
}

bool Probe::now(Frame& frame) const {
    CycleTiming t{};
    if (!client_.timing(t)) {
        return false;
    }
    frame = t.frame;
    return true;
}

bool Probe::wait_cycles(std::uint64_t n, std::chrono::milliseconds timeout) const {
    const auto target = cycles_.load() + n;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (cycles_.load() < target) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

bool Probe::schedule(Frame frame, std::span<const std::uint8_t> bytes) {
    return schedule_ring_.try_push(ProbeEvent::make(frame, bytes));
}

bool Probe::capture_audio(Frame from, std::size_t frames) {
    if (frames == 0 || frames > capture_.size()) {
        return false;
    }
    capture_done_.store(false, std::memory_order_relaxed);
    capture_from_.store(from, std::memory_order_relaxed);
    capture_frames_.store(static_cast<Frame>(frames), std::memory_order_relaxed);
    capture_generation_.fetch_add(1, std::memory_order_release);
    return true;
}

void Probe::capture(const jack::Cycle& c) noexcept {
    const auto gen = capture_generation_.load(std::memory_order_acquire);
    if (gen != rt_capture_generation_) {
        rt_capture_generation_ = gen;
        rt_capture_from_ = capture_from_.load(std::memory_order_relaxed);
        rt_capture_frames_ = capture_frames_.load(std::memory_order_relaxed);
    }
    if (rt_capture_frames_ == 0 || c.audio_in.empty()) {
        return;
    }
    const Frame end = rt_capture_from_ + rt_capture_frames_;
    const Frame lo = c.start > rt_capture_from_ ? c.start : rt_capture_from_;
    const Frame hi = c.end() < end ? c.end() : end;
    for (Frame f = lo; f < hi; ++f) {
        capture_[static_cast<std::size_t>(f - rt_capture_from_)] =
            c.audio_in[0][static_cast<std::size_t>(f - c.start)];
    }
    if (c.end() >= end) {
        rt_capture_frames_ = 0;
        capture_done_.store(true, std::memory_order_release);
    }
}

void Probe::generate_every(Frame every, Frame phase) {
    every_.store(every);
    phase_.store(phase);
    every_generation_.fetch_add(1, std::memory_order_release);
}

std::size_t Probe::drain() {
    std::size_t n = 0;
    while (const ProbeEvent* e = received_ring_.try_front()) {
        received_.push_back(*e);
        received_ring_.pop_front();
        ++n;
    }
    while (const ProbeEvent* e = sent_ring_.try_front()) {
        sent_.push_back(*e);
        sent_ring_.pop_front();
    }
    while (const ProbeGap* g = gap_ring_.try_front()) {
        gaps_.push_back(*g);
        gap_ring_.pop_front();
    }
    while (const Frame* f = onset_ring_.try_front()) {
        onsets_.push_back(*f);
        onset_ring_.pop_front();
    }
    while (const ProbeCycle* c = cycle_ring_.try_front()) {
        midi_cycles_.push_back(*c);
        cycle_ring_.pop_front();
    }
    return n;
}

ProbeCounters Probe::counters() const {
    ProbeCounters c;
    c.cycles = cycles_.load();
    c.freewheel_cycles = freewheel_cycles_.load();
    c.received = received_count_.load();
    c.sent = sent_count_.load();
    c.record_overflow = record_overflow_.load();
    c.late = late_.load();
    c.audio_cycles_ok = audio_ok_.load();
    c.audio_cycles_bad = audio_bad_.load();
    c.audio_last_bad_frame = audio_last_bad_.load();
    c.audio_last_delay = audio_last_delay_.load();
    return c;
}

void Probe::process(jack::Cycle& c) noexcept {
    if (rt_prev_end_ >= 0 && c.start != rt_prev_end_) {
        gap_ring_.try_push(ProbeGap{rt_prev_end_, c.start});
    }
    rt_prev_end_ = c.end();
    record(c);
    check_ramp(c);
    capture(c);
    find_onsets(c);
    generate(c);
    if (!c.audio_out.empty()) {
        auto out = c.audio_out[0];
        for (std::uint32_t k = 0; k < c.nframes; ++k) {
            out[k] = ramp_value(c.start + k);
        }
    }
    if (c.freewheeling) {
        freewheel_cycles_.fetch_add(1, std::memory_order_relaxed);
    }
    cycles_.fetch_add(1, std::memory_order_release);
}

void Probe::record(const jack::Cycle& c) noexcept {
    if (c.midi_in.empty()) {
        return;
    }
    std::uint64_t n = 0;
    for (const auto& e : c.midi_in[0]) {
        if (received_ring_.try_push(make_event(c.start + e.offset, e.bytes))) {
            ++n;
        } else {
            record_overflow_.fetch_add(1, std::memory_order_relaxed);
        }
    }
    received_count_.fetch_add(n, std::memory_order_relaxed);
    if (options_.midi_cycle_times && !c.midi_in[0].empty() &&
        !cycle_ring_.try_push(ProbeCycle{c.start, c.nframes, c.usecs, c.next_usecs})) {
        record_overflow_.fetch_add(1, std::memory_order_relaxed);
    }
}

void Probe::find_onsets(const jack::Cycle& c) noexcept {
    if (!options_.audio_onsets || c.audio_in.empty()) {
        return;
    }
    const auto in = c.audio_in[0];
    for (std::uint32_t k = 0; k < c.nframes; ++k) {
        const bool sounding = in[k] != 0.0F;
        if (sounding && !rt_sounding_ && !onset_ring_.try_push(c.start + k)) {
            record_overflow_.fetch_add(1, std::memory_order_relaxed);
        }
        rt_sounding_ = sounding;
    }
}

void Probe::write_out(jack::Cycle& c, std::uint32_t offset, Frame frame,
                      std::span<const std::uint8_t> bytes) noexcept {
    if (c.midi_out[0].write(offset, bytes)) {
        sent_count_.fetch_add(1, std::memory_order_relaxed);
        if (!sent_ring_.try_push(make_event(frame, bytes))) {
            record_overflow_.fetch_add(1, std::memory_order_relaxed);
        }
    }
}

void Probe::generate(jack::Cycle& c) noexcept {
    if (c.midi_out.empty()) {
        return;
    }
    const Frame end = c.end();

    // Explicitly scheduled events, in frame order.
    while (const ProbeEvent* e = schedule_ring_.try_front()) {
        if (e->frame >= end) {
            break;
        }
        Frame at = e->frame;
        if (at < c.start) {
            late_.fetch_add(1, std::memory_order_relaxed);
            at = c.start;
        }
        write_out(c, static_cast<std::uint32_t>(at - c.start), at, e->bytes());
        schedule_ring_.pop_front();
    }

    // The periodic generator.
    const auto gen = every_generation_.load(std::memory_order_acquire);
    if (gen != rt_every_generation_) {
        rt_every_generation_ = gen;
        rt_every_ = every_.load(std::memory_order_relaxed);
        rt_phase_ = phase_.load(std::memory_order_relaxed);
        rt_next_gen_ = -1;
    }
    if (rt_every_ <= 0) {
        return;
    }
    if (rt_next_gen_ < c.start) {
        // First cycle, or frames jumped (server restart): next multiple from here.
        const Frame k = (c.start - rt_phase_ + rt_every_ - 1) / rt_every_;
        rt_next_gen_ = rt_phase_ + (k > 0 ? k : 0) * rt_every_;
    }
    const std::uint8_t note_on[] = {0x90, 60, 100};
    while (rt_next_gen_ < end) {
        write_out(c, static_cast<std::uint32_t>(rt_next_gen_ - c.start), rt_next_gen_, note_on);
        rt_next_gen_ += rt_every_;
    }
}

void Probe::check_ramp(const jack::Cycle& c) noexcept {
    if (c.audio_in.empty()) {
        return;
    }
    const auto in = c.audio_in[0];
    const Frame want = audio_expected_delay_.load(std::memory_order_relaxed);
    bool ok = true;
    Frame first_delay = -1;
    for (std::uint32_t k = 0; k < c.nframes; ++k) {
        const std::int64_t f = ramp_frame(in[k]);
        const Frame delay =
            f < 0 ? -1 : ((c.start + k - f) % ramp_period + ramp_period) % ramp_period;
        if (k == 0) {
            first_delay = delay;
        }
        if (delay != want) {
            ok = false;
        }
    }
    audio_last_delay_.store(first_delay, std::memory_order_relaxed);
    if (ok) {
        audio_ok_.fetch_add(1, std::memory_order_relaxed);
    } else {
        audio_bad_.fetch_add(1, std::memory_order_relaxed);
        audio_last_bad_.store(c.start, std::memory_order_relaxed);
    }
}

} // namespace lockstep::test
