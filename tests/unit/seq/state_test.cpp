// lockstep-seq's state file: exact round trips, compact output, and a refusal (with a
// reason naming the field) for every kind of bad input.
#include "state.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace lockstep::seq {
namespace {

using nlohmann::json;

State round_trip(const State& s) {
    const json data = state_to_json(s);
    // Through the envelope's bytes too, as a file would go.
    const std::string text = service::serialize_state(state_spec(), data);
    const auto parsed = service::parse_state(text, state_spec(), [](const json& d, int) {
        State scratch;
        return state_from_json(d, scratch);
    });
    EXPECT_TRUE(parsed.ok) << parsed.reason;
    State back;
    EXPECT_EQ(state_from_json(parsed.data, back), "");
    return back;
}

State busy_state() {
    State s;
    s.tempo = Bpm(1000, 7);
    s.seed = 0xfedcba9876543210ULL;
    s.transport = TransportMode::follow;
    Model& m = s.model;
    m.tracks = 32;
    m.selected = 63;
    for (int t = 0; t < max_tracks; t += 3) {
        Track& tr = m.track[static_cast<std::size_t>(t)];
        tr.channel = static_cast<std::uint8_t>(t % 16);
        tr.notes = {static_cast<std::int8_t>(t), -1, 127, static_cast<std::int8_t>(t % 2 - 1)};
        tr.gate = static_cast<std::uint8_t>(1 + t * 3 % 96);
        tr.mute = t % 2 == 0;
        tr.solo = t % 5 == 0;
    }
    for (int p = 0; p < max_patterns; p += 7) {
        Pattern& pat = m.pattern[static_cast<std::size_t>(p)];
        pat.steps = static_cast<std::uint8_t>(1 + p);
        pat.beats_num = 3 + p;
        pat.beats_den = 2;
        if ((pat.beats_num % 2) == 0) {
            pat.beats_num += 1;
        }
        pat.swing = static_cast<std::int16_t>(p * 15);
        for (int t = 0; t < max_tracks; t += 5) {
            for (int k = p % 3; k < max_steps; k += 3) {
                Step& st = pat.grid[static_cast<std::size_t>(t)][static_cast<std::size_t>(k)];
                st.on = (k + t) % 2 == 0;
                st.velocity = static_cast<std::uint8_t>(1 + (k * 7 + t) % 127);
                st.probability = static_cast<std::uint8_t>((k * 13) % 101);
                st.ratchet = static_cast<std::uint8_t>(1 + k % 8);
                st.micro = static_cast<std::int8_t>(k % 97 - 48);
                st.layers = static_cast<std::uint8_t>(k % 16);
            }
        }
    }
    m.song.enabled = true;
    m.song.loop = false;
    m.song.length = max_chain;
    for (int i = 0; i < max_chain; ++i) {
        m.song.chain[static_cast<std::size_t>(i)] = {static_cast<std::uint8_t>(i % 64),
                                                     static_cast<std::uint8_t>(1 + i % 64)};
    }
    return s;
}

TEST(SeqState, DefaultsRoundTripAndAreSmall) {
    const State s;
    EXPECT_EQ(round_trip(s), s);
    const json data = state_to_json(s);
    EXPECT_TRUE(data["tracks"].empty());
    EXPECT_TRUE(data["patterns"].empty());
    EXPECT_EQ(data["tempo"], "120");
    EXPECT_EQ(check(s.model), nullptr);
}

TEST(SeqState, EmptyDataIsDefaults) {
    State s;
    s.seed = 5;
    ASSERT_EQ(state_from_json(json::object(), s), "");
    EXPECT_EQ(s, State{});
}

TEST(SeqState, BusyStateRoundTripsExactly) {
    const State s = busy_state();
    ASSERT_EQ(check(s.model), nullptr);
    EXPECT_EQ(round_trip(s), s);
}

TEST(SeqState, DemoRoundTripsAndOnlyNonDefaultFieldsAreWritten) {
    State s;
    s.model = demo_model();
    EXPECT_EQ(round_trip(s), s);
    const json data = state_to_json(s);
    ASSERT_EQ(data["patterns"].size(), 1U);
    const json& grid = data["patterns"][0]["grid"];
    EXPECT_EQ(grid.size(), 4U + 2U + 8U);
    // A step that is on with another velocity: exactly track, step, on, velocity.
    EXPECT_EQ(grid[0], (json{{"track", 0}, {"step", 0}, {"on", true}, {"velocity", 120}}));
}

TEST(SeqState, StepsBeyondLengthAndTracksBeyondCountAreKept) {
    State s;
    s.model.tracks = 2;
    s.model.pattern[5].steps = 4;
    s.model.pattern[5].grid[7][60].on = true; // track 7 unused, step 60 past the length
    s.model.track[20].mute = true;
    EXPECT_EQ(round_trip(s), s);
}

TEST(SeqState, TempoText) {
    EXPECT_EQ(parse_bpm("120"), Bpm(120));
    EXPECT_EQ(parse_bpm("137.25"), Bpm(549, 4));
    EXPECT_EQ(parse_bpm("1000/7"), Bpm(1000, 7));
    EXPECT_EQ(parse_bpm(".5e3"), std::nullopt);
    EXPECT_EQ(parse_bpm("20"), Bpm(20));
    EXPECT_EQ(parse_bpm("999"), Bpm(999));
    EXPECT_EQ(parse_bpm("999.001"), std::nullopt);
    EXPECT_EQ(parse_bpm("19.999"), std::nullopt);
    std::string why;
    EXPECT_EQ(parse_bpm("1000/0", &why), std::nullopt);
    EXPECT_NE(why.find("decimal or a fraction"), std::string::npos);
    for (const char* bad : {"", "-120", "+120", " 120", "120 ", "12a", "1/2/3", "120.", "/2", "2/",
                            "0x10", "1e2", "1234567890123456789"}) {
        EXPECT_EQ(parse_bpm(bad), std::nullopt) << bad;
    }
    EXPECT_EQ(parse_rational("4294967296/4294967296"), Rational(1)) << "reduced";
    EXPECT_EQ(parse_bpm("4294967296/4294967296"), std::nullopt) << "1 BPM: below the range";
    EXPECT_EQ(parse_bpm("120.0000000001", &why), std::nullopt);
    EXPECT_NE(why.find("precise"), std::string::npos);
    EXPECT_EQ(format_rational(Bpm(1373, 10)), "1373/10");
    EXPECT_EQ(format_rational(Bpm(120)), "120");
}

TEST(SeqState, FloatTempoToThousandths) {
    EXPECT_EQ(bpm_from_float(static_cast<double>(137.3F)), Bpm(1373, 10));
    EXPECT_EQ(bpm_from_float(120.0), Bpm(120));
    EXPECT_EQ(bpm_from_float(static_cast<double>(99.9999F)), Bpm(100));
    EXPECT_EQ(bpm_from_float(19.9), std::nullopt);
    EXPECT_EQ(bpm_from_float(999.0004), Bpm(999));
    EXPECT_EQ(bpm_from_float(1e30), std::nullopt);
    EXPECT_EQ(bpm_from_float(std::nan("")), std::nullopt);
}

struct Bad {
    const char* data;   // JSON of the data object
    const char* reason; // expected substring of the refusal
};

class SeqStateRefuses : public ::testing::TestWithParam<Bad> {};

TEST_P(SeqStateRefuses, WithAReasonNamingTheField) {
    const Bad& b = GetParam();
    const json data = json::parse(b.data);
    State s;
    const std::string why = state_from_json(data, s);
    EXPECT_NE(why.find(b.reason), std::string::npos) << "got: \"" << why << "\"";
}

INSTANTIATE_TEST_SUITE_P(
    All, SeqStateRefuses,
    ::testing::Values(
        Bad{R"([])", "data: must be an object"},
        Bad{R"({"tempo": 120})", "tempo: must be a string"},
        Bad{R"({"tempo": "abc"})", "tempo: tempo must be a decimal"},
        Bad{R"({"tempo": "1000"})", "tempo: tempo out of range"},
        Bad{R"({"seed": -1})", "seed: must be an integer 0 .."},
        Bad{R"({"seed": 1.5})", "seed: must be an integer"},
        Bad{R"({"transport": "slave"})", "transport: must be"},
        Bad{R"({"track_count": 0})", "track_count: must be an integer 1 .. 32"},
        Bad{R"({"track_count": 33})", "track_count: must be an integer 1 .. 32"},
        Bad{R"({"track_count": true})", "track_count: must be an integer"},
        Bad{R"({"track_count": 8.0})", "track_count: must be an integer"},
        Bad{R"({"selected": 64})", "selected: must be an integer 0 .. 63"},
        Bad{R"({"selected": 18446744073709551615})", "selected: must be an integer 0 .. 63"},
        Bad{R"({"bogus": 1})", "data: unknown key \"bogus\""},
        Bad{R"({"tracks": {}})", "tracks: must be an array"},
        Bad{R"({"tracks": [1]})", "tracks[0]: must be an object"},
        Bad{R"({"tracks": [{"channel": 1}]})", "tracks[0].index: is missing"},
        Bad{R"({"tracks": [{"index": 32}]})", "tracks[0].index: must be an integer 0 .. 31"},
        Bad{R"({"tracks": [{"index": 1}, {"index": 1}]})", "appears twice"},
        Bad{R"({"tracks": [{"index": 1, "channel": 0}]})",
            "tracks[0].channel: must be an integer 1 .. 16"},
        Bad{R"({"tracks": [{"index": 1, "notes": [1, 2]}]})",
            "tracks[0].notes: must hold exactly 4"},
        Bad{R"({"tracks": [{"index": 1, "notes": [1, 2, 3, 4, 5]}]})",
            "tracks[0].notes: holds more than 4"},
        Bad{R"({"tracks": [{"index": 1, "notes": [1, 2, 128, 4]}]})",
            "tracks[0].notes[2]: must be an integer -1 .. 127"},
        Bad{R"({"tracks": [{"index": 1, "notes": [1, 2, -2, 4]}]})", "tracks[0].notes[2]"},
        Bad{R"({"tracks": [{"index": 1, "gate": 0}]})",
            "tracks[0].gate: must be an integer 1 .. 96"},
        Bad{R"({"tracks": [{"index": 1, "gate": 97}]})", "tracks[0].gate"},
        Bad{R"({"tracks": [{"index": 1, "mute": 1}]})", "tracks[0].mute: must be true or false"},
        Bad{R"({"tracks": [{"index": 1, "solo": "yes"}]})",
            "tracks[0].solo: must be true or false"},
        Bad{R"({"tracks": [{"index": 1, "name": "kick"}]})", "tracks[0]: unknown key \"name\""},
        Bad{R"({"patterns": [{"steps": 4}]})", "patterns[0].index: is missing"},
        Bad{R"({"patterns": [{"index": 0}, {"index": 0}]})", "pattern 0 appears twice"},
        Bad{R"({"patterns": [{"index": 0, "steps": 0}]})",
            "patterns[0].steps: must be an integer 1 .. 64"},
        Bad{R"({"patterns": [{"index": 0, "steps": 65}]})", "patterns[0].steps"},
        Bad{R"({"patterns": [{"index": 0, "beats": 4}]})", "patterns[0].beats: must be a string"},
        Bad{R"({"patterns": [{"index": 0, "beats": "0"}]})", "patterns[0].beats: must be a length"},
        Bad{R"({"patterns": [{"index": 0, "beats": "1025"}]})", "patterns[0].beats"},
        Bad{R"({"patterns": [{"index": 0, "beats": "1/6145"}]})", "patterns[0].beats"},
        Bad{R"({"patterns": [{"index": 0, "swing": 1001}]})",
            "patterns[0].swing: must be an integer 0 .. 1000"},
        Bad{R"({"patterns": [{"index": 0, "swing": -1}]})", "patterns[0].swing"},
        Bad{R"({"patterns": [{"index": 0, "grid": [{"track": 0}]}]})",
            "patterns[0].grid[0].step: is missing"},
        Bad{R"({"patterns": [{"index": 0, "grid": [{"track": 32, "step": 0}]}]})",
            "patterns[0].grid[0].track"},
        Bad{R"({"patterns": [{"index": 0, "grid": [{"track": 0, "step": 64}]}]})",
            "patterns[0].grid[0].step"},
        Bad{R"({"patterns": [{"index": 0, "grid": [{"track": 0, "step": 1}, {"track": 0, "step": 1}]}]})",
            "step 1 of track 0 appears twice"},
        Bad{R"({"patterns": [{"index": 0, "grid": [{"track": 0, "step": 1, "on": 1}]}]})",
            "grid[0].on: must be true or false"},
        Bad{R"({"patterns": [{"index": 0, "grid": [{"track": 0, "step": 1, "velocity": 0}]}]})",
            "grid[0].velocity: must be an integer 1 .. 127"},
        Bad{R"({"patterns": [{"index": 0, "grid": [{"track": 0, "step": 1, "velocity": 128}]}]})",
            "grid[0].velocity"},
        Bad{R"({"patterns": [{"index": 0, "grid": [{"track": 0, "step": 1, "probability": 101}]}]})",
            "grid[0].probability: must be an integer 0 .. 100"},
        Bad{R"({"patterns": [{"index": 0, "grid": [{"track": 0, "step": 1, "ratchet": 0}]}]})",
            "grid[0].ratchet: must be an integer 1 .. 8"},
        Bad{R"({"patterns": [{"index": 0, "grid": [{"track": 0, "step": 1, "ratchet": 9}]}]})",
            "grid[0].ratchet"},
        Bad{R"({"patterns": [{"index": 0, "grid": [{"track": 0, "step": 1, "micro": -49}]}]})",
            "grid[0].micro: must be an integer -48 .. 48"},
        Bad{R"({"patterns": [{"index": 0, "grid": [{"track": 0, "step": 1, "micro": 49}]}]})",
            "grid[0].micro"},
        Bad{R"({"patterns": [{"index": 0, "grid": [{"track": 0, "step": 1, "layers": 16}]}]})",
            "grid[0].layers: must be an integer 0 .. 15"},
        Bad{R"({"patterns": [{"index": 0, "grid": [{"track": 0, "step": 1, "tie": true}]}]})",
            "grid[0]: unknown key \"tie\""},
        Bad{R"({"song": []})", "song: must be an object"},
        Bad{R"({"song": {"enabled": 1}})", "song.enabled: must be true or false"},
        Bad{R"({"song": {"loop": null}})", "song.loop: must be true or false"},
        Bad{R"({"song": {"chain": [{}]}})", "song.chain[0].pattern: is missing"},
        Bad{R"({"song": {"chain": [{"pattern": 64}]}})",
            "song.chain[0].pattern: must be an integer 0 .. 63"},
        Bad{R"({"song": {"chain": [{"pattern": 1, "repeats": 0}]}})",
            "song.chain[0].repeats: must be an integer 1 .. 64"},
        Bad{R"({"song": {"chain": [{"pattern": 1, "repeats": 65}]}})", "song.chain[0].repeats"},
        Bad{R"({"song": {"chain": [{"pattern": 1, "x": 65}]}})",
            "song.chain[0]: unknown key \"x\""},
        Bad{R"({"song": {"chain": [[1, 1]]}})", "song.chain[0]: must be an object"},
        Bad{R"({"song": {"mode": "song"}})", "song: unknown key \"mode\""}));

TEST(SeqState, ChainLongerThan128IsRefused) {
    json chain = json::array();
    for (int i = 0; i < 129; ++i) {
        chain.push_back({{"pattern", 0}});
    }
    State s;
    EXPECT_NE(state_from_json({{"song", {{"chain", chain}}}}, s).find("holds more than 128"),
              std::string::npos);
}

class SeqStateFile : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("seq_state_test_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
        path_ = (dir_ / "seq.json").string();
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::filesystem::path dir_;
    std::string path_;
};

TEST_F(SeqStateFile, MissingFileMeansDefaults) {
    const StateRead r = read_state_file(path_);
    EXPECT_EQ(r.status, service::StateStatus::missing);
    EXPECT_EQ(r.state, State{});
}

TEST_F(SeqStateFile, WriteThenRead) {
    const State s = busy_state();
    ASSERT_TRUE(write_state_file(path_, s));
    const StateRead r = read_state_file(path_);
    ASSERT_EQ(r.status, service::StateStatus::ok) << r.reason;
    EXPECT_EQ(r.state, s);
}

TEST_F(SeqStateFile, CorruptFileIsKeptAsideAndDefaultsUsed) {
    {
        std::ofstream out(path_);
        out << R"({"format": "lockstep-seq", "version": 1, "data": {"track_count": 99}})";
    }
    const StateRead r = read_state_file(path_);
    EXPECT_EQ(r.status, service::StateStatus::corrupt);
    EXPECT_NE(r.reason.find("track_count"), std::string::npos) << r.reason;
    EXPECT_EQ(r.kept_as, path_ + ".bad");
    EXPECT_TRUE(std::filesystem::exists(path_ + ".bad"));
    EXPECT_FALSE(std::filesystem::exists(path_));
    EXPECT_EQ(r.state, State{});
}

TEST_F(SeqStateFile, OtherFormatIsCorrupt) {
    {
        std::ofstream out(path_);
        out << R"({"format": "lockstep-sampler", "version": 1, "data": {}})";
    }
    EXPECT_EQ(read_state_file(path_).status, service::StateStatus::corrupt);
}

// The fuzz corpus doubles as a table: valid_* files load, invalid_* files are refused.
TEST(SeqStateCorpus, ValidLoadsInvalidIsRefused) {
    const char* root = std::getenv("LOCKSTEP_SOURCE_ROOT");
    ASSERT_NE(root, nullptr);
    const auto validate = [](const json& d, int) {
        State scratch;
        return state_from_json(d, scratch);
    };
    int files = 0;
    for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(root) /
                                                             "tests/fuzz/seq_state")) {
        std::ifstream in(e.path(), std::ios::binary);
        std::stringstream bytes;
        bytes << in.rdbuf();
        const auto parsed = service::parse_state(bytes.str(), state_spec(), validate);
        const std::string name = e.path().filename().string();
        if (name.rfind("valid_", 0) == 0) {
            EXPECT_TRUE(parsed.ok) << name << ": " << parsed.reason;
        } else {
            EXPECT_FALSE(parsed.ok) << name;
        }
        ++files;
    }
    EXPECT_GE(files, 10);
}

TEST(SeqModel, NormalizeClearsSlotsPastTheChain) {
    Model m = default_model();
    m.song.length = 1;
    m.song.chain[0] = {3, 2};
    m.song.chain[1] = {4, 5};
    normalize(m);
    EXPECT_EQ(m.song.chain[0], (ChainSlot{3, 2}));
    EXPECT_EQ(m.song.chain[1], ChainSlot{});
}

} // namespace
} // namespace lockstep::seq
