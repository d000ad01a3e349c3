// Internal to libshared/osc: the one walk over an OSC packet that both validate() and
// decode() use, so that the decoder can never accept what the validator refuses.
// A Sink receives each message and argument as it is checked; the validator's sink
// does nothing. Every read is bounds-checked against the packet before it happens.
#pragma once

#include "osc/validate.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace lockstep::osc::detail {

inline std::uint32_t load_be32(const std::uint8_t* p) noexcept {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

inline std::uint64_t load_be64(const std::uint8_t* p) noexcept {
    return (std::uint64_t{load_be32(p)} << 32) | load_be32(p + 4);
}

// The timetag that means "now" in OSC (seconds 0, fraction 1).
inline constexpr std::uint64_t kImmediateTimetag = 1;

// Does nothing: validate() uses it.
struct NullSink {
    void begin_message(std::uint64_t /*timetag*/, std::string_view /*address*/,
                       std::string_view /*tags*/) noexcept {}
    void int32(char /*tag*/, std::int32_t /*v*/) noexcept {}
    void u32(char /*tag*/, std::uint32_t /*v*/) noexcept {}
    void u64(char /*tag*/, std::uint64_t /*v*/) noexcept {}
    void string(char /*tag*/, std::string_view /*v*/) noexcept {}
    void blob(std::span<const std::uint8_t> /*v*/) noexcept {}
    void flag(char /*tag*/) noexcept {}
    void end_message() noexcept {}
};

template <typename Sink>
class Walker {
public:
    Walker(std::span<const std::uint8_t> packet, const Limits& limits, Sink& sink) noexcept
        : data_(packet.data()), size_(packet.size()), limits_(limits), sink_(sink) {}

    Verdict run() {
        if (size_ == 0 || data_ == nullptr) {
            return {Reason::empty, 0};
        }
        if (size_ > limits_.max_packet_size) {
            return {Reason::too_large, limits_.max_packet_size};
        }
        if (size_ % 4 != 0) {
            return {Reason::size_not_multiple_of_4, size_};
        }
        if (data_[0] == '#') {
            bundle(0, size_, 1, kImmediateTimetag);
        } else {
            message(0, size_, kImmediateTimetag);
        }
        return verdict_;
    }

private:
    bool fail(Reason reason, std::size_t offset) {
        verdict_ = {reason, offset};
        return false;
    }

    // [begin, end) is exactly one bundle. `outer` is the enclosing bundle's timetag: a
    // contained bundle is never scheduled before its container (OSC 1.0 requires >=).
    bool bundle(std::size_t begin, std::size_t end, int depth, std::uint64_t outer) {
        if (depth > std::min(limits_.max_bundle_depth, 64)) {
            return fail(Reason::bundle_too_deep, begin);
        }
        static constexpr char kHeader[8] = {'#', 'b', 'u', 'n', 'd', 'l', 'e', '\0'};
        if (end - begin < 16 || std::memcmp(data_ + begin, kHeader, 8) != 0) {
            return fail(Reason::bad_bundle_header, begin);
        }
        const std::uint64_t timetag = std::max(outer, load_be64(data_ + begin + 8));
        std::size_t pos = begin + 16;
        while (pos < end) {
            if (end - pos < 4) { // cannot happen while sizes are multiples of 4; kept as a guard
                return fail(Reason::element_exceeds_bundle, pos);
            }
            const std::size_t element = load_be32(data_ + pos);
            if (element == 0) {
                return fail(Reason::element_empty, pos);
            }
            if (element % 4 != 0) {
                return fail(Reason::element_size_not_multiple_of_4, pos);
            }
            if (element > end - pos - 4) {
                return fail(Reason::element_exceeds_bundle, pos);
            }
            pos += 4;
            const bool good = data_[pos] == '#' ? bundle(pos, pos + element, depth + 1, timetag)
                                                : message(pos, pos + element, timetag);
            if (!good) {
                return false;
            }
            pos += element;
        }
        return true;
    }

    // Reads an OSC string at `pos`: bytes, a NUL, then NULs up to a multiple of 4, all
    // before `end`. Advances `pos` past the padding.
    bool string(std::size_t& pos, std::size_t end, Reason unterminated, std::string_view& out) {
        const void* nul = std::memchr(data_ + pos, '\0', end - pos);
        if (nul == nullptr) {
            return fail(unterminated, pos);
        }
        const auto length =
            static_cast<std::size_t>(static_cast<const std::uint8_t*>(nul) - (data_ + pos));
        const std::size_t padded = (length / 4 + 1) * 4;
        if (padded > end - pos) {
            return fail(unterminated, pos);
        }
        for (std::size_t i = length; i < padded; ++i) {
            if (data_[pos + i] != 0) {
                return fail(Reason::padding_not_zero, pos + i);
            }
        }
        out = std::string_view(reinterpret_cast<const char*>(data_ + pos), length);
        pos += padded;
        return true;
    }

    static bool address_char_ok(char c) {
        // Printable ASCII; '#' and ',' never appear in OSC addresses, and rejecting
        // control bytes keeps log lines and /error replies clean.
        return c > ' ' && c < 0x7f && c != '#' && c != ',';
    }

    bool message(std::size_t begin, std::size_t end, std::uint64_t timetag) {
        if (data_[begin] != '/') {
            return fail(Reason::address_missing_slash, begin);
        }
        std::size_t pos = begin;
        std::string_view address;
        if (!string(pos, end, Reason::address_unterminated, address)) {
            return false;
        }
        for (std::size_t i = 0; i < address.size(); ++i) {
            if (!address_char_ok(address[i])) {
                return fail(Reason::address_bad_char, begin + i);
            }
        }
        if (pos == end) {
            return fail(Reason::type_tags_missing, pos);
        }
        if (data_[pos] != ',') {
            return fail(Reason::type_tags_no_comma, pos);
        }
        const std::size_t tags_at = pos;
        std::string_view tags;
        if (!string(pos, end, Reason::type_tags_unterminated, tags)) {
            return false;
        }
        tags.remove_prefix(1);
        if (tags.size() > limits_.max_args) {
            return fail(Reason::too_many_args, tags_at);
        }
        sink_.begin_message(timetag, address, tags);
        int arrays = 0;
        for (std::size_t t = 0; t < tags.size(); ++t) {
            const char tag = tags[t];
            const std::size_t tag_at = tags_at + 1 + t;
            switch (tag) {
            case 'i':
            case 'c':
                if (end - pos < 4) {
                    return fail(Reason::arg_truncated, pos);
                }
                sink_.int32(tag, static_cast<std::int32_t>(load_be32(data_ + pos)));
                pos += 4;
                break;
            case 'f':
            case 'r':
            case 'm':
                if (end - pos < 4) {
                    return fail(Reason::arg_truncated, pos);
                }
                sink_.u32(tag, load_be32(data_ + pos));
                pos += 4;
                break;
            case 'h':
            case 't':
            case 'd':
                if (end - pos < 8) {
                    return fail(Reason::arg_truncated, pos);
                }
                sink_.u64(tag, load_be64(data_ + pos));
                pos += 8;
                break;
            case 's':
            case 'S': {
                std::string_view text;
                if (!string(pos, end, Reason::string_unterminated, text)) {
                    return false;
                }
                sink_.string(tag, text);
                break;
            }
            case 'b': {
                if (end - pos < 4) {
                    return fail(Reason::blob_size_truncated, pos);
                }
                const auto declared = static_cast<std::int32_t>(load_be32(data_ + pos));
                if (declared < 0) {
                    return fail(Reason::blob_size_negative, pos);
                }
                const auto length = static_cast<std::size_t>(declared);
                const std::size_t padded = (length + 3) / 4 * 4;
                if (padded > end - pos - 4) {
                    return fail(Reason::blob_exceeds_message, pos);
                }
                for (std::size_t i = length; i < padded; ++i) {
                    if (data_[pos + 4 + i] != 0) {
                        return fail(Reason::padding_not_zero, pos + 4 + i);
                    }
                }
                sink_.blob(std::span<const std::uint8_t>(data_ + pos + 4, length));
                pos += 4 + padded;
                break;
            }
            case 'T':
            case 'F':
            case 'N':
            case 'I':
                sink_.flag(tag);
                break;
            case '[':
                if (++arrays > limits_.max_array_depth) {
                    return fail(Reason::array_too_deep, tag_at);
                }
                sink_.flag(tag);
                break;
            case ']':
                if (--arrays < 0) {
                    return fail(Reason::array_unbalanced, tag_at);
                }
                sink_.flag(tag);
                break;
            default:
                return fail(Reason::unknown_type_tag, tag_at);
            }
        }
        if (arrays != 0) {
            return fail(Reason::array_unbalanced, tags_at);
        }
        if (pos != end) {
            return fail(Reason::trailing_bytes, pos);
        }
        sink_.end_message();
        return true;
    }

    const std::uint8_t* data_;
    std::size_t size_;
    const Limits& limits_;
    Sink& sink_;
    Verdict verdict_{};
};

} // namespace lockstep::osc::detail
