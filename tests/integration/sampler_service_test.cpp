// lockstep-sampler as a service on a real server: bad files over OSC each get a clear
// /error and change nothing (must-show 3), garbage packets do not crash it, the state file
// brings the kit back after a restart (a corrupt one is kept aside), SIGTERM ends it with
// exit 0, and it runs with stdin closed.
#include "sampler_common.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <random>

namespace lockstep::test {
namespace {

using osc::Arg;
using osc::Message;
namespace st = sampler::test;

std::string read_all(const std::string& path) {
    std::string out;
    if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
        char buf[4096];
        std::size_t n = 0;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
            out.append(buf, n);
        }
        std::fclose(f);
    }
    return out;
}

std::optional<Message> status(OscPeer& osc) {
    return request(osc, Message("/sampler/status", {}), "/sampler/status");
}

// Everything /query sends, until its /sampler/status.
std::vector<Message> query(OscPeer& osc) {
    std::vector<Message> out;
    osc.send(Message("/query", {}));
    while (auto m = osc.receive(generous)) {
        out.push_back(*m);
        if (m->path == "/sampler/status") {
            break;
        }
    }
    return out;
}

bool has(const std::vector<Message>& ms, const Message& want) {
    return std::any_of(ms.begin(), ms.end(), [&](const Message& m) { return m == want; });
}

TEST(SamplerService, BadFilesGetAClearErrorAndChangeNothing) {
    TestServer server;
    TempDir dir;
    const std::string d = dir.path();
    const std::vector<float> tone(4800, 0.25F);
    write_float_wav(d + "/good.wav", tone);
    write_text(d + "/good.sfz", "<region> sample=good.wav key=36\n");

    // The bad ones, each with what its /error must say.
    struct Bad {
        std::string file;
        std::string osc_path; // /sampler/load or /sampler/kit
        std::string reason;   // a part of the /error reason
    };
    std::vector<Bad> bad;
    {
        std::mt19937 rng(7);
        std::vector<std::uint8_t> noise(3000);
        for (auto& b : noise) {
            b = static_cast<std::uint8_t>(rng());
        }
        write_file(d + "/malformed.wav", noise);
        bad.push_back({"malformed.wav", "/sampler/load", "not"});

        auto truncated = st::wav(tone);
        truncated.resize(truncated.size() / 2);
        write_file(d + "/truncated.wav", truncated);
        bad.push_back({"truncated.wav", "/sampler/load", "truncated"});

        // Sparse: 600 MiB that take no disk space; refused before it is read.
        const int fd = ::open((d + "/huge.wav").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(::ftruncate(fd, 600LL << 20), 0);
        ::close(fd);
        bad.push_back({"huge.wav", "/sampler/load", "limit"});

        st::WavSpec adpcm;
        adpcm.tag = 0x11;
        adpcm.bits = 4;
        write_file(d + "/adpcm.wav", st::wav(std::vector<float>(1000, 0.0F), adpcm));
        bad.push_back({"adpcm.wav", "/sampler/load", "ADPCM"});

        st::WavSpec slow;
        slow.rate = 1000;
        write_file(d + "/rate.wav", st::wav(tone, slow));
        bad.push_back({"rate.wav", "/sampler/load", "rate"});

        st::WavSpec many;
        many.channels = 8;
        write_file(d + "/channels.wav", st::wav(std::vector<float>(8 * 100, 0.1F), many));
        bad.push_back({"channels.wav", "/sampler/load", "channels"});

        bad.push_back({"missing.wav", "/sampler/load", "missing"});
        bad.push_back({"", "/sampler/load", "not a regular file"}); // the directory itself

        write_text(d + "/header.sfz", "<region sample=good.wav key=36\n");
        bad.push_back({"header.sfz", "/sampler/kit", "line 1"});
        write_text(d + "/note.sfz",
                   "<region> sample=good.wav\n<region> sample=good.wav lokey=c#x\n");
        bad.push_back({"note.sfz", "/sampler/kit", "line 2: lokey"});
        write_text(d + "/include.sfz", "#include \"other.sfz\"\n");
        bad.push_back({"include.sfz", "/sampler/kit", "#include"});
        write_text(d + "/nosample.sfz", "<region> sample=adpcm.wav key=40\n");
        bad.push_back({"nosample.sfz", "/sampler/kit", "ADPCM"});
        write_file(d + "/binary.sfz", noise);
        bad.push_back({"binary.sfz", "/sampler/kit", "not an SFZ"});
    }

    SamplerProcess sampler(server, "sb");
    ASSERT_TRUE(sampler.wait_ready());
    OscPeer osc(sampler.port());
    auto r = request(osc, Message("/sampler/kit", {Arg::string(d + "/good.sfz")}), "/sampler/kit");
    ASSERT_TRUE(r && r->path == "/sampler/kit") << describe(r);
    r = request(osc, Message("/sampler/load", {Arg::int32(38), Arg::string(d + "/good.wav")}),
                "/sampler/load");
    ASSERT_TRUE(r && r->path == "/sampler/load") << describe(r);
    const auto before = query(osc);

    for (const Bad& b : bad) {
        const std::string file = b.file.empty() ? d : d + "/" + b.file;
        const Message m = b.osc_path == "/sampler/kit"
                              ? Message(b.osc_path, {Arg::string(file)})
                              : Message(b.osc_path, {Arg::int32(38), Arg::string(file)});
        r = request(osc, m, b.osc_path);
        ASSERT_TRUE(r) << b.file << ": no reply";
        EXPECT_EQ(r->path, "/error") << b.file << ": " << describe(r);
        if (r->path == "/error") {
            EXPECT_EQ(r->args[0].s(), b.osc_path);
            EXPECT_NE(r->args[1].s().find(b.reason), std::string::npos)
                << b.file << ": " << r->args[1].s();
            std::printf("%-14s -> /error %s\n", b.file.c_str(), r->args[1].s().c_str());
        }
    }
    // Nothing changed: the same kit and slot, and it still plays.
    const auto after = query(osc);
    EXPECT_TRUE(has(after, Message("/sampler/kit", {Arg::string(d + "/good.sfz")})));
    EXPECT_TRUE(
        has(after, Message("/sampler/load", {Arg::int32(38), Arg::string(d + "/good.wav")})));
    const auto s = status(osc);
    ASSERT_TRUE(s && s->args.size() == 12) << describe(s);
    EXPECT_EQ(s->args[3].i(), 2); // regions: the SFZ's and slot 38
    EXPECT_EQ(s->args[10].h(), static_cast<std::int64_t>(bad.size()));
    EXPECT_TRUE(sampler.process().running());
    // Each failure is in the log too.
    EXPECT_NE(sampler.output().find("failed, current kit kept"), std::string::npos);
    EXPECT_EQ(sampler.process().terminate(), 0) << sampler.output();
}

TEST(SamplerService, GarbagePacketsDoNotCrashIt) {
    TestServer server;
    SamplerProcess sampler(server, "sg");
    ASSERT_TRUE(sampler.wait_ready());
    OscPeer osc(sampler.port());
    // Wrong types and ranges are refused with a reason (before the garbage: /error
    // replies are limited to 200 per second).
    const std::vector<std::pair<Message, std::string>> refused = {
        {Message("/sampler/load", {Arg::string("x"), Arg::int32(1)}), "wrong types"},
        {Message("/sampler/load", {Arg::int32(128), Arg::string("/x.wav")}), "out of range"},
        {Message("/sampler/gain", {Arg::int32(1), Arg::float32(NAN)}), "finite"},
        {Message("/sampler/gain", {Arg::int32(1), Arg::float32(30)}), "out of range"},
        {Message("/sampler/pan", {Arg::int32(1), Arg::float32(101)}), "out of range"},
        {Message("/sampler/tune", {Arg::int32(1), Arg::float32(100)}), "wrong types"},
        {Message("/sampler/output", {Arg::int32(1), Arg::int32(17)}), "out of range"},
        {Message("/sampler/output", {Arg::int32(1), Arg::int32(-1)}), "out of range"},
        {Message("/sampler/nope", {}), "unknown path"},
    };
    for (const auto& [m, why] : refused) {
        const auto r = request(osc, m, "/error");
        ASSERT_TRUE(r) << m.path;
        EXPECT_EQ(r->path, "/error");
        EXPECT_NE(r->args[1].s().find(why), std::string::npos) << describe(r);
    }
    std::mt19937 rng(11);
    const auto valid = osc::encode(Message("/sampler/load", {Arg::int32(1), Arg::string("/x")}));
    for (int i = 0; i < 2000; ++i) {
        std::vector<std::uint8_t> p;
        if (i % 3 == 0) { // a valid message, cut or with bytes flipped
            p = valid;
            p.resize(static_cast<std::size_t>(rng()) % (p.size() + 1));
            if (!p.empty()) {
                p[static_cast<std::size_t>(rng()) % p.size()] ^= static_cast<std::uint8_t>(rng());
            }
        } else {
            p.resize(static_cast<std::size_t>(rng()) % 200);
            for (auto& b : p) {
                b = static_cast<std::uint8_t>(rng());
            }
            if (i % 3 == 1 && p.size() >= 8) {
                std::memcpy(p.data(), "/sampler", 8);
            }
        }
        osc.send_bytes(p);
        // Every 100 packets, wait until it has handled them (its socket buffer is finite: a
        // flood would only test the kernel's dropping). A ping may be dropped too: resend.
        if (i % 100 == 99) {
            ASSERT_TRUE(wait_until(
                [&] {
                    osc.send(Message("/ping", {}));
                    return osc.receive_path("/pong", std::chrono::milliseconds(500)).has_value();
                },
                generous))
                << "no /pong after packet " << i << "\n"
                << sampler.output();
        }
    }
    const auto pong = request(osc, Message("/ping", {}), "/pong");
    ASSERT_TRUE(pong && pong->path == "/pong") << describe(pong);
    EXPECT_TRUE(sampler.process().running());
    EXPECT_EQ(sampler.process().terminate(), 0) << sampler.output();
}

TEST(SamplerService, StateFileBringsTheKitBackAndACorruptOneIsKeptAside) {
    TestServer server;
    TempDir dir;
    const std::string d = dir.path();
    write_float_wav(d + "/hit.wav", std::vector<float>(480, 0.5F));
    write_text(d + "/kit.sfz", "<region> sample=hit.wav key=36\n");
    const std::string state = d + "/sampler.json";
    {
        SamplerProcess sampler(server, "ss1", {"--state", state, "--group-outs", "2"});
        ASSERT_TRUE(sampler.wait_ready());
        OscPeer osc(sampler.port());
        osc.send(Message("/subscribe", {}));
        for (const Message& m :
             {Message("/sampler/kit", {Arg::string(d + "/kit.sfz")}),
              Message("/sampler/load", {Arg::int32(40), Arg::string(d + "/hit.wav")}),
              Message("/sampler/gain", {Arg::int32(40), Arg::float32(-6)}),
              Message("/sampler/choke", {Arg::int32(40), Arg::int32(3)}),
              Message("/sampler/output", {Arg::int32(40), Arg::int32(2)})}) {
            const auto r = request(osc, m, m.path);
            ASSERT_TRUE(r && r->path == m.path) << describe(r);
            // Subscribers get the same message (feedback path = control path).
            const auto fb = osc.receive_path(m.path, generous);
            EXPECT_TRUE(fb && *fb == *r) << describe(fb);
        }
        EXPECT_TRUE(wait_until(
            [&] { return read_all(state).find("\"output\": 2") != std::string::npos; }, generous))
            << read_all(state);
        EXPECT_EQ(sampler.output().find("beyond --group-outs"), std::string::npos);
        EXPECT_EQ(sampler.process().terminate(), 0) << sampler.output();
    }
    {
        // Without group outputs now: slot 40 keeps output 2 and plays on the main pair, and
        // the log says so.
        SamplerProcess sampler(server, "ss2", {"--state", state});
        ASSERT_TRUE(sampler.wait_ready());
        OscPeer osc(sampler.port());
        EXPECT_TRUE(wait_until(
            [&] {
                const auto s = status(osc);
                return s && s->args[0].s() == "idle" && s->args[3].i() == 2;
            },
            generous))
            << describe(status(osc));
        const auto q = query(osc);
        EXPECT_TRUE(has(q, Message("/sampler/kit", {Arg::string(d + "/kit.sfz")})));
        EXPECT_TRUE(
            has(q, Message("/sampler/load", {Arg::int32(40), Arg::string(d + "/hit.wav")})));
        EXPECT_TRUE(has(q, Message("/sampler/gain", {Arg::int32(40), Arg::float32(-6)})));
        EXPECT_TRUE(has(q, Message("/sampler/choke", {Arg::int32(40), Arg::int32(3)})));
        EXPECT_TRUE(has(q, Message("/sampler/output", {Arg::int32(40), Arg::int32(2)})));
        EXPECT_TRUE(sampler.process().wait_for_output(
            "slot 40: output 2 is beyond --group-outs 0: played on the main pair", generous))
            << sampler.output();
        EXPECT_EQ(sampler.process().terminate(), 0) << sampler.output();
    }
    write_text(state, "{\"format\": \"sampler-state\", \"version\": 1, \"data\": {\"kit\": 5}}");
    {
        SamplerProcess sampler(server, "ss3", {"--state", state});
        ASSERT_TRUE(sampler.wait_ready());
        OscPeer osc(sampler.port());
        const auto s = status(osc);
        ASSERT_TRUE(s) << sampler.output();
        EXPECT_EQ(s->args[2].s(), ""); // defaults: no kit
        EXPECT_TRUE(std::filesystem::exists(state + ".bad")) << sampler.output();
        EXPECT_NE(read_all(state + ".bad").find("\"kit\": 5"), std::string::npos);
        EXPECT_EQ(sampler.process().terminate(), 0) << sampler.output();
    }
}

// A state with every slot set, 896 restoring requests (seven per slot), is more than the
// loader's queue holds (256): it comes back whole, and no save writes a half-restored kit
// over the file meanwhile (a SIGTERM right after start-up saves only a settled kit).
TEST(SamplerService, AFullStateComesBackWhole) {
    TestServer server;
    TempDir dir;
    const std::string d = dir.path();
    write_float_wav(d + "/hit.wav", std::vector<float>(480, 0.5F));
    const std::string state = d + "/sampler.json";
    std::string slots;
    for (int i = 0; i < 128; ++i) {
        slots += std::string(i == 0 ? "" : ",") + "{\"slot\": " + std::to_string(i) +
                 ", \"path\": \"" + d + "/hit.wav\", \"gain_db\": -1.5, \"pan\": 25, " +
                 "\"tune\": 100, \"choke\": 2, \"one_shot\": false, \"output\": 1}";
    }
    const std::string text = "{\"format\": \"sampler-state\", \"version\": 1, \"data\": "
                             "{\"kit\": \"\", \"slots\": [" +
                             slots + "]}}";
    write_text(state, text);
    const auto occurrences = [](const std::string& hay, const std::string& needle) {
        std::size_t n = 0;
        for (auto at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) {
            ++n;
        }
        return n;
    };
    {
        SamplerProcess sampler(server, "full1", {"--state", state, "--group-outs", "1"});
        ASSERT_TRUE(sampler.wait_ready());
        OscPeer osc(sampler.port());
        // One change once everything is loaded: the save that follows writes the whole view.
        // (/query cannot show it: 900 one-message replies overflow a UDP socket's buffer.)
        EXPECT_TRUE(wait_until(
            [&] {
                const auto s = status(osc);
                return s && s->args[0].s() == "idle" &&
                       occurrences(sampler.output(), "/hit.wav") == 128;
            },
            generous))
            << sampler.output();
        const auto r = request(osc, Message("/sampler/gain", {Arg::int32(0), Arg::float32(-3)}),
                               "/sampler/gain");
        ASSERT_TRUE(r && r->path == "/sampler/gain") << describe(r);
        EXPECT_TRUE(
            wait_until([&] { return read_all(state).find("-3") != std::string::npos; }, generous));
        const std::string saved = read_all(state);
        EXPECT_EQ(occurrences(saved, "\"slot\":"), 128U) << saved;
        EXPECT_EQ(occurrences(saved, "/hit.wav\""), 128U);
        EXPECT_EQ(occurrences(saved, "\"gain_db\": -1.5"), 127U);
        EXPECT_EQ(occurrences(saved, "\"tune\": 100"), 128U);
        EXPECT_EQ(occurrences(saved, "\"choke\": 2"), 128U);
        EXPECT_EQ(occurrences(saved, "\"one_shot\": false"), 128U);
        EXPECT_EQ(occurrences(saved, "\"output\": 1"), 128U);
        EXPECT_EQ(sampler.process().terminate(), 0) << sampler.output();
    }
    {
        // Restored again and not changed: SIGTERM leaves the file as it was.
        const std::string before = read_all(state);
        SamplerProcess sampler(server, "full2", {"--state", state, "--group-outs", "1"});
        ASSERT_TRUE(sampler.wait_ready());
        EXPECT_TRUE(
            wait_until([&] { return occurrences(sampler.output(), "/hit.wav") == 128; }, generous))
            << sampler.output();
        EXPECT_EQ(sampler.process().terminate(), 0) << sampler.output();
        EXPECT_EQ(read_all(state), before);
    }
}

TEST(SamplerService, RunsWithStdinClosedAndStopsOnSigterm) {
    TestServer server;
    TempDir dir;
    write_float_wav(dir.path() + "/hit.wav", std::vector<float>(480, 0.5F));
    write_text(dir.path() + "/kit.sfz", "<region> sample=hit.wav key=36\n");
    // sh closes fd 0 and execs the sampler with the rest of the arguments.
    SamplerProcess sampler(server, "si", {"--kit", dir.path() + "/kit.sfz", "--voices", "32"},
                           {"sh", "-c", "exec 0<&- \"$0\" \"$@\""});
    ASSERT_TRUE(sampler.wait_ready());
    OscPeer osc(sampler.port());
    EXPECT_TRUE(wait_until(
        [&] {
            const auto s = status(osc);
            return s && s->args[2].s() == dir.path() + "/kit.sfz";
        },
        generous));
    const auto v = request(osc, Message("/sampler/voices", {}), "/sampler/voices");
    ASSERT_TRUE(v && v->args.size() == 3) << describe(v);
    EXPECT_EQ(v->args[2].i(), 32);
    sampler.process().signal(SIGTERM);
    EXPECT_EQ(sampler.process().wait(generous), 0) << sampler.output();
    EXPECT_NE(sampler.output().find("signal 15, stopping"), std::string::npos);
    EXPECT_NE(sampler.output().find("xruns="), std::string::npos); // counters on exit
}

TEST(SamplerService, UsageErrorsExitTwo) {
    ChildProcess p({sampler_binary(), "--voices", "0"});
    EXPECT_EQ(p.wait(generous), 2) << p.output();
    ChildProcess q({sampler_binary(), "--fade-ms", "9"});
    EXPECT_EQ(q.wait(generous), 2) << q.output();
    ChildProcess g({sampler_binary(), "--group-outs", "17"});
    EXPECT_EQ(g.wait(generous), 2) << g.output();
}

} // namespace
} // namespace lockstep::test
