// lockstep-sampler's state file: what is written reads back the same; values out of range,
// duplicates and wrong types make the file corrupt (the caller keeps it aside).
#include "state.hpp"

#include <gtest/gtest.h>

namespace lockstep::sampler {
namespace {

TEST(SamplerState, RoundTripsKitAndSlots) {
    SamplerState s;
    s.kit = "/kits/808.sfz";
    s.slots[36].path = "/x/kick.wav";
    s.slots[36].settings.gain_db = -3.5;
    s.slots[40].settings.pan = 25; // settings without a file are kept too
    s.slots[41].settings.choke = 7;
    s.slots[41].settings.one_shot = false;
    s.slots[41].settings.tune = -1200;
    s.slots[42].settings.output = 16; // only the group output differs from the defaults
    const auto text = service::serialize_state(state_spec(), state_to_json(s));
    const auto parsed = service::parse_state(text, state_spec(), validate_state);
    ASSERT_TRUE(parsed.ok) << parsed.reason;
    const SamplerState back = state_from_json(parsed.data);
    EXPECT_EQ(back.kit, s.kit);
    for (int i = 0; i < slot_count; ++i) {
        const auto& a = s.slots[static_cast<std::size_t>(i)];
        const auto& b = back.slots[static_cast<std::size_t>(i)];
        EXPECT_EQ(a.path, b.path) << i;
        EXPECT_EQ(a.settings.gain_db, b.settings.gain_db) << i;
        EXPECT_EQ(a.settings.pan, b.settings.pan) << i;
        EXPECT_EQ(a.settings.tune, b.settings.tune) << i;
        EXPECT_EQ(a.settings.choke, b.settings.choke) << i;
        EXPECT_EQ(a.settings.one_shot, b.settings.one_shot) << i;
        EXPECT_EQ(a.settings.output, b.settings.output) << i;
    }
    EXPECT_EQ(back.slots[42].settings.output, 16);
    // Only slots that differ from the defaults are written.
    EXPECT_EQ(state_to_json(s).at("slots").size(), 4U);
}

TEST(SamplerState, RefusesBadValues) {
    const auto slot = [](nlohmann::json patch) {
        nlohmann::json s = {{"slot", 1}, {"path", "/a.wav"}, {"gain_db", 0},    {"pan", 0},
                            {"tune", 0}, {"choke", 0},       {"one_shot", true}};
        if (patch.is_object()) {
            s.update(patch);
        }
        return nlohmann::json{{"kit", ""}, {"slots", {s}}};
    };
    EXPECT_EQ(validate_state(slot({}), 1), "");
    for (const auto& bad :
         {slot({{"slot", 128}}), slot({{"slot", -1}}), slot({{"gain_db", 25}}),
          slot({{"pan", -101}}), slot({{"tune", 9601}}), slot({{"tune", 1.5}}),
          slot({{"choke", -1}}), slot({{"one_shot", 1}}), slot({{"path", 3}}),
          slot({{"output", 17}}), slot({{"output", -1}}), slot({{"output", 1.5}}),
          slot({{"output", "2"}}), nlohmann::json{{"kit", 5}, {"slots", nlohmann::json::array()}},
          nlohmann::json{{"kit", ""}}, nlohmann::json::array()}) {
        EXPECT_NE(validate_state(bad, 1), "") << bad.dump();
    }
    auto twice = slot({});
    twice["slots"].push_back(twice["slots"][0]);
    EXPECT_NE(validate_state(twice, 1), "");
    // A missing key throws out of json::at(): load_state_file counts that as a refusal.
    nlohmann::json missing = slot({});
    missing["slots"][0].erase("pan");
    EXPECT_ANY_THROW(validate_state(missing, 1));
}

TEST(SamplerState, OutputIsOptionalForFilesWrittenBeforeGroupOutputs) {
    nlohmann::json old = {{"kit", ""},
                          {"slots",
                           {{{"slot", 5},
                             {"path", "/a.wav"},
                             {"gain_db", 0},
                             {"pan", 0},
                             {"tune", 0},
                             {"choke", 0},
                             {"one_shot", true}}}}};
    ASSERT_EQ(validate_state(old, 1), "");
    EXPECT_EQ(state_from_json(old).slots[5].settings.output, 0);
    old["slots"][0]["output"] = 3;
    ASSERT_EQ(validate_state(old, 1), "");
    EXPECT_EQ(state_from_json(old).slots[5].settings.output, 3);
}

} // namespace
} // namespace lockstep::sampler
