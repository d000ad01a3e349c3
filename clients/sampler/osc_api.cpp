#include "osc_api.hpp"

#include "service/log.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <limits>
#include <mutex>

namespace lockstep::sampler {

namespace {

using osc::Arg;
using osc::Message;
using Kind = Request::Kind;

constexpr std::size_t max_path = 4095;     // PATH_MAX - 1
constexpr std::size_t max_warnings = 8;    // /sampler/warning replies per request
constexpr double max_choke = 2147483647.0; // int32 range of OSC

const char* kind_path(Kind k) {
    switch (k) {
    case Kind::kit:
    case Kind::clear_kit:
        return "/sampler/kit";
    case Kind::load:
    case Kind::unload:
        return "/sampler/load";
    case Kind::gain:
        return "/sampler/gain";
    case Kind::pan:
        return "/sampler/pan";
    case Kind::tune:
        return "/sampler/tune";
    case Kind::choke:
        return "/sampler/choke";
    case Kind::one_shot:
        return "/sampler/oneshot";
    case Kind::output:
        return "/sampler/output";
    case Kind::rate:
        return "/sampler/rate";
    }
    return "/sampler";
}

} // namespace

// Replies that leave after the handler has returned (a finished load) cannot use the
// endpoint's Context: they go out from sockets of our own, one per address family. OSC
// peers answer whoever sent to them, so the source port does not matter to them.
struct OscApi::Replies {
    std::mutex mutex;
    std::array<int, 3> fds{-1, -1, -1}; // AF_INET, AF_INET6, AF_UNIX

    ~Replies() {
        for (int fd : fds) {
            if (fd >= 0) {
                ::close(fd);
            }
        }
    }
    void send(const osc::SocketAddress& to, const std::vector<std::uint8_t>& bytes) {
        if (to.empty() || to.unnamed()) {
            return;
        }
        const int family = to.family();
        const std::size_t i = family == AF_INET ? 0 : family == AF_INET6 ? 1 : 2;
        std::lock_guard<std::mutex> lock(mutex);
        if (fds[i] < 0) {
            fds[i] = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            if (fds[i] < 0) {
                return;
            }
        }
        (void)::sendto(fds[i], bytes.data(), bytes.size(), MSG_DONTWAIT, to.get(), to.size());
    }
};

OscApi::OscApi(osc::Endpoint& endpoint, const Engine& engine, Counters counters)
    : endpoint_(endpoint), engine_(engine), counters_(std::move(counters)),
      replies_(std::make_unique<Replies>()) {
    add_paths();
}

OscApi::~OscApi() = default;

void OscApi::add_paths() {
    using osc::max_length;
    using osc::range;
    auto& e = endpoint_;
    e.add("/sampler/kit", "s", {max_length(max_path)}, [this](const Message& m, osc::Context& c) {
        Request r;
        r.path = m.args[0].s();
        r.kind = r.path.empty() ? Kind::clear_kit : Kind::kit;
        submit(std::move(r), c);
    });
    e.add("/sampler/load", "is", {range(0, slot_count - 1), max_length(max_path)},
          [this](const Message& m, osc::Context& c) {
              Request r;
              r.slot = m.args[0].i();
              r.path = m.args[1].s();
              r.kind = r.path.empty() ? Kind::unload : Kind::load;
              submit(std::move(r), c);
          });
    const auto setting = [this](Kind kind) {
        return [this, kind](const Message& m, osc::Context& c) {
            Request r;
            r.kind = kind;
            r.slot = m.args[0].i();
            r.value = m.args[1].number();
            submit(std::move(r), c);
        };
    };
    e.add("/sampler/gain", "if", {range(0, slot_count - 1), range(-144, 24)}, setting(Kind::gain));
    e.add("/sampler/pan", "if", {range(0, slot_count - 1), range(-100, 100)}, setting(Kind::pan));
    e.add("/sampler/tune", "ii", {range(0, slot_count - 1), range(-9600, 9600)},
          setting(Kind::tune));
    e.add("/sampler/choke", "ii", {range(0, slot_count - 1), range(0, max_choke)},
          setting(Kind::choke));
    e.add("/sampler/oneshot", "ii", {range(0, slot_count - 1), range(0, 1)},
          setting(Kind::one_shot));
    e.add("/sampler/output", "ii", {range(0, slot_count - 1), range(0, max_sfz_output)},
          setting(Kind::output));
    e.add("/sampler/voices", "",
          [this](const Message&, osc::Context& c) { c.reply(voices_message()); });
    e.add("/sampler/status", "",
          [this](const Message&, osc::Context& c) { c.reply(status_message()); });
    e.add("/sampler/counters", "", [this](const Message&, osc::Context& c) {
        for (const auto& [name, value] : counters_ ? counters_() : decltype(counters_())()) {
            c.reply(Message("/sampler/counter",
                            {Arg::string(name), Arg::int64(static_cast<std::int64_t>(value))}));
        }
    });
    e.on_query([this](osc::Context& c) { query(c); });
}

void OscApi::submit(Request request, osc::Context& ctx) {
    if (control_ == nullptr) {
        ctx.error("not ready");
        return;
    }
    request.reply_to = ctx.sender();
    request.osc_path = ctx.path();
    if (!control_->submit(std::move(request))) {
        ctx.error("load queue full");
    }
}

Message OscApi::kit_message(const std::string& path) {
    return Message("/sampler/kit", {Arg::string(path)});
}

Message OscApi::slot_message(Kind kind, int slot, const SlotView& v) {
    const Arg s = Arg::int32(slot);
    const SlotSettings& x = v.settings;
    switch (kind) {
    case Kind::gain:
        return Message("/sampler/gain", {s, Arg::float32(static_cast<float>(x.gain_db))});
    case Kind::pan:
        return Message("/sampler/pan", {s, Arg::float32(static_cast<float>(x.pan))});
    case Kind::tune:
        return Message("/sampler/tune", {s, Arg::int32(x.tune)});
    case Kind::choke:
        return Message("/sampler/choke", {s, Arg::int32(static_cast<std::int32_t>(x.choke))});
    case Kind::one_shot:
        return Message("/sampler/oneshot", {s, Arg::int32(x.one_shot ? 1 : 0)});
    case Kind::output:
        return Message("/sampler/output", {s, Arg::int32(x.output)});
    default:
        return Message("/sampler/load", {s, Arg::string(v.path)});
    }
}

void OscApi::send(const osc::SocketAddress& to, const Message& m) {
    replies_->send(to, osc::encode(m));
}

void OscApi::finished(const Request& r, const LoadReport& report) {
    const std::string& path = r.osc_path.empty() ? std::string(kind_path(r.kind)) : r.osc_path;
    for (std::size_t i = 0; i < report.warnings.size(); ++i) {
        log::warning("sampler: %s %s: %s", kind_path(r.kind), r.path.c_str(),
                     report.warnings[i].c_str());
        if (r.reply_to && i < max_warnings) {
            send(*r.reply_to, Message("/sampler/warning", {Arg::string(report.warnings[i])}));
        }
    }
    if (!report.ok) {
        // The current kit keeps playing; say why, to the sender and in the log.
        log::warning("sampler: %s failed, current kit kept: %s", path.c_str(),
                     report.error.c_str());
        if (r.reply_to) {
            send(*r.reply_to, Message("/error", {Arg::string(path), Arg::string(report.error)}));
        }
        return;
    }
    Message m;
    if (r.kind == Kind::rate) {
        log::notice("sampler: kit reloaded at %u Hz", static_cast<unsigned>(r.value));
        m = status_message();
    } else if (r.kind == Kind::kit || r.kind == Kind::clear_kit) {
        m = kit_message(r.path);
        log::info("sampler: kit %s loaded (%zu regions, %zu samples, %llu bytes)",
                  r.path.empty() ? "(none)" : r.path.c_str(), report.regions, report.samples,
                  static_cast<unsigned long long>(report.kit_bytes));
    } else {
        const SlotView v = control_ != nullptr
                               ? control_->view().slots[static_cast<std::size_t>(r.slot)]
                               : SlotView{};
        m = slot_message(r.kind, r.slot, v);
        if (r.kind == Kind::load || r.kind == Kind::unload) {
            log::info("sampler: slot %d: %s", r.slot, r.path.empty() ? "(empty)" : r.path.c_str());
        }
    }
    if (r.reply_to) {
        send(*r.reply_to, m);
    }
    endpoint_.notify(m);
}

Message OscApi::voices_message() const {
    const EngineCounters c = engine_.counters();
    return Message("/sampler/voices",
                   {Arg::int32(static_cast<std::int32_t>(c.active)),
                    Arg::int32(static_cast<std::int32_t>(c.peak)),
                    Arg::int32(static_cast<std::int32_t>(engine_.options().voices))});
}

Message OscApi::status_message() const {
    const ControlView v = control_ != nullptr ? control_->view() : ControlView{};
    const auto clamp32 = [](std::size_t n) {
        return static_cast<std::int32_t>(
            std::min<std::size_t>(n, std::numeric_limits<std::int32_t>::max()));
    };
    return Message(
        "/sampler/status",
        {Arg::string(v.pending > 0 ? "loading" : "idle"), Arg::int32(clamp32(v.pending)),
         Arg::string(v.kit), Arg::int32(clamp32(v.regions)), Arg::int32(clamp32(v.samples)),
         Arg::int64(static_cast<std::int64_t>(v.sample_bytes)),
         Arg::int64(static_cast<std::int64_t>(v.kit_bytes)), Arg::int32(clamp32(v.kits_alive)),
         Arg::int32(static_cast<std::int32_t>(v.rate)),
         Arg::int64(static_cast<std::int64_t>(v.done)),
         Arg::int64(static_cast<std::int64_t>(v.failed)), Arg::string(v.last_error)});
}

void OscApi::query(osc::Context& c) {
    const ControlView v = control_ != nullptr ? control_->view() : ControlView{};
    c.reply(kit_message(v.kit));
    const SlotSettings defaults;
    for (int i = 0; i < slot_count; ++i) {
        const SlotView& s = v.slots[static_cast<std::size_t>(i)];
        const SlotSettings& x = s.settings;
        const bool custom = x.gain_db != defaults.gain_db || x.pan != defaults.pan ||
                            x.tune != defaults.tune || x.choke != defaults.choke ||
                            x.one_shot != defaults.one_shot || x.output != defaults.output;
        if (s.path.empty() && !custom) {
            continue;
        }
        for (Kind k : {Kind::load, Kind::gain, Kind::pan, Kind::tune, Kind::choke, Kind::one_shot,
                       Kind::output}) {
            c.reply(slot_message(k, i, s));
        }
    }
    c.reply(voices_message());
    c.reply(status_message());
    if (counters_) {
        for (const auto& [name, value] : counters_()) {
            c.reply(Message("/sampler/counter",
                            {Arg::string(name), Arg::int64(static_cast<std::int64_t>(value))}));
        }
    }
}

} // namespace lockstep::sampler
