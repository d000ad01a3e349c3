#include "osc/message.hpp"

#include <bit>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace lockstep::osc {

namespace {

constexpr std::uint64_t kNtpUnixOffset = 2208988800ULL; // seconds from 1900 to 1970
constexpr std::uint64_t kNsPerSecond = 1000000000ULL;

void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 24));
    out.push_back(static_cast<std::uint8_t>(v >> 16));
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}

void put64(std::vector<std::uint8_t>& out, std::uint64_t v) {
    put32(out, static_cast<std::uint32_t>(v >> 32));
    put32(out, static_cast<std::uint32_t>(v));
}

void pad(std::vector<std::uint8_t>& out) {
    while (out.size() % 4 != 0) {
        out.push_back(0);
    }
}

void put_string(std::vector<std::uint8_t>& out, std::string_view s) {
    s = s.substr(0, s.find('\0'));
    out.insert(out.end(), s.begin(), s.end());
    out.push_back(0);
    pad(out);
}

} // namespace

std::uint64_t ntp_from_ns(std::uint64_t ns) noexcept {
    const std::uint64_t seconds = ns / kNsPerSecond;
    const std::uint64_t rest = ns % kNsPerSecond;
    return (seconds << 32) + (rest << 32) / kNsPerSecond;
}

std::uint64_t ns_from_ntp(std::uint64_t ntp) noexcept {
    const std::uint64_t seconds = ntp >> 32;
    const std::uint64_t fraction = ntp & 0xffffffffULL;
    return seconds * kNsPerSecond + (fraction * kNsPerSecond + 0xffffffffULL) / (1ULL << 32);
}

std::uint64_t ntp_now() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    const auto seconds = static_cast<std::uint64_t>(ts.tv_sec) + kNtpUnixOffset;
    return (seconds << 32) + ntp_from_ns(static_cast<std::uint64_t>(ts.tv_nsec));
}

Arg Arg::midi(std::array<std::uint8_t, 4> v) {
    return Arg('m', (std::uint32_t{v[0]} << 24) | (std::uint32_t{v[1]} << 16) |
                        (std::uint32_t{v[2]} << 8) | std::uint32_t{v[3]});
}

void Arg::expect(char type) const {
    if (type_ != type) {
        throw std::logic_error(std::string("osc argument is '") + type_ + "', not '" + type + "'");
    }
}

void Arg::expect(char a, char b) const {
    if (type_ != a && type_ != b) {
        expect(a);
    }
}

std::int32_t Arg::i() const {
    expect('i');
    return std::get<std::int32_t>(value_);
}
float Arg::f() const {
    expect('f');
    return std::get<float>(value_);
}
const std::string& Arg::s() const {
    expect('s', 'S');
    return std::get<std::string>(value_);
}
const std::vector<std::uint8_t>& Arg::b() const {
    expect('b');
    return std::get<std::vector<std::uint8_t>>(value_);
}
std::int64_t Arg::h() const {
    expect('h');
    return std::get<std::int64_t>(value_);
}
double Arg::d() const {
    expect('d');
    return std::get<double>(value_);
}
std::uint64_t Arg::t() const {
    expect('t');
    return std::get<std::uint64_t>(value_);
}
char Arg::c() const {
    expect('c');
    return static_cast<char>(std::get<std::int32_t>(value_));
}
std::uint32_t Arg::r() const {
    expect('r');
    return std::get<std::uint32_t>(value_);
}
std::array<std::uint8_t, 4> Arg::m() const {
    expect('m');
    const std::uint32_t v = std::get<std::uint32_t>(value_);
    return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
            static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}
bool Arg::boolean_value() const {
    expect('T', 'F');
    return type_ == 'T';
}

bool Arg::is_number() const noexcept {
    return type_ == 'i' || type_ == 'h' || type_ == 'f' || type_ == 'd';
}

double Arg::number() const {
    switch (type_) {
    case 'i':
        return std::get<std::int32_t>(value_);
    case 'h':
        return static_cast<double>(std::get<std::int64_t>(value_));
    case 'f':
        return std::get<float>(value_);
    case 'd':
        return std::get<double>(value_);
    default:
        throw std::logic_error(std::string("osc argument '") + type_ + "' is not a number");
    }
}

std::string Message::types() const {
    std::string t;
    t.reserve(args.size());
    for (const Arg& a : args) {
        t.push_back(a.type());
    }
    return t;
}

std::vector<std::uint8_t> encode(const Message& message) {
    std::vector<std::uint8_t> out;
    put_string(out, message.path);
    put_string(out, "," + message.types());
    for (const Arg& a : message.args) {
        switch (a.type()) {
        case 'i':
            put32(out, static_cast<std::uint32_t>(a.i()));
            break;
        case 'c':
            put32(out, static_cast<std::uint32_t>(static_cast<unsigned char>(a.c())));
            break;
        case 'f':
            put32(out, std::bit_cast<std::uint32_t>(a.f()));
            break;
        case 'r':
            put32(out, a.r());
            break;
        case 'm': {
            const auto m = a.m();
            out.insert(out.end(), m.begin(), m.end());
            break;
        }
        case 'h':
            put64(out, static_cast<std::uint64_t>(a.h()));
            break;
        case 't':
            put64(out, a.t());
            break;
        case 'd':
            put64(out, std::bit_cast<std::uint64_t>(a.d()));
            break;
        case 's':
        case 'S':
            put_string(out, a.s());
            break;
        case 'b': {
            const auto& blob = a.b();
            if (blob.size() > 0x7fffffffU) {
                throw std::length_error("osc blob larger than 2 GiB");
            }
            put32(out, static_cast<std::uint32_t>(blob.size()));
            out.insert(out.end(), blob.begin(), blob.end());
            pad(out);
            break;
        }
        default: // T F N I [ ]: no bytes
            break;
        }
    }
    return out;
}

std::vector<std::uint8_t> encode_bundle(std::uint64_t timetag,
                                        std::span<const std::vector<std::uint8_t>> elements) {
    std::vector<std::uint8_t> out = {'#', 'b', 'u', 'n', 'd', 'l', 'e', '\0'};
    put64(out, timetag);
    for (const auto& e : elements) {
        put32(out, static_cast<std::uint32_t>(e.size()));
        out.insert(out.end(), e.begin(), e.end());
    }
    return out;
}

std::string to_string(const Message& message) {
    std::string line = message.path + " ," + message.types();
    char number[64];
    for (const Arg& a : message.args) {
        switch (a.type()) {
        case 'i':
        case 'h':
            std::snprintf(number, sizeof number, " %" PRId64,
                          a.type() == 'i' ? std::int64_t{a.i()} : a.h());
            line += number;
            break;
        case 'f':
        case 'd':
            std::snprintf(number, sizeof number, " %g", a.number());
            line += number;
            break;
        case 's':
        case 'S':
            line += " \"" + a.s() + "\"";
            break;
        case 'b':
            std::snprintf(number, sizeof number, " <%zu bytes>", a.b().size());
            line += number;
            break;
        case 't':
            std::snprintf(number, sizeof number, " %016" PRIx64, a.t());
            line += number;
            break;
        case 'c':
            line += " '";
            line += a.c();
            line += "'";
            break;
        case 'r':
        case 'm':
            std::snprintf(number, sizeof number, " %08" PRIx32,
                          a.type() == 'r'
                              ? a.r()
                              : (std::uint32_t{a.m()[0]} << 24 | std::uint32_t{a.m()[1]} << 16 |
                                 std::uint32_t{a.m()[2]} << 8 | a.m()[3]));
            line += number;
            break;
        default:
            line += ' ';
            line += a.type();
            break;
        }
    }
    return line;
}

} // namespace lockstep::osc
