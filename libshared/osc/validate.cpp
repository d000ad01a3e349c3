#include "osc/validate.hpp"

#include "osc/walk.hpp"

namespace lockstep::osc {

Verdict validate(std::span<const std::uint8_t> packet, const Limits& limits) noexcept {
    detail::NullSink sink;
    return detail::Walker<detail::NullSink>(packet, limits, sink).run();
}

const char* describe(Reason reason) noexcept {
    switch (reason) {
    case Reason::ok:
        return "ok";
    case Reason::empty:
        return "empty packet";
    case Reason::too_large:
        return "packet too large";
    case Reason::size_not_multiple_of_4:
        return "packet size not a multiple of 4";
    case Reason::bad_bundle_header:
        return "bad bundle header";
    case Reason::bundle_too_deep:
        return "bundles nested too deep";
    case Reason::element_empty:
        return "empty bundle element";
    case Reason::element_size_not_multiple_of_4:
        return "bundle element size not a multiple of 4";
    case Reason::element_exceeds_bundle:
        return "bundle element size exceeds bundle";
    case Reason::address_missing_slash:
        return "address does not start with '/'";
    case Reason::address_unterminated:
        return "address not terminated";
    case Reason::address_bad_char:
        return "bad character in address";
    case Reason::type_tags_missing:
        return "type tag string missing";
    case Reason::type_tags_no_comma:
        return "type tag string does not start with ','";
    case Reason::type_tags_unterminated:
        return "type tag string not terminated";
    case Reason::padding_not_zero:
        return "padding not zero";
    case Reason::unknown_type_tag:
        return "unknown type tag";
    case Reason::array_unbalanced:
        return "unbalanced array brackets";
    case Reason::array_too_deep:
        return "arrays nested too deep";
    case Reason::too_many_args:
        return "too many arguments";
    case Reason::arg_truncated:
        return "argument cut off";
    case Reason::string_unterminated:
        return "string argument not terminated";
    case Reason::blob_size_truncated:
        return "blob size cut off";
    case Reason::blob_size_negative:
        return "negative blob size";
    case Reason::blob_exceeds_message:
        return "blob size exceeds message";
    case Reason::trailing_bytes:
        return "bytes after the last argument";
    }
    return "unknown reason";
}

} // namespace lockstep::osc
