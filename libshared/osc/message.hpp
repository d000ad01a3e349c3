// OSC values as the endpoint hands them to handlers and sends them: a Message is a path
// and a list of typed arguments; encode() turns it into OSC 1.0 bytes.
// Thread: any (plain values). Control-thread code only: these allocate.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace lockstep::osc {

// OSC timetags are NTP times: seconds since 1900 in the high 32 bits, a binary fraction in
// the low 32. The value 1 means "immediately".
inline constexpr std::uint64_t kImmediate = 1;

// Now on CLOCK_REALTIME as an NTP timetag (what OSC senders put in bundles).
std::uint64_t ntp_now() noexcept;
// Nanoseconds to NTP units (2^-32 s), rounded down; and back, rounded up.
std::uint64_t ntp_from_ns(std::uint64_t ns) noexcept;
std::uint64_t ns_from_ntp(std::uint64_t ntp) noexcept;

// One OSC argument: its type tag and its value. Array brackets '[' and ']' are arguments
// without a value so that Message::types() is exactly the packet's type tag string.
class Arg {
public:
    static Arg int32(std::int32_t v) { return Arg('i', v); }
    static Arg float32(float v) { return Arg('f', v); }
    static Arg string(std::string_view v) { return Arg('s', std::string(v)); }
    static Arg symbol(std::string_view v) { return Arg('S', std::string(v)); }
    static Arg blob(std::span<const std::uint8_t> v) {
        return Arg('b', std::vector<std::uint8_t>(v.begin(), v.end()));
    }
    static Arg int64(std::int64_t v) { return Arg('h', v); }
    static Arg float64(double v) { return Arg('d', v); }
    static Arg timetag(std::uint64_t v) { return Arg('t', v); }
    static Arg character(char v) { return Arg('c', static_cast<std::int32_t>(v)); }
    static Arg rgba(std::uint32_t v) { return Arg('r', v); }
    // MIDI message: port id, status byte, data1, data2 (as OSC 1.0 orders them).
    static Arg midi(std::array<std::uint8_t, 4> v);
    static Arg boolean(bool v) { return Arg(v ? 'T' : 'F', std::monostate{}); }
    static Arg nil() { return Arg('N', std::monostate{}); }
    static Arg impulse() { return Arg('I', std::monostate{}); }
    static Arg array_begin() { return Arg('[', std::monostate{}); }
    static Arg array_end() { return Arg(']', std::monostate{}); }

    char type() const noexcept { return type_; }

    // Typed accessors; each throws std::logic_error when type() is not the one named.
    std::int32_t i() const;
    float f() const;
    const std::string& s() const; // 's' or 'S'
    const std::vector<std::uint8_t>& b() const;
    std::int64_t h() const;
    double d() const;
    std::uint64_t t() const;
    char c() const;
    std::uint32_t r() const;
    std::array<std::uint8_t, 4> m() const;
    bool boolean_value() const; // 'T' or 'F'

    // Numeric value of i, h, f, d as a double (for range checks and messages).
    bool is_number() const noexcept;
    double number() const;

    bool operator==(const Arg&) const = default;

private:
    using Value =
        std::variant<std::monostate, std::int32_t, float, std::int64_t, double, std::uint64_t,
                     std::uint32_t, std::string, std::vector<std::uint8_t>>;
    // Builds the alternative in place: moving a whole Value here made g++ 12 under ASan
    // warn -Wmaybe-uninitialized inside std::variant (a false positive, fatal with werror).
    template <typename V>
    Arg(char type, V&& value) : type_(type), value_(std::forward<V>(value)) {}
    void expect(char type) const;
    void expect(char a, char b) const;

    char type_;
    Value value_;
};

struct Message {
    std::string path;
    std::vector<Arg> args;

    Message() = default;
    explicit Message(std::string p, std::vector<Arg> a = {})
        : path(std::move(p)), args(std::move(a)) {}

    // Type tags without the leading ',' (e.g. "ifs").
    std::string types() const;

    bool operator==(const Message&) const = default;
};

// OSC 1.0 bytes of `message`. Strings stop at their first NUL (OSC strings cannot hold
// one). Throws std::length_error for a blob over 2 GiB.
std::vector<std::uint8_t> encode(const Message& message);

// A bundle with `timetag` holding already-encoded elements (messages or bundles).
std::vector<std::uint8_t> encode_bundle(std::uint64_t timetag,
                                        std::span<const std::vector<std::uint8_t>> elements);

// One line for logs and tests, e.g. "/seq/tempo ,f 120".
std::string to_string(const Message& message);

} // namespace lockstep::osc
