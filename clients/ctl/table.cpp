#include "table.hpp"

#include <algorithm>

namespace lockstep::ctl {
namespace {

// The built-ins every endpoint has (docs/osc.md "Built-in paths").
void add_builtins(std::vector<Command>& commands) {
    for (std::string_view path : {"/ping", "/query", "/subscribe", "/unsubscribe"}) {
        commands.push_back({path, {"", "s"}, "[reply-url]", Reply::sync});
    }
}

// A step field: [pattern] track step value.
Command step(std::string_view path, char value, std::string_view usage) {
    return {
        path, {value == 'B' ? "iiB" : "iii", value == 'B' ? "iiiB" : "iiii"}, usage, Reply::sync};
}

std::vector<Role> make_roles() {
    std::vector<Role> all;

    Role seq{"seq", "/seq", 9010, "lockstep-seq", {}};
    seq.commands = {
        step("/seq/step", 'B', "[pattern] track step on|off"),
        step("/seq/step/velocity", 'i', "[pattern] track step velocity(1-127)"),
        step("/seq/step/probability", 'i', "[pattern] track step percent(0-100)"),
        step("/seq/step/ratchet", 'i', "[pattern] track step hits(1-8)"),
        step("/seq/step/micro", 'i', "[pattern] track step offset(-48-48)"),
        step("/seq/step/layers", 'i', "[pattern] track step mask(0-15)"),
        {"/seq/pattern/select", {"i"}, "pattern(0-63)"},
        {"/seq/pattern/length", {"i", "ii"}, "[pattern] steps(1-64)"},
        {"/seq/pattern/beats", {"ii", "iii"}, "[pattern] num den"},
        {"/seq/swing", {"f", "if"}, "[pattern] amount(0-1)"},
        {"/seq/pattern/copy", {"ii"}, "from to"},
        {"/seq/pattern/clear", {"", "i"}, "[pattern]"},
        {"/seq/tracks", {"i"}, "count(1-32)"},
        {"/seq/track/channel", {"ii"}, "track channel(1-16)"},
        {"/seq/track/note", {"iii"}, "track layer(0-3) note(-1-127)"},
        {"/seq/track/gate", {"ii"}, "track gate(1-96)"},
        {"/seq/track/mute", {"iB"}, "track on|off"},
        {"/seq/track/solo", {"iB"}, "track on|off"},
        {"/seq/song", {"B"}, "on|off"},
        {"/seq/song/loop", {"B"}, "on|off"},
        {"/seq/chain/set", {"ii", "iii"}, "slot pattern [repeats]"},
        {"/seq/chain/insert", {"ii", "iii"}, "slot pattern [repeats]"},
        {"/seq/chain/remove", {"i"}, "slot"},
        {"/seq/chain/clear", {""}, ""},
        {"/seq/chain/length", {"i"}, "length(0-128)"},
        {"/seq/play", {""}, ""},
        {"/seq/stop", {""}, ""},
        {"/seq/locate", {"i", "ii"}, "beats | num den"},
        {"/seq/tempo", {"f", "s"}, "bpm(20-999, or exact as s:\"1000/7\")"},
        {"/seq/tempo/at", {"iif", "iis"}, "num den bpm"},
        {"/seq/tempo/clear", {""}, ""},
    };
    all.push_back(std::move(seq));

    Role sampler{"sampler", "/sampler", 9011, "lockstep-sampler", {}};
    sampler.commands = {
        {"/sampler/kit", {"s"}, "sfz-path (\"\" unloads)", Reply::async},
        {"/sampler/load", {"is"}, "slot(0-127) wav-path (\"\" empties)", Reply::async},
        {"/sampler/gain", {"if"}, "slot dB(-144-24)", Reply::async},
        {"/sampler/pan", {"if"}, "slot pan(-100-100)", Reply::async},
        {"/sampler/tune", {"ii"}, "slot cents(-9600-9600)", Reply::async},
        {"/sampler/choke", {"ii"}, "slot group(0=none)", Reply::async},
        {"/sampler/oneshot", {"iB"}, "slot on|off", Reply::async},
        {"/sampler/output", {"ii"}, "slot pair(0-16)", Reply::async},
        {"/sampler/voices", {""}, ""},
        {"/sampler/status", {""}, ""},
        {"/sampler/counters", {""}, ""},
    };
    all.push_back(std::move(sampler));

    Role capture{"capture", "/capture", 9012, "lockstep-capture", {}};
    capture.commands = {
        {"/capture/start", {""}, ""},
        {"/capture/stop", {""}, ""},
        {"/capture/status", {""}, ""},
        {"/capture/autosample", {"s"}, "\"autosample arguments\""},
        {"/capture/autosample/pause", {""}, ""},
        {"/capture/autosample/resume", {""}, ""},
        {"/capture/autosample/cancel", {""}, ""},
        {"/capture/autosample/process", {""}, ""},
    };
    all.push_back(std::move(capture));

    Role bridge{"bridge", "/bridge", 9013, "lockstep-bridge", {}};
    bridge.commands = {{"/bridge/status", {""}, ""}};
    all.push_back(std::move(bridge));

    // The autosampling session's own port (9112 when the recorder on 9012 started it).
    Role autosample{"autosample", "/capture/autosample", 9112, "lockstep-capture autosample", {}};
    autosample.commands = {
        {"/capture/autosample/pause", {""}, ""},
        {"/capture/autosample/resume", {""}, ""},
        {"/capture/autosample/cancel", {""}, ""},
        {"/capture/autosample/status", {""}, ""},
    };
    all.push_back(std::move(autosample));

    for (Role& r : all) {
        add_builtins(r.commands);
    }
    return all;
}

} // namespace

std::span<const Role> roles() {
    static const std::vector<Role> all = make_roles();
    return all;
}

const Role* find_role(std::string_view name) {
    for (const Role& r : roles()) {
        if (r.name == name) {
            return &r;
        }
    }
    return nullptr;
}

const Command* find_command(const Role& role, std::string_view path) {
    const auto it = std::find_if(role.commands.begin(), role.commands.end(),
                                 [&](const Command& c) { return c.path == path; });
    return it == role.commands.end() ? nullptr : &*it;
}

std::string osc_types(std::string_view signature) {
    std::string t(signature);
    std::replace(t.begin(), t.end(), 'B', 'i');
    return t;
}

std::string command_words(const Role& role, const Command& command) {
    std::string_view rest = command.path;
    if (rest.starts_with(role.root) && rest.size() > role.root.size() &&
        rest[role.root.size()] == '/') {
        rest.remove_prefix(role.root.size());
    }
    std::string words(rest.substr(1));
    std::replace(words.begin(), words.end(), '/', ' ');
    return words;
}

} // namespace lockstep::ctl
