#include "osc/decode.hpp"

#include "osc/walk.hpp"

#include <bit>

namespace lockstep::osc {

namespace {

// Collects messages while the walk checks them; thrown away if the walk fails later.
class CollectSink {
public:
    explicit CollectSink(std::vector<Element>& out) : out_(out) {}

    void begin_message(std::uint64_t timetag, std::string_view address, std::string_view tags) {
        Element& e = out_.emplace_back();
        e.timetag = timetag;
        e.message.path = std::string(address);
        e.message.args.reserve(tags.size());
    }
    void int32(char tag, std::int32_t v) {
        args().push_back(tag == 'c' ? Arg::character(static_cast<char>(v)) : Arg::int32(v));
    }
    void u32(char tag, std::uint32_t v) {
        switch (tag) {
        case 'f':
            args().push_back(Arg::float32(std::bit_cast<float>(v)));
            break;
        case 'r':
            args().push_back(Arg::rgba(v));
            break;
        default: // 'm'
            args().push_back(
                Arg::midi({static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                           static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)}));
            break;
        }
    }
    void u64(char tag, std::uint64_t v) {
        switch (tag) {
        case 'h':
            args().push_back(Arg::int64(static_cast<std::int64_t>(v)));
            break;
        case 't':
            args().push_back(Arg::timetag(v));
            break;
        default: // 'd'
            args().push_back(Arg::float64(std::bit_cast<double>(v)));
            break;
        }
    }
    void string(char tag, std::string_view v) {
        args().push_back(tag == 'S' ? Arg::symbol(v) : Arg::string(v));
    }
    void blob(std::span<const std::uint8_t> v) { args().push_back(Arg::blob(v)); }
    void flag(char tag) {
        switch (tag) {
        case 'T':
            args().push_back(Arg::boolean(true));
            break;
        case 'F':
            args().push_back(Arg::boolean(false));
            break;
        case 'N':
            args().push_back(Arg::nil());
            break;
        case 'I':
            args().push_back(Arg::impulse());
            break;
        case '[':
            args().push_back(Arg::array_begin());
            break;
        default: // ']'
            args().push_back(Arg::array_end());
            break;
        }
    }
    void end_message() {}

private:
    std::vector<Arg>& args() { return out_.back().message.args; }

    std::vector<Element>& out_;
};

} // namespace

Decoded decode(std::span<const std::uint8_t> packet, const Limits& limits) {
    Decoded result;
    CollectSink sink(result.elements);
    result.verdict = detail::Walker<CollectSink>(packet, limits, sink).run();
    if (!result.verdict.ok()) {
        result.elements.clear();
    }
    return result;
}

} // namespace lockstep::osc
