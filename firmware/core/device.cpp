#include "core/device.hpp"

namespace lockstep::fw {

namespace {

TriggerScheduler::Config scheduler_config() {
    TriggerScheduler::Config c;
    c.late_tolerance_ns = Device::late_tolerance_ns;
    return c;
}

std::uint16_t to_u16(std::uint32_t v) {
    return static_cast<std::uint16_t>(v > 0xFFFFU ? 0xFFFFU : v);
}

} // namespace

Device::Device(const Config& config) : config_(config), scheduler_(scheduler_config()) {}

std::uint32_t Device::error_sum(const proto::DecoderCounters& c) {
    return c.crc_errors + c.framing_errors + c.oversize + c.unknown_type + c.bad_length +
           c.bad_field + c.bad_version;
}

DeviceTime Device::clock(DeviceTime fallback) const {
    if (config_.clock == nullptr) {
        return fallback;
    }
    const DeviceTime t = config_.clock(config_.clock_context);
    return t > fallback ? t : fallback;
}

void Device::send(const proto::Message& message) {
    std::uint8_t buffer[proto::max_wire_frame];
    const std::size_t n = proto::encode(message, seq_, buffer, sizeof buffer);
    if (n == 0 || config_.output == nullptr) {
        return;
    }
    ++seq_;
    config_.output(config_.output_context, buffer, n);
}

void Device::send_error(proto::ErrorCode code, std::uint16_t seq) {
    send(proto::Error{config_.boot_id, code, seq});
}

void Device::send_ack(std::uint16_t seq, proto::AckStatus status) {
    send(proto::Ack{config_.boot_id, seq, status});
}

void Device::connect(DeviceTime now) {
    last_rx_ = now;
    if (!host_) {
        host_ = true;
        sequencer_.host_connected();
    }
}

void Device::on_bytes(const std::uint8_t* data, std::size_t size, DeviceTime now) {
    std::uint32_t errors = error_sum(decoder_.counters());
    while (size > 0) {
        std::optional<proto::Frame> frame;
        const std::size_t used = decoder_.push(data, size, frame);
        data += used;
        size -= used;
        const std::uint32_t e = error_sum(decoder_.counters());
        if (e != errors) {
            errors = e;
            // Rate-limited (spec 4, error): line noise must not flood the host.
            if (!bad_frame_sent_ || now - last_bad_frame_ >= config_.bad_frame_interval_ns) {
                bad_frame_sent_ = true;
                last_bad_frame_ = now;
                ++counters_.bad_frame_errors_sent;
                send_error(proto::ErrorCode::bad_frame, 0);
            }
        }
        if (frame) {
            handle(*frame, now);
        }
    }
}

void Device::handle(const proto::Frame& frame, DeviceTime now) {
    using proto::Type;
    const proto::Message& m = frame.message;
    if (proto::from_device(m.type)) {
        send_error(proto::ErrorCode::wrong_direction, frame.seq);
        return;
    }
    switch (m.type) {
    case Type::hello:
        if (frame.version != proto::version || m.hello.version != proto::version) {
            // Spec 8: refuse, and ignore commands until a hello of our version.
            ready_ = false;
            send_error(proto::ErrorCode::unsupported_version, frame.seq);
            return;
        }
        ready_ = true;
        connect(now);
        send(proto::HelloReply{config_.boot_id, proto::version, m.hello.nonce,
                               static_cast<std::uint8_t>(outputs), fw_version_major,
                               fw_version_minor, fw_version_patch,
                               static_cast<std::uint16_t>(TriggerScheduler::Capacity)});
        return;
    case Type::ping: {
        if (ready_) {
            connect(now);
        }
        proto::Pong pong{config_.boot_id, frame.seq, m.ping.host_time, now, 0};
        pong.sent = clock(now);
        send(pong);
        return;
    }
    case Type::stats_request:
        if (ready_) {
            connect(now);
        }
        send(stats(clock(now)));
        return;
    default:
        break;
    }
    // Commands: trigger, step, pattern, transport.
    if (!ready_) {
        ++counters_.not_ready;
        send_error(proto::ErrorCode::not_ready, frame.seq);
        return;
    }
    connect(now);
    switch (m.type) {
    case Type::trigger: {
        if (m.trigger.at <= now) {
            ++counters_.late_on_arrival;
            send_ack(frame.seq, proto::AckStatus::late);
            return;
        }
        const std::uint32_t dropped = scheduler_.counters().dropped;
        if (!scheduler_.schedule(m.trigger.at, m.trigger.mask, m.trigger.width_us) &&
            scheduler_.counters().dropped != dropped) {
            send_ack(frame.seq, proto::AckStatus::queue_full);
            return;
        }
        // A mask with no bit below `outputs` fires nothing but is not an error (spec 4).
        const std::uint16_t depth = to_u16(scheduler_.queued());
        high_water_ = depth > high_water_ ? depth : high_water_;
        send_ack(frame.seq, proto::AckStatus::ok);
        return;
    }
    case Type::step:
        // The step carries no device time: its arrival stands for its start.
        sequencer_.set_host_step(m.step.pattern, m.step.step, m.step.tracks, now);
        break;
    case Type::pattern: {
        host_pattern_ = m.pattern;
        has_host_pattern_ = true;
        // Mirror into the pool (not undoable: it is the host's, not an edit) so that a
        // standalone continuation after host loss plays what the host played.
        Model& model = sequencer_.model_for_load();
        Pattern& p = model.patterns[m.pattern.pattern % pattern_count];
        for (unsigned t = 0; t < outputs; ++t) {
            const std::uint64_t bits = t < m.pattern.tracks ? m.pattern.masks[t] : 0;
            p.on[t] = static_cast<std::uint16_t>(bits & 0xFFFFU);
            p.accent[t] = static_cast<std::uint16_t>(p.accent[t] & p.on[t]);
        }
        break;
    }
    case Type::transport: {
        const proto::Transport& t = m.transport;
        sequencer_.set_tempo(t.tempo_mbpm / 10);
        sequencer_.host_transport(t.state != proto::TransportState::stop);
        if (t.at != 0) {
            const Position p = sequencer_.position();
            sequencer_.set_host_step(t.pattern, t.step, p.mask, t.at);
        }
        break;
    }
    default:
        return;
    }
    send_ack(frame.seq, proto::AckStatus::ok);
}

void Device::queue_step(const StepEvent& event) {
    if (event.mask == 0) {
        return;
    }
    scheduler_.schedule(event.at, event.mask, 0);
    const std::uint16_t depth = to_u16(scheduler_.queued());
    high_water_ = depth > high_water_ ? depth : high_water_;
}

void Device::poll(DeviceTime now) {
    if (host_ && now > last_rx_ && now - last_rx_ > config_.host_timeout_ns) {
        host_ = false;
        ++counters_.host_losses;
        sequencer_.host_lost(now);
    }
    if (!host_) {
        sequencer_.tick(now, [this](const StepEvent& e) { queue_step(e); });
    }
}

proto::Stats Device::stats(DeviceTime now) const {
    const proto::DecoderCounters& d = decoder_.counters();
    const TriggerScheduler::Counters s = scheduler_.counters();
    proto::Stats st{};
    st.boot_id = config_.boot_id;
    st.uptime = now;
    st.rx_frames = d.frames_ok;
    st.crc_errors = d.crc_errors;
    st.framing_errors = d.framing_errors;
    st.oversize = d.oversize;
    st.unknown_type = d.unknown_type;
    st.bad_length = d.bad_length;
    st.bad_field = d.bad_field;
    st.bad_version = d.bad_version;
    st.triggers_fired = s.fired;
    st.late_triggers = s.late + counters_.late_on_arrival;
    st.dropped_triggers = s.dropped;
    st.queue_depth = to_u16(scheduler_.queued());
    st.queue_high_water = high_water_ > st.queue_depth ? high_water_ : st.queue_depth;
    return st;
}

} // namespace lockstep::fw
