#include "osc_api.hpp"

namespace lockstep::bridge {

using osc::Arg;
using osc::Message;

namespace {
Arg h(std::uint64_t v) {
    return Arg::int64(static_cast<std::int64_t>(v));
}
} // namespace

Message status_message(const Link& link, const Engine& engine) {
    const LinkStatus s = link.status();
    const EngineCounts c = engine.counts();
    return Message("/bridge/status",
                   {Arg::string(to_string(s.state)), Arg::string(s.device), h(s.boot_id),
                    Arg::float64(s.offset_ns), Arg::float64(s.drift_ppm), Arg::int64(s.rtt_min_ns),
                    Arg::int64(s.rtt_median_ns), Arg::int64(s.rtt_max_ns),
                    Arg::float64(s.residual_ns), h(s.triggers_sent), h(c.late + s.device_late),
                    h(s.dropped + c.overflow + s.device_full), h(c.unsynced), h(s.garbage_bytes),
                    h(s.reconnects)});
}

void register_osc(osc::Endpoint& endpoint, const Link& link, const Engine& engine,
                  const jack::Client& client, std::string map) {
    endpoint.add("/bridge/status", "", [&link, &engine](const Message&, osc::Context& ctx) {
        ctx.reply(status_message(link, engine));
    });
    endpoint.on_query([&link, &engine, &client, &endpoint, map](osc::Context& ctx) {
        ctx.reply(status_message(link, engine));
        const LinkStatus s = link.status();
        const EngineCounts c = engine.counts();
        const jack::ClientStats j = client.stats();
        const osc::Stats o = endpoint.stats();
        ctx.reply(Message("/bridge/device", {Arg::string(s.device), h(s.boot_id),
                                             Arg::int32(s.outputs), Arg::string(s.firmware)}));
        ctx.reply(Message("/bridge/map", {Arg::string(map)}));
        ctx.reply(Message("/bridge/counters", {h(c.triggers),
                                               h(c.queued),
                                               h(s.triggers_sent),
                                               h(c.late),
                                               h(s.device_late),
                                               h(c.unsynced),
                                               h(s.dropped),
                                               h(c.overflow),
                                               h(s.device_full),
                                               h(c.steps),
                                               h(s.steps_sent),
                                               h(c.malformed),
                                               h(s.garbage_bytes),
                                               h(s.bad_frames),
                                               h(s.device_errors),
                                               h(s.handshakes),
                                               h(s.reboots),
                                               h(s.reconnects),
                                               h(s.stale_pongs),
                                               h(s.pongs),
                                               h(s.write_failures),
                                               Arg::int64(c.min_slack_ns),
                                               h(j.xruns),
                                               h(j.reconnects),
                                               h(o.rejected + o.malformed),
                                               h(s.box_fired),
                                               h(s.box_late),
                                               h(s.box_dropped)}));
    });
}

} // namespace lockstep::bridge
