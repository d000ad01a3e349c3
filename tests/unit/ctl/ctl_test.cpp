// lockstep-ctl's parsing, typing and error messages (clients/ctl/ctl.hpp).
#include "ctl.hpp"

#include <gtest/gtest.h>

namespace lockstep::ctl {
namespace {

using osc::Arg;
using osc::Message;

Message parsed(const std::vector<std::string>& words) {
    const Parsed p = parse_command(words);
    EXPECT_TRUE(p.request) << p.error;
    return p.request ? p.request->message : Message();
}

std::string error_of(const std::vector<std::string>& words, bool raw = false) {
    const Parsed p = raw ? parse_raw(words) : parse_command(words);
    EXPECT_FALSE(p.request) << format(p.request->message);
    return p.error;
}

TEST(CtlParse, WordsBecomeTypedMessages) {
    EXPECT_EQ(parsed({"seq", "tempo", "128"}), Message("/seq/tempo", {Arg::float32(128)}));
    EXPECT_EQ(parsed({"seq", "tempo", "1000/7"}), Message("/seq/tempo", {Arg::string("1000/7")}));
    EXPECT_EQ(parsed({"seq", "tempo", "s:137.25"}), Message("/seq/tempo", {Arg::string("137.25")}));
    EXPECT_EQ(parsed({"seq", "step", "0", "4", "on"}),
              Message("/seq/step", {Arg::int32(0), Arg::int32(4), Arg::int32(1)}));
    EXPECT_EQ(parsed({"seq", "step", "2", "0", "4", "off"}),
              Message("/seq/step", {Arg::int32(2), Arg::int32(0), Arg::int32(4), Arg::int32(0)}));
    EXPECT_EQ(parsed({"seq", "step", "velocity", "1", "2", "90"}),
              Message("/seq/step/velocity", {Arg::int32(1), Arg::int32(2), Arg::int32(90)}));
    EXPECT_EQ(parsed({"seq", "tempo", "at", "4", "1", "140"}),
              Message("/seq/tempo/at", {Arg::int32(4), Arg::int32(1), Arg::float32(140)}));
    EXPECT_EQ(parsed({"seq", "play"}), Message("/seq/play"));
    EXPECT_EQ(parsed({"seq", "swing", "0.25"}), Message("/seq/swing", {Arg::float32(0.25f)}));
    EXPECT_EQ(parsed({"seq", "step", "micro", "0", "0", "-12"}),
              Message("/seq/step/micro", {Arg::int32(0), Arg::int32(0), Arg::int32(-12)}));
    EXPECT_EQ(parsed({"seq", "track", "mute", "3", "yes"}),
              Message("/seq/track/mute", {Arg::int32(3), Arg::int32(1)}));
    EXPECT_EQ(parsed({"sampler", "load", "1", "/path/kick.wav"}),
              Message("/sampler/load", {Arg::int32(1), Arg::string("/path/kick.wav")}));
    EXPECT_EQ(parsed({"sampler", "gain", "36", "-3"}),
              Message("/sampler/gain", {Arg::int32(36), Arg::float32(-3)}));
    EXPECT_EQ(parsed({"capture", "start"}), Message("/capture/start"));
    EXPECT_EQ(parsed({"capture", "autosample", "pause"}), Message("/capture/autosample/pause"));
    EXPECT_EQ(parsed({"autosample", "status"}), Message("/capture/autosample/status"));
    EXPECT_EQ(parsed({"bridge", "status"}), Message("/bridge/status"));
    EXPECT_EQ(parsed({"seq", "query"}), Message("/query"));
    EXPECT_EQ(parsed({"capture", "ping", "osc.udp://127.0.0.1:9999/"}),
              Message("/ping", {Arg::string("osc.udp://127.0.0.1:9999/")}));
    // A path instead of words.
    EXPECT_EQ(parsed({"seq", "/seq/step", "0", "4", "1"}),
              Message("/seq/step", {Arg::int32(0), Arg::int32(4), Arg::int32(1)}));
}

TEST(CtlParse, RepliesOfTheSamplerAreAsync) {
    const Parsed p = parse_command({"sampler", "load", "1", ""});
    ASSERT_TRUE(p.request);
    EXPECT_EQ(p.request->command->reply, Reply::async);
    EXPECT_EQ(parse_command({"sampler", "status"}).request->command->reply, Reply::sync);
}

TEST(CtlParse, RawSend) {
    const Parsed p = parse_raw({"seq", "/seq/swing", "f:0.2"});
    ASSERT_TRUE(p.request) << p.error;
    EXPECT_EQ(p.request->message, Message("/seq/swing", {Arg::float32(0.2f)}));
    const Parsed q = parse_raw({"seq", "/x/y", "5", "2.5", "word", "h:7", "d:1.5", "T", "s:12"});
    ASSERT_TRUE(q.request) << q.error;
    EXPECT_EQ(q.request->command, nullptr);
    EXPECT_EQ(
        q.request->message,
        Message("/x/y", {Arg::int32(5), Arg::float32(2.5f), Arg::string("word"), Arg::int64(7),
                         Arg::float64(1.5), Arg::boolean(true), Arg::string("12")}));
    EXPECT_NE(error_of({"seq", "/seq/swing", "f:abc"}, true).find("TYPE:VALUE"), std::string::npos);
    EXPECT_NE(error_of({"seq", "swing"}, true).find("must start with '/'"), std::string::npos);
}

TEST(CtlParse, RawSendOfASwitch) {
    // B: the table's on|off switch, sent as an int 1/0.
    for (const auto& [word, value] : std::vector<std::pair<std::string, int>>{
             {"B:1", 1}, {"B:0", 0}, {"B:on", 1}, {"B:off", 0}}) {
        const Parsed p = parse_raw({"seq", "/seq/track/mute", "i:3", word});
        ASSERT_TRUE(p.request) << word << ": " << p.error;
        EXPECT_EQ(p.request->message,
                  Message("/seq/track/mute", {Arg::int32(3), Arg::int32(value)}))
            << word;
    }
    EXPECT_NE(error_of({"seq", "/seq/track/mute", "B:maybe"}, true).find("TYPE:VALUE"),
              std::string::npos);
}

TEST(CtlTimeout, MillisecondsWithinADay) {
    EXPECT_EQ(parse_timeout("2000"), std::chrono::milliseconds(2000));
    EXPECT_EQ(parse_timeout("86400000"), max_timeout);
    for (const char* bad : {"0", "-5", "abc", "12x", "", "86400001", "9223372036854775807",
                            "99999999999999999999999"}) {
        EXPECT_FALSE(parse_timeout(bad)) << bad;
    }
}

TEST(CtlTimeout, AsyncCommandsWaitLongerUnlessTold) {
    const Parsed load = parse_command({"sampler", "load", "36", "/k.wav"});
    const Parsed tempo = parse_command({"seq", "tempo", "120"});
    ASSERT_TRUE(load.request && tempo.request);
    EXPECT_EQ(reply_timeout(*load.request, std::nullopt), default_async_timeout);
    EXPECT_GT(default_async_timeout, default_timeout);
    EXPECT_EQ(reply_timeout(*tempo.request, std::nullopt), default_timeout);
    EXPECT_EQ(reply_timeout(*load.request, std::chrono::milliseconds(500)),
              std::chrono::milliseconds(500));
}

TEST(CtlPaths, RelativeSampleAndKitPathsBecomeAbsolute) {
    const auto absolute = [](std::vector<std::string> words, std::string_view cwd) {
        Parsed p = parse_command(words);
        EXPECT_TRUE(p.request) << p.error;
        absolutize_paths(*p.request, cwd);
        return p.request->message;
    };
    EXPECT_EQ(absolute({"sampler", "load", "36", "kick.wav"}, "/home/me"),
              Message("/sampler/load", {Arg::int32(36), Arg::string("/home/me/kick.wav")}));
    EXPECT_EQ(absolute({"sampler", "load", "36", "../s/kick.wav"}, "/home/me/"),
              Message("/sampler/load", {Arg::int32(36), Arg::string("/home/me/../s/kick.wav")}));
    EXPECT_EQ(absolute({"sampler", "kit", "kits/909.sfz"}, "/home/me"),
              Message("/sampler/kit", {Arg::string("/home/me/kits/909.sfz")}));
    // Absolute paths, "" (unload) and other commands' strings stay as typed.
    EXPECT_EQ(absolute({"sampler", "load", "36", "/abs/kick.wav"}, "/home/me"),
              Message("/sampler/load", {Arg::int32(36), Arg::string("/abs/kick.wav")}));
    EXPECT_EQ(absolute({"sampler", "kit", ""}, "/home/me"),
              Message("/sampler/kit", {Arg::string("")}));
    EXPECT_EQ(absolute({"seq", "tempo", "1000/7"}, "/home/me"),
              Message("/seq/tempo", {Arg::string("1000/7")}));
}

TEST(CtlList, UnknownClientIsAnError) {
    const Listing bad = list_command({"sqe"});
    EXPECT_TRUE(bad.text.empty());
    EXPECT_NE(bad.error.find("unknown client 'sqe'"), std::string::npos) << bad.error;
    EXPECT_NE(bad.error.find("did you mean 'seq'"), std::string::npos) << bad.error;
    EXPECT_FALSE(list_command({"seq", "sampler"}).error.empty());
    const Listing seq = list_command({"seq"});
    EXPECT_TRUE(seq.error.empty());
    EXPECT_EQ(seq.text, list(*find_role("seq")));
    const Listing all = list_command({});
    EXPECT_TRUE(all.error.empty());
    EXPECT_NE(all.text.find("lockstep-ctl sampler load"), std::string::npos);
    EXPECT_NE(all.text.find("lockstep-ctl seq tempo"), std::string::npos);
}

TEST(CtlParse, UnknownNamesSuggestTheClosest) {
    EXPECT_NE(error_of({"sqe", "play"}).find("unknown client 'sqe' (did you mean 'seq'?)"),
              std::string::npos);
    EXPECT_NE(error_of({"zzzzzzzz", "play"}).find("unknown client"), std::string::npos);
    EXPECT_EQ(error_of({"zzzzzzzz", "play"}).find("did you mean"), std::string::npos);
    EXPECT_NE(error_of({"seq", "tempi", "120"}).find("(did you mean 'tempo'?)"), std::string::npos);
    EXPECT_NE(
        error_of({"seq", "step", "velocty", "0", "0", "9"}).find("did you mean 'step velocity'"),
        std::string::npos);
    EXPECT_NE(error_of({"capture", "strat"}).find("did you mean 'start'"), std::string::npos);
    EXPECT_NE(error_of({"seq", "/seq/tempoo", "1"}).find("did you mean /seq/tempo?"),
              std::string::npos);
    EXPECT_NE(error_of({"seq"}).find("missing command for seq"), std::string::npos);
    EXPECT_NE(error_of({}).find("missing client"), std::string::npos);
}

TEST(CtlParse, WrongArgumentsShowTheUsage) {
    const std::string count = error_of({"seq", "step", "0", "4"});
    EXPECT_NE(count.find("wrong number of arguments: /seq/step takes 3 or 4, got 2"),
              std::string::npos)
        << count;
    EXPECT_NE(count.find("usage: lockstep-ctl seq step [pattern] track step on|off"),
              std::string::npos)
        << count;
    EXPECT_NE(count.find("(/seq/step ,iii | ,iiii)"), std::string::npos) << count;
    const std::string type = error_of({"seq", "step", "0", "x", "on"});
    EXPECT_NE(type.find("argument 2 ('x') must be an integer"), std::string::npos) << type;
    EXPECT_NE(error_of({"seq", "step", "0", "4", "maybe"}).find("must be on|off"),
              std::string::npos);
    EXPECT_NE(error_of({"seq", "tempo", "120", "1"}).find("takes 1, got 2"), std::string::npos);
    // A forced type the path does not take.
    EXPECT_NE(error_of({"seq", "tempo", "i:120"}).find("argument 1"), std::string::npos);
    EXPECT_NE(error_of({"seq", "step", "0", "99999999999", "on"}).find("must be an integer"),
              std::string::npos);
}

TEST(CtlFormat, OneLinePerMessage) {
    EXPECT_EQ(
        format(Message("/capture/status", {Arg::string("idle"), Arg::string(""), Arg::int64(0),
                                           Arg::int32(0), Arg::float32(0.5f)})),
        "/capture/status \"idle\" \"\" 0 0 0.5");
    EXPECT_EQ(format(Message("/seq/tempo", {Arg::float32(128)})), "/seq/tempo 128");
    EXPECT_EQ(format(Message("/x", {Arg::string("a\"b"), Arg::boolean(false), Arg::float64(0.1)})),
              "/x \"a\\\"b\" false 0.1");
}

TEST(CtlTable, EveryRoleHasItsPortAndBuiltins) {
    EXPECT_EQ(find_role("seq")->port, 9010);
    EXPECT_EQ(find_role("sampler")->port, 9011);
    EXPECT_EQ(find_role("capture")->port, 9012);
    EXPECT_EQ(find_role("bridge")->port, 9013);
    for (const Role& r : roles()) {
        for (const char* b : {"/ping", "/query", "/subscribe", "/unsubscribe"}) {
            EXPECT_NE(find_command(r, b), nullptr) << r.name << " " << b;
        }
        for (const Command& c : r.commands) {
            // Every command can be named by its words.
            const auto words = command_words(r, c);
            std::vector<std::string> argv{std::string(r.name)};
            std::size_t start = 0;
            for (std::size_t end; (end = words.find(' ', start)) != std::string::npos;
                 start = end + 1) {
                argv.push_back(words.substr(start, end - start));
            }
            argv.push_back(words.substr(start));
            const Parsed p = parse_command(argv);
            if (p.request) {
                EXPECT_EQ(p.request->command, &c) << words;
            } else {
                EXPECT_NE(p.error.find("wrong number of arguments"), std::string::npos) << p.error;
            }
        }
    }
}

TEST(CtlDistance, Levenshtein) {
    EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
    EXPECT_EQ(edit_distance("", "abc"), 3u);
    EXPECT_EQ(edit_distance("seq", "seq"), 0u);
}

} // namespace
} // namespace lockstep::ctl
