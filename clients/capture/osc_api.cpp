#include "osc_api.hpp"

#include "autosample_launch.hpp"
#include "osc/address.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace lockstep::capture {

using osc::Arg;
using osc::Message;

float to_dbfs(float linear) noexcept {
    if (!(linear > 1e-6F)) {
        return -120.0F;
    }
    return std::max(-120.0F, 20.0F * std::log10(linear));
}

Message status_message(const Engine& engine, const DiskWriter& disk) {
    const EngineStatus s = engine.status();
    const EngineCounters c = engine.counters();
    const float fill = s.ring_capacity == 0
                           ? 0.0F
                           : static_cast<float>(static_cast<double>(s.ring_fill) /
                                                static_cast<double>(s.ring_capacity));
    return Message(
        "/capture/status",
        {Arg::string(to_string(s.state)), Arg::string(disk.take_name()),
         Arg::int64(static_cast<std::int64_t>(disk.frames_written())),
         Arg::int32(static_cast<std::int32_t>(std::min<std::uint64_t>(c.overruns, INT32_MAX))),
         Arg::float32(fill)});
}

void register_osc(osc::Endpoint& endpoint, Engine& engine, DiskWriter& disk,
                  const jack::Client& client, CaptureInfo info) {
    endpoint.add("/capture/start", "", [&engine](const Message&, osc::Context& ctx) {
        if (engine.status().state == State::recording && !ctx.frame) {
            ctx.error("already recording");
            return;
        }
        if (!engine.send(ToEngine{ToEngineKind::start, ctx.frame.value_or(asap)})) {
            ctx.error("queue full");
        }
    });
    endpoint.add("/capture/stop", "", [&engine](const Message&, osc::Context& ctx) {
        if (engine.status().state != State::recording && !ctx.frame) {
            ctx.error("not recording");
            return;
        }
        if (!engine.send(ToEngine{ToEngineKind::stop, ctx.frame.value_or(asap)})) {
            ctx.error("queue full");
        }
    });
    endpoint.add("/capture/status", "", [&engine, &disk](const Message&, osc::Context& ctx) {
        ctx.reply(status_message(engine, disk));
    });
    // The autosampler as a child process, with its own OSC port (autosample_osc_port).
    register_autosample_launcher(endpoint, client.options().server,
                                 autosample_osc_port(endpoint.url()));
    endpoint.on_query([&engine, &disk, &client, &endpoint, info](osc::Context& ctx) {
        ctx.reply(status_message(engine, disk));
        ctx.reply(Message("/capture/channels",
                          {Arg::int32(static_cast<std::int32_t>(engine.options().channels))}));
        ctx.reply(Message("/capture/dir", {Arg::string(info.dir)}));
        ctx.reply(Message("/capture/format", {Arg::string(info.format), Arg::string(info.bits),
                                              Arg::boolean(info.per_channel)}));
        ctx.reply(
            Message("/capture/preroll", {Arg::float32(static_cast<float>(info.preroll_seconds))}));
        const EngineStatus s = engine.status();
        ctx.reply(Message("/capture/take", {Arg::int64(static_cast<std::int64_t>(s.take)),
                                            Arg::int64(s.take_first_frame)}));
        const EngineCounters c = engine.counters();
        const jack::ClientStats j = client.stats();
        const osc::Stats o = endpoint.stats();
        auto h = [](std::uint64_t v) { return Arg::int64(static_cast<std::int64_t>(v)); };
        ctx.reply(Message("/capture/counters",
                          {h(c.cycles), h(j.xruns), h(c.takes), h(c.overruns), h(c.overrun_frames),
                           h(c.skipped_frames), h(c.preroll_dropped), h(c.freewheel_waits),
                           h(c.freewheel_timeouts), h(disk.errors()), h(j.dsp_ns_mean),
                           h(j.dsp_ns_max), h(j.reconnects), h(o.rejected + o.malformed)}));
    });
}

MeterFeed::MeterFeed(std::uint32_t channels, std::chrono::milliseconds hold)
    : hold_(hold), hold_value_(channels, 0.0F), hold_since_(channels) {}

Message MeterFeed::message(const Engine& engine, std::chrono::steady_clock::time_point now) {
    const std::uint64_t seq = engine.meter_readings();
    if (seq == seen_) {
        return Message();
    }
    seen_ = seq;
    const std::uint32_t n = engine.options().channels;
    std::vector<Arg> args;
    args.reserve(1 + 3 * static_cast<std::size_t>(n));
    args.push_back(Arg::int32(static_cast<std::int32_t>(n)));
    for (std::uint32_t c = 0; c < n; ++c) {
        const float peak = engine.peak(c);
        if (peak >= hold_value_[c] || now - hold_since_[c] > hold_) {
            hold_value_[c] = peak;
            hold_since_[c] = now;
        }
        args.push_back(Arg::float32(to_dbfs(peak)));
        args.push_back(Arg::float32(to_dbfs(engine.rms(c))));
        args.push_back(Arg::float32(to_dbfs(hold_value_[c])));
    }
    return Message("/capture/meter", std::move(args));
}

} // namespace lockstep::capture
