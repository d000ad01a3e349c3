// lockstep-demo-kit DIR [RATE]: writes a small synthesised drum kit for `./lockstep demo`
// into DIR: kick.wav, snare.wav, hat_closed.wav, hat_open.wav, clap.wav (16-bit mono) and
// kit.sfz, mapped to lockstep-seq's default notes (track t plays note 36 + t): kick 36,
// snare 37, closed hat 38, clap 39, open hat 40 (the closed hat chokes the open one).
// Deterministic: the same files every time. Exit 0, or 1 with one line on stderr.
#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace {

constexpr double two_pi = 6.283185307179586;

struct Noise { // xorshift32: the same noise on every machine
    std::uint32_t s = 0x12345678U;
    double next() {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        return static_cast<double>(s) / 2147483648.0 - 1.0;
    }
};

std::vector<float> kick(double rate) {
    std::vector<float> x(static_cast<std::size_t>(0.45 * rate));
    double phase = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double t = static_cast<double>(i) / rate;
        phase += two_pi * (45.0 + 110.0 * std::exp(-t * 30.0)) / rate; // pitch drop
        x[i] = static_cast<float>(0.9 * std::sin(phase) * std::exp(-t * 7.0));
    }
    return x;
}

std::vector<float> snare(double rate) {
    std::vector<float> x(static_cast<std::size_t>(0.25 * rate));
    Noise n;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double t = static_cast<double>(i) / rate;
        const double tone = std::sin(two_pi * 190.0 * t) * std::exp(-t * 25.0);
        x[i] = static_cast<float>(0.4 * tone + 0.45 * n.next() * std::exp(-t * 16.0));
    }
    return x;
}

std::vector<float> hat(double rate, double seconds, double decay) {
    std::vector<float> x(static_cast<std::size_t>(seconds * rate));
    Noise n;
    double prev = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double t = static_cast<double>(i) / rate;
        const double w = n.next();
        x[i] = static_cast<float>(0.35 * (w - prev) * std::exp(-t * decay)); // high-passed
        prev = w;
    }
    return x;
}

std::vector<float> clap(double rate) {
    std::vector<float> x(static_cast<std::size_t>(0.3 * rate));
    Noise n;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double t = static_cast<double>(i) / rate;
        // Three quick bursts, then the tail.
        const double burst = std::fmod(t, 0.011) < 0.004 && t < 0.033 ? 1.0 : 0.0;
        const double env = t < 0.033 ? burst : std::exp(-(t - 0.033) * 18.0);
        x[i] = static_cast<float>(0.5 * n.next() * env);
    }
    return x;
}

// Every sample ends with a 10 ms linear fade to zero: no click where it stops (a click
// would also be an onset to lockstep-onsets, and a snare stopping dead on the frame the
// next hat starts would hide where the hat begins).
std::vector<float> faded(std::vector<float> x, int rate) {
    const std::size_t n = std::min(x.size(), static_cast<std::size_t>(rate / 100));
    for (std::size_t k = 0; k < n; ++k) {
        x[x.size() - 1 - k] *= static_cast<float>(k) / static_cast<float>(n);
    }
    return x;
}

bool write_wav(const std::string& path, const std::vector<float>& in, int rate) {
    const std::vector<float> x = faded(in, rate);
    SF_INFO info{};
    info.samplerate = rate;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
    if (f == nullptr) {
        std::fprintf(stderr, "lockstep-demo-kit: %s: %s\n", path.c_str(), sf_strerror(nullptr));
        return false;
    }
    const auto n = static_cast<sf_count_t>(x.size());
    const bool ok = sf_writef_float(f, x.data(), n) == n;
    sf_close(f);
    return ok;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: lockstep-demo-kit DIR [RATE]\n");
        return 2;
    }
    const std::string dir = argv[1];
    const int rate = argc == 3 ? std::atoi(argv[2]) : 48000;
    if (rate < 8000 || rate > 384000) {
        std::fprintf(stderr, "lockstep-demo-kit: rate must be 8000-384000\n");
        return 2;
    }
    const double r = rate;
    const bool ok = write_wav(dir + "/kick.wav", kick(r), rate) &&
                    write_wav(dir + "/snare.wav", snare(r), rate) &&
                    write_wav(dir + "/hat_closed.wav", hat(r, 0.08, 60.0), rate) &&
                    write_wav(dir + "/hat_open.wav", hat(r, 0.6, 6.0), rate) &&
                    write_wav(dir + "/clap.wav", clap(r), rate);
    if (!ok) {
        return 1;
    }
    std::ofstream sfz(dir + "/kit.sfz");
    sfz << "// lockstep demo kit (synthesised by lockstep-demo-kit)\n"
           "<group> loop_mode=one_shot\n"
           "<region> sample=kick.wav key=36\n"
           "<region> sample=snare.wav key=37 volume=-2\n"
           "<region> sample=hat_closed.wav key=38 pan=15 group=1\n"
           "<region> sample=clap.wav key=39 pan=-10\n"
           "<region> sample=hat_open.wav key=40 pan=15 off_by=1\n";
    if (!sfz) {
        std::fprintf(stderr, "lockstep-demo-kit: cannot write %s/kit.sfz\n", dir.c_str());
        return 1;
    }
    std::printf("%s/kit.sfz\n", dir.c_str());
    return 0;
}
