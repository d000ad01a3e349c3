#include "engine.hpp"

#include "rt/simd.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <span>
#include <vector>

namespace lockstep::sampler {
namespace {

constexpr std::uint64_t one = std::uint64_t{1} << 32; // 32.32 fixed point: 1.0
constexpr std::uint32_t forever = std::numeric_limits<std::uint32_t>::max();
constexpr int cents_per_octave = 1200;

enum class Stage : std::uint8_t { attack, decay, sustain, release };

struct Voice {
    bool active = false;
    bool fading = false;   // stolen or choked: no longer counted against the polyphony
    bool released = false; // in release (note-off, steal or choke)
    bool exact = false;    // ratio 1: frames are copied, not interpolated
    bool one_shot = false;
    std::uint8_t out = 0; // output pair: 0 main, k group pair k
    std::uint8_t note = 0;
    std::uint8_t channel = 0;
    std::uint32_t channels = 1;
    const float* data = nullptr; // frame 0 (padding before and after)
    std::uint64_t frames = 0;
    std::uint64_t pos = 0; // 32.32 fixed point, in sample frames
    std::uint64_t inc = one;
    float gl = 1.0F, gr = 1.0F; // region gain x velocity gain
    Stage stage = Stage::sustain;
    float level = 1.0F;          // envelope at the next frame
    float slope = 0.0F;          // envelope change per frame
    std::uint32_t remaining = 0; // frames left in this stage (forever in sustain)
    std::uint32_t decay = 0;
    std::uint32_t release = 0;
    float sustain = 1.0F;
    std::int64_t group = 0;
    std::int64_t off_by = 0;
    std::uint64_t serial = 0; // start order: the oldest is stolen first
    const Kit* kit = nullptr;
    float* acc = nullptr; // its output pair's accumulator
};

// ---- inner loops: where the voice-frames go ------------------------------------------
// Voices mix into an interleaved stereo accumulator (L0 R0 L1 R1 ...) per output pair, so
// a stereo frame is one 2-lane add and two frames one 4-lane SSE operation; process()
// splits each into its L/R ports once per cycle. The gain is a linear ramp per channel,
// g(i) = g0 + dg * i (the envelope is piecewise linear, so a sub-block never needs a
// per-frame branch).

using simd::F2;
using simd::F4;
using simd::load2;
using simd::load4;
using simd::store2;
using simd::store4;

struct Gain {
    F4 g;    // lanes: L, R of frame i and of frame i + 1
    F4 step; // added every two frames
    Gain(float gl0, float dgl, float gr0, float dgr) noexcept RT_NONBLOCKING
        : g{gl0, gr0, gl0 + dgl, gr0 + dgr},
          step{2 * dgl, 2 * dgr, 2 * dgl, 2 * dgr} {}
};

// Ratio 1: frame k of the sample is added to output frame k, unchanged but for the gain.
template <std::uint32_t Channels>
void mix_exact(const float* __restrict x, float* __restrict acc, std::uint32_t n, float gl0,
               float dgl, float gr0, float dgr) noexcept RT_NONBLOCKING {
    Gain gain(gl0, dgl, gr0, dgr);
    const bool ramp = dgl != 0.0F || dgr != 0.0F;
    std::uint32_t i = 0;
    for (; i + 2 <= n; i += 2) {
        F4 y;
        if constexpr (Channels == 2) {
            y = load4(x + 2 * i);
        } else {
            y = F4{x[i], x[i], x[i + 1], x[i + 1]};
        }
        store4(acc + 2 * i, load4(acc + 2 * i) + y * gain.g);
        if (ramp) {
            gain.g += gain.step;
        }
    }
    if (i < n) {
        const F2 y = Channels == 2 ? load2(x + 2 * i) : F2{x[i], x[i]};
        store2(acc + 2 * i, load2(acc + 2 * i) + y * F2{gain.g[0], gain.g[1]});
    }
}

// 4-point, 3rd-order Hermite (Catmull-Rom) between x0 and x1 at t in [0, 1), on lanes,
// in Laurent de Soras' factoring (15 operations). At t = 0 it returns x0 exactly.
template <typename V>
inline V hermite(V xm1, V x0, V x1, V x2, V t) noexcept RT_NONBLOCKING {
    const V c = (x1 - xm1) * 0.5F;
    const V v = x0 - x1;
    const V w = c + v;
    const V a = w + v + (x2 - x0) * 0.5F;
    const V b_neg = w + a;
    return ((a * t - b_neg) * t + c) * t + x0;
}

constexpr float frac_scale = 1.0F / 4294967296.0F;

inline float frac(std::uint64_t pos) noexcept RT_NONBLOCKING {
    return static_cast<float>(static_cast<std::uint32_t>(pos)) * frac_scale;
}

// Taps xm1, x0, x1, x2 of the frame at `pos` as 2-lane vectors (L, R; mono duplicated).
template <std::uint32_t Channels>
inline void taps(const float* x, std::uint64_t pos, F2& a, F2& b, F2& c,
                 F2& d) noexcept RT_NONBLOCKING {
    const float* p = x + static_cast<std::ptrdiff_t>(pos >> 32) * Channels;
    if constexpr (Channels == 2) {
        a = load2(p - 2);
        b = load2(p);
        c = load2(p + 2);
        d = load2(p + 4);
    } else {
        a = F2{p[-1], p[-1]};
        b = F2{p[0], p[0]};
        c = F2{p[1], p[1]};
        d = F2{p[2], p[2]};
    }
}

template <std::uint32_t Channels>
std::uint64_t mix_interpolated(const float* __restrict x, float* __restrict acc, std::uint32_t n,
                               std::uint64_t pos, std::uint64_t inc, float gl0, float dgl,
                               float gr0, float dgr) noexcept RT_NONBLOCKING {
    Gain gain(gl0, dgl, gr0, dgr);
    const bool ramp = dgl != 0.0F || dgr != 0.0F;
    std::uint32_t i = 0;
    for (; i + 2 <= n; i += 2) {
        const std::uint64_t pos1 = pos + inc;
        const float* p = x + static_cast<std::ptrdiff_t>(pos >> 32) * Channels;
        const float* q = x + static_cast<std::ptrdiff_t>(pos1 >> 32) * Channels;
        // Whole-vector loads and lane shuffles (the padding around every sample covers
        // them): 4 loads + 4 shuffles for stereo, 2 + 4 for mono, instead of 16 scalar
        // inserts.
        F4 a, b, c, d;
        if constexpr (Channels == 2) {
            const F4 p0 = load4(p - 2), p1 = load4(p + 2); // xm1 x0 | x1 x2 (L, R each)
            const F4 q0 = load4(q - 2), q1 = load4(q + 2);
            a = __builtin_shufflevector(p0, q0, 0, 1, 4, 5);
            b = __builtin_shufflevector(p0, q0, 2, 3, 6, 7);
            c = __builtin_shufflevector(p1, q1, 0, 1, 4, 5);
            d = __builtin_shufflevector(p1, q1, 2, 3, 6, 7);
        } else {
            const F4 pv = load4(p - 1), qv = load4(q - 1); // xm1 x0 x1 x2
            a = __builtin_shufflevector(pv, qv, 0, 0, 4, 4);
            b = __builtin_shufflevector(pv, qv, 1, 1, 5, 5);
            c = __builtin_shufflevector(pv, qv, 2, 2, 6, 6);
            d = __builtin_shufflevector(pv, qv, 3, 3, 7, 7);
        }
        const float t0 = frac(pos), t1 = frac(pos1);
        const F4 y = hermite(a, b, c, d, F4{t0, t0, t1, t1});
        store4(acc + 2 * i, load4(acc + 2 * i) + y * gain.g);
        if (ramp) {
            gain.g += gain.step;
        }
        pos = pos1 + inc;
    }
    if (i < n) {
        F2 a, b, c, d;
        taps<Channels>(x, pos, a, b, c, d);
        const float t = frac(pos);
        const F2 y = hermite(a, b, c, d, F2{t, t});
        store2(acc + 2 * i, load2(acc + 2 * i) + y * F2{gain.g[0], gain.g[1]});
        pos += inc;
    }
    return pos;
}

} // namespace

float velocity_gain(std::uint8_t velocity) noexcept RT_NONBLOCKING {
    const float v = static_cast<float>(velocity > 127 ? 127 : velocity) / 127.0F;
    return v * v;
}

struct Engine::Impl {
    std::vector<Voice> voices;            // options.voices + reserve for fading voices
    std::vector<std::uint32_t> rr;        // round-robin counter per region index
    std::vector<std::uint64_t> cents_inc; // 2^(c/1200) in 32.32 for c in 0..1199
    std::vector<float> mix; // interleaved L/R accumulators, one cycle, per output pair
    std::size_t stride = 0; // floats from one pair's accumulator to the next
    std::size_t group_outs = 0;
    std::uint32_t cycle_frames = 0; // of the cycle being processed
    // Group pairs with a voice this cycle: their accumulators are cleared at the cycle's
    // start or at the note-on that first uses them, so pairs nobody plays on cost nothing
    // but writing their ports' zeros, and the mixing loop never branches on the pair.
    std::array<bool, max_group_outs + 1> touched{};
    std::array<std::uint32_t, max_group_outs + 1> pair_voices{}; // active voices per pair
    std::size_t polyphony = 0;
    std::size_t playing = 0; // active and not fading
    std::size_t active = 0;
    std::uint64_t serial = 0;
    std::uint64_t rng = 0;
    std::uint32_t rate = 0;
    std::uint32_t fade_frames = 96;
    double fade_ms = 2.0;
    // counters, published at cycle end
    std::uint64_t notes = 0, steals = 0, chokes = 0, dropped = 0, rate_mismatch = 0;

    // xorshift64*: a uniform draw in [0, 1) per note-on.
    float draw() noexcept RT_NONBLOCKING {
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        const std::uint64_t x = rng * 2685821657736338717ULL;
        return static_cast<float>(x >> 40) * (1.0F / 16777216.0F);
    }

    // 32.32 increment for a pitch offset in cents (no libm on the audio thread).
    std::uint64_t increment(std::int32_t cents) const noexcept RT_NONBLOCKING {
        std::int32_t octave = cents / cents_per_octave;
        std::int32_t rest = cents % cents_per_octave;
        if (rest < 0) {
            rest += cents_per_octave;
            --octave;
        }
        std::uint64_t inc = cents_inc[static_cast<std::size_t>(rest)];
        if (octave >= 0) {
            inc = octave >= 20 ? (std::uint64_t{1} << 52) : inc << octave;
        } else {
            inc = octave <= -32 ? 1 : inc >> -octave;
        }
        return inc == 0 ? 1 : inc;
    }

    void finish(Voice& v) noexcept RT_NONBLOCKING {
        v.active = false;
        --active;
        --pair_voices[v.out];
        if (!v.fading) {
            --playing;
        }
        v.kit->voices.fetch_sub(1, std::memory_order_release);
        v.kit = nullptr;
    }

    // Starts the release ramp from the current level to 0 over `frames`.
    static void ramp_down(Voice& v, std::uint32_t frames) noexcept RT_NONBLOCKING {
        v.released = true;
        v.stage = Stage::release;
        v.remaining = frames < 1 ? 1 : frames;
        v.slope = -v.level / static_cast<float>(v.remaining);
    }

    // Steal or choke: fade over fade_frames (or faster, if a release is already quicker).
    void fade(Voice& v) noexcept RT_NONBLOCKING {
        if (!v.fading) {
            v.fading = true;
            --playing;
        }
        if (!(v.released && v.remaining <= fade_frames)) {
            ramp_down(v, fade_frames);
        }
    }

    void next_stage(Voice& v) noexcept RT_NONBLOCKING {
        switch (v.stage) {
        case Stage::attack:
            v.level = 1.0F;
            if (v.decay > 0) {
                v.stage = Stage::decay;
                v.remaining = v.decay;
                v.slope = (v.sustain - 1.0F) / static_cast<float>(v.decay);
                return;
            }
            v.level = v.sustain;
            [[fallthrough]];
        case Stage::decay:
            v.level = v.sustain;
            v.stage = Stage::sustain;
            v.remaining = forever;
            v.slope = 0.0F;
            return;
        case Stage::sustain:
            v.remaining = forever;
            return;
        case Stage::release:
            v.level = 0.0F;
            finish(v);
            return;
        }
    }

    // Mixes frames [a, b) of this cycle into l/r.
    void render(Voice& v, float* acc, std::uint32_t a, std::uint32_t b) noexcept RT_NONBLOCKING {
        while (a < b && v.active) {
            std::uint32_t n = b - a;
            if (v.remaining < n) {
                n = v.remaining;
            }
            // Frames left in the sample from pos (the last one reads frames - 1 + frac).
            const std::uint64_t end = v.frames << 32;
            const std::uint64_t left =
                v.exact ? (end - v.pos) >> 32 : (end - v.pos + v.inc - 1) / v.inc;
            if (left < n) {
                n = static_cast<std::uint32_t>(left);
            }
            const float gl0 = v.gl * v.level, dgl = v.gl * v.slope;
            const float gr0 = v.gr * v.level, dgr = v.gr * v.slope;
            float* out = acc + 2 * static_cast<std::size_t>(a);
            if (v.exact) {
                const float* x = v.data + (v.pos >> 32) * v.channels;
                if (v.channels == 2) {
                    mix_exact<2>(x, out, n, gl0, dgl, gr0, dgr);
                } else {
                    mix_exact<1>(x, out, n, gl0, dgl, gr0, dgr);
                }
                v.pos += static_cast<std::uint64_t>(n) << 32;
            } else if (v.channels == 2) {
                v.pos = mix_interpolated<2>(v.data, out, n, v.pos, v.inc, gl0, dgl, gr0, dgr);
            } else {
                v.pos = mix_interpolated<1>(v.data, out, n, v.pos, v.inc, gl0, dgl, gr0, dgr);
            }
            a += n;
            if (v.remaining != forever) {
                v.level += v.slope * static_cast<float>(n);
                v.remaining -= n;
            }
            if (v.pos >= end) {
                finish(v); // the sample ended: its own last frame, never a cut
                return;
            }
            if (v.remaining == 0) {
                next_stage(v);
            }
        }
    }

    // A group pair about to be mixed into this cycle: cleared once.
    void use_pair(std::size_t pair) noexcept RT_NONBLOCKING {
        if (!touched[pair]) {
            touched[pair] = true;
            float* acc = mix.data() + pair * stride;
            std::fill(acc, acc + 2 * static_cast<std::size_t>(cycle_frames), 0.0F);
        }
    }

    void render_all(std::uint32_t a, std::uint32_t b) noexcept RT_NONBLOCKING {
        if (a >= b || active == 0) {
            return;
        }
        for (Voice& v : voices) {
            if (v.active) {
                render(v, v.acc, a, b);
            }
        }
    }

    Voice* free_voice() noexcept RT_NONBLOCKING {
        for (Voice& v : voices) {
            if (!v.active) {
                return &v;
            }
        }
        return nullptr;
    }

    void steal_oldest() noexcept RT_NONBLOCKING {
        Voice* oldest = nullptr;
        for (Voice& v : voices) {
            if (v.active && !v.fading && (oldest == nullptr || v.serial < oldest->serial)) {
                oldest = &v;
            }
        }
        if (oldest != nullptr) {
            fade(*oldest);
            ++steals;
        }
    }

    void start(const Kit& kit, const Region& g, std::uint8_t channel, std::uint8_t note,
               std::uint8_t velocity, std::uint64_t first_serial) noexcept RT_NONBLOCKING {
        if (g.group != 0) {
            for (Voice& v : voices) {
                if (v.active && !v.fading && v.off_by == g.group && v.serial < first_serial) {
                    fade(v);
                    ++chokes;
                }
            }
        }
        if (playing >= polyphony) {
            steal_oldest();
        }
        Voice* slot = free_voice();
        if (slot == nullptr) {
            ++dropped; // every entry busy, fading ones included: never cut one hard
            return;
        }
        Voice& v = *slot;
        v = Voice{};
        v.active = true;
        v.note = note;
        v.channel = channel;
        v.one_shot = g.one_shot;
        v.out = g.output <= group_outs ? g.output : 0;
        ++pair_voices[v.out];
        v.acc = mix.data() + static_cast<std::size_t>(v.out) * stride;
        if (v.out != 0) {
            use_pair(v.out); // before the voice mixes into it, later in this cycle
        }
        v.channels = g.data->channels;
        v.data = g.data->frame0();
        v.frames = g.data->frames;
        const std::int32_t cents = (static_cast<std::int32_t>(note) - g.keycenter) * 100 + g.cents;
        v.exact = cents == 0;
        v.inc = v.exact ? one : increment(cents);
        const float vel = velocity_gain(velocity);
        v.gl = g.gain_l * vel;
        v.gr = g.gain_r * vel;
        v.sustain = g.sustain;
        v.decay = g.decay;
        v.release = g.release < fade_frames ? fade_frames : g.release;
        v.group = g.group;
        v.off_by = g.off_by;
        v.serial = serial++;
        v.kit = &kit;
        kit.voices.fetch_add(1, std::memory_order_relaxed);
        if (g.attack > 0) {
            v.stage = Stage::attack;
            v.level = 0.0F;
            v.remaining = g.attack;
            v.slope = 1.0F / static_cast<float>(g.attack);
        } else {
            v.stage = Stage::attack;
            next_stage(v); // straight to decay or sustain at full level
        }
        ++active;
        ++playing;
        ++notes;
    }

    void note_on(const Kit* kit, std::uint8_t channel, std::uint8_t note, std::uint8_t velocity,
                 std::uint32_t cycle_rate) noexcept RT_NONBLOCKING {
        if (kit == nullptr) {
            return;
        }
        if (kit->rate != cycle_rate) {
            ++rate_mismatch;
            return;
        }
        const float rand = draw();
        const std::uint64_t first_serial = serial;
        for (std::uint32_t k = kit->note_begin[note]; k < kit->note_begin[note + 1U]; ++k) {
            const std::uint32_t i = kit->note_regions[k];
            const Region& g = kit->regions[i];
            if (velocity < g.lovel || velocity > g.hivel) {
                continue;
            }
            if (g.seq_length > 1 && i < rr.size()) {
                const std::uint32_t hit = rr[i]++ % g.seq_length;
                if (hit + 1U != g.seq_position) {
                    continue;
                }
            }
            if (rand < g.lorand || rand >= g.hirand) { // rand < 1: hirand=1 admits all
                continue;
            }
            start(*kit, g, channel, note, velocity, first_serial);
        }
    }

    void note_off(std::uint8_t channel, std::uint8_t note) noexcept RT_NONBLOCKING {
        for (Voice& v : voices) {
            if (v.active && !v.released && !v.one_shot && v.note == note && v.channel == channel) {
                ramp_down(v, v.release);
            }
        }
    }

    void all_notes_off(std::uint8_t channel) noexcept RT_NONBLOCKING {
        for (Voice& v : voices) {
            if (v.active && !v.released && !v.one_shot && v.channel == channel) {
                ramp_down(v, v.release);
            }
        }
    }

    void all_sound_off() noexcept RT_NONBLOCKING {
        for (Voice& v : voices) {
            if (v.active) {
                fade(v);
            }
        }
    }

    void midi(const Kit* kit, std::span<const std::uint8_t> m,
              std::uint32_t cycle_rate) noexcept RT_NONBLOCKING {
        if (m.size() < 3) {
            return;
        }
        const std::uint8_t status = m[0] & 0xF0U;
        const std::uint8_t channel = m[0] & 0x0FU;
        const std::uint8_t d1 = m[1] & 0x7FU;
        const std::uint8_t d2 = m[2] & 0x7FU;
        if (status == 0x90 && d2 > 0) {
            note_on(kit, channel, d1, d2, cycle_rate);
        } else if (status == 0x80 || status == 0x90) {
            note_off(channel, d1);
        } else if (status == 0xB0 && d1 == 120) {
            all_sound_off();
        } else if (status == 0xB0 && d1 == 123) {
            all_notes_off(channel);
        }
    }

    void set_rate(std::uint32_t r) noexcept RT_NONBLOCKING {
        rate = r;
        const double frames = fade_ms * r / 1000.0;
        fade_frames = frames < 1.0 ? 1U : static_cast<std::uint32_t>(frames + 0.5);
    }
};

Engine::Engine(EngineOptions options, Published<KitRef>& kits)
    : options_(options), kits_(kits), impl_(std::make_unique<Impl>()) {
    options_.voices = std::max<std::size_t>(1, options_.voices);
    options_.fade_ms = std::clamp(options_.fade_ms, 1.0, 5.0);
    Impl& s = *impl_;
    s.polyphony = options_.voices;
    // Fading voices need entries of their own: a fade lasts at most 5 ms, so a reserve of
    // half the pool covers any burst short of that many steals within one fade.
    s.voices.resize(options_.voices + std::max<std::size_t>(16, options_.voices / 2));
    s.rr.assign(options_.max_regions, 0);
    options_.group_outs = std::min(options_.group_outs, max_group_outs);
    s.group_outs = options_.group_outs;
    s.stride = 2 * static_cast<std::size_t>(jack::max_buffer_size);
    s.mix.assign((options_.group_outs + 1) * s.stride, 0.0F);
    s.cents_inc.resize(cents_per_octave);
    for (int c = 0; c < cents_per_octave; ++c) {
        s.cents_inc[static_cast<std::size_t>(c)] =
            static_cast<std::uint64_t>(std::llround(std::exp2(c / 1200.0) * 4294967296.0));
    }
    s.fade_ms = options_.fade_ms;
    s.rng = options_.seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
    if (s.rng == 0) {
        s.rng = 1;
    }
}

Engine::~Engine() {
    // Voices still sounding hold their kit: let the store free it.
    for (Voice& v : impl_->voices) {
        if (v.active && v.kit != nullptr) {
            v.kit->voices.fetch_sub(1, std::memory_order_release);
        }
    }
}

void Engine::process(jack::Cycle& cycle) noexcept RT_NONBLOCKING {
    Impl& s = *impl_;
    if (cycle.audio_out.size() < 2) {
        for (const auto& out : cycle.audio_out) {
            std::fill(out.begin(), out.end(), 0.0F);
        }
        return;
    }
    float* l = cycle.audio_out[port_out_l].data();
    float* r = cycle.audio_out[port_out_r].data();
    const std::uint32_t n =
        cycle.nframes < jack::max_buffer_size ? cycle.nframes : jack::max_buffer_size;
    if (n == 0) {
        return;
    }
    float* acc = s.mix.data();
    std::fill(acc, acc + 2 * static_cast<std::size_t>(n), 0.0F);
    s.cycle_frames = n;
    for (std::size_t k = 1; k <= s.group_outs; ++k) {
        s.touched[k] = false;
        if (s.pair_voices[k] > 0) {
            s.use_pair(k); // voices still sounding from earlier cycles
        }
    }
    if (cycle.rate != s.rate) {
        s.set_rate(cycle.rate);
    }

    Published<KitRef>::Reader reader(kits_);
    const Kit* kit = reader ? reader->kit : nullptr;

    // Split the cycle at each MIDI event: voices render up to the event's frame, then the
    // event applies there, so a note-on at offset o makes its frame 0 sound at o exactly.
    std::uint32_t done = 0;
    if (cycle.midi_in.size() > port_midi_in) {
        for (const jack::MidiEvent& e : cycle.midi_in[port_midi_in]) {
            const std::uint32_t at = e.offset < n ? e.offset : n - 1;
            s.render_all(done, at);
            done = at > done ? at : done;
            s.midi(kit, e.bytes, cycle.rate);
        }
    }
    s.render_all(done, n);
    for (std::uint32_t i = 0; i < n; ++i) {
        l[i] = acc[2 * i];
        r[i] = acc[2 * i + 1];
    }
    for (std::size_t k = 1; k <= s.group_outs; ++k) {
        const bool played = s.touched[k];
        if (port_group_r(k) >= cycle.audio_out.size()) {
            continue; // fewer ports than pairs (a test's cycle): what played there is dropped
        }
        float* gl = cycle.audio_out[port_group_l(k)].data();
        float* gr = cycle.audio_out[port_group_r(k)].data();
        if (!played) {
            std::fill(gl, gl + n, 0.0F);
            std::fill(gr, gr + n, 0.0F);
            continue;
        }
        const float* g = s.mix.data() + k * s.stride;
        for (std::uint32_t i = 0; i < n; ++i) {
            gl[i] = g[2 * i];
            gr[i] = g[2 * i + 1];
        }
    }

    cycles_.store(cycles_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    notes_.store(s.notes, std::memory_order_relaxed);
    steals_.store(s.steals, std::memory_order_relaxed);
    chokes_.store(s.chokes, std::memory_order_relaxed);
    dropped_.store(s.dropped, std::memory_order_relaxed);
    rate_mismatch_.store(s.rate_mismatch, std::memory_order_relaxed);
    const auto active = static_cast<std::uint32_t>(s.active);
    active_.store(active, std::memory_order_relaxed);
    if (active > peak_.load(std::memory_order_relaxed)) {
        peak_.store(active, std::memory_order_relaxed);
    }
}

EngineCounters Engine::counters() const noexcept {
    EngineCounters c;
    c.cycles = cycles_.load(std::memory_order_relaxed);
    c.notes = notes_.load(std::memory_order_relaxed);
    c.steals = steals_.load(std::memory_order_relaxed);
    c.chokes = chokes_.load(std::memory_order_relaxed);
    c.dropped = dropped_.load(std::memory_order_relaxed);
    c.rate_mismatch = rate_mismatch_.load(std::memory_order_relaxed);
    c.active = active_.load(std::memory_order_relaxed);
    c.peak = peak_.load(std::memory_order_relaxed);
    return c;
}

} // namespace lockstep::sampler
