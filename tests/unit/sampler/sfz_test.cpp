// SFZ subset parser: inheritance, note names, round robin/random, choke, envelope, and one
// clear error (with its line) for each kind of malformed input.
#include "sfz.hpp"

#include <gtest/gtest.h>

#include <string>

namespace lockstep::sampler {
namespace {

TEST(Sfz, InheritsGlobalGroupRegionAndAppliesDefaultPath) {
    const auto r = parse_sfz(R"(
// a comment
<control> default_path=Kit Samples\
<global> volume=-6 ampeg_release=0.25
<group> group=1 off_by=2 loop_mode=one_shot lovel=10
<region> sample=kick soft.wav key=c2 /* inline */ hivel=63
<region> sample=kick hard.wav key=36 lovel=64 pan=-50
<group> seq_length=2 tune=-12 transpose=1
<region> sample=snare1.wav lokey=d2 hikey=D#2 pitch_keycenter=38 seq_position=1
<region> sample=snare2.wav lokey=38 hikey=39 seq_position=2 lorand=0.5 hirand=1
)");
    ASSERT_TRUE(r.ok) << r.error;
    const auto& regs = r.document.regions;
    ASSERT_EQ(regs.size(), 4U);
    EXPECT_EQ(regs[0].sample, "Kit Samples/kick soft.wav");
    EXPECT_EQ(regs[0].lokey, 36);
    EXPECT_EQ(regs[0].hikey, 36);
    EXPECT_EQ(regs[0].pitch_keycenter, 36);
    EXPECT_EQ(regs[0].lovel, 10);
    EXPECT_EQ(regs[0].hivel, 63);
    EXPECT_EQ(regs[0].group, 1);
    EXPECT_EQ(regs[0].off_by, 2);
    EXPECT_EQ(regs[0].loop_mode, LoopMode::one_shot);
    EXPECT_DOUBLE_EQ(regs[0].volume, -6.0);
    EXPECT_DOUBLE_EQ(regs[0].ampeg_release, 0.25);
    EXPECT_EQ(regs[1].lovel, 64);
    EXPECT_DOUBLE_EQ(regs[1].pan, -50.0);
    EXPECT_EQ(regs[2].lokey, 38);
    EXPECT_EQ(regs[2].hikey, 39);
    EXPECT_EQ(regs[2].seq_length, 2);
    EXPECT_EQ(regs[2].seq_position, 1);
    EXPECT_EQ(regs[2].tune, -12);
    EXPECT_EQ(regs[2].transpose, 1);
    EXPECT_EQ(regs[2].group, 0) << "a new <group> starts from <global>";
    EXPECT_EQ(regs[2].loop_mode, LoopMode::gated);
    EXPECT_DOUBLE_EQ(regs[3].lorand, 0.5);
    EXPECT_EQ(regs[3].seq_position, 2);
    EXPECT_TRUE(r.document.warnings.empty());
}

TEST(Sfz, NoteNames) {
    EXPECT_EQ(parse_note("c4"), 60);
    EXPECT_EQ(parse_note("C#4"), 61);
    EXPECT_EQ(parse_note("db4"), 61);
    EXPECT_EQ(parse_note("c-1"), 0);
    EXPECT_EQ(parse_note("g9"), 127);
    EXPECT_EQ(parse_note("g#9"), -1);
    EXPECT_EQ(parse_note("cb-1"), -1);
    EXPECT_EQ(parse_note("h3"), -1);
    EXPECT_EQ(parse_note("128"), -1);
    EXPECT_EQ(parse_note("a"), -1);
}

TEST(Sfz, UnknownOpcodesWarnOnceAndAreIgnored) {
    const auto r = parse_sfz("<region> sample=a.wav amp_veltrack=50 cutoff=100\n"
                             "<region> sample=b.wav amp_veltrack=20\n<curve> v000=0\n"
                             "<curve> v001=1\n<region> sample=c.wav loop_mode=loop_continuous\n");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.document.regions.size(), 3U);
    ASSERT_EQ(r.document.warnings.size(), 4U);
    EXPECT_NE(r.document.warnings[0].find("line 1: unsupported opcode 'amp_veltrack'"),
              std::string::npos);
    EXPECT_NE(r.document.warnings[1].find("'cutoff'"), std::string::npos);
    EXPECT_NE(r.document.warnings[2].find("line 3: unsupported header <curve>"), std::string::npos);
    EXPECT_NE(r.document.warnings[3].find("loop_continuous"), std::string::npos);
}

TEST(Sfz, OutputIsInheritedAndDefaultsToTheMainPair) {
    const auto r = parse_sfz(R"(
<region> sample=main.wav
<global> output=1
<region> sample=g1.wav
<master> output=3
<group> lovel=1
<region> sample=g3.wav
<region> sample=g16.wav output=16
<group> output=0
<region> sample=back.wav
)");
    ASSERT_TRUE(r.ok) << r.error;
    const auto& regs = r.document.regions;
    ASSERT_EQ(regs.size(), 5U);
    EXPECT_EQ(regs[0].output, 0) << "default: the main pair";
    EXPECT_EQ(regs[1].output, 1) << "from <global>";
    EXPECT_EQ(regs[2].output, 3) << "from <master> through <group>";
    EXPECT_EQ(regs[3].output, 16);
    EXPECT_EQ(regs[4].output, 0) << "a <group> may send its regions back to the main pair";
    EXPECT_TRUE(r.document.warnings.empty()) << r.document.warnings.front();
}

struct BadCase {
    const char* text;
    int line;
    const char* expect;
};

TEST(Sfz, MalformedInputGivesOneClearErrorWithItsLine) {
    const BadCase cases[] = {
        {"<region> sample=a.wav\n<region lokey=3", 2, "no closing '>'"},
        {"<region> sample=a.wav lokey=300", 1, "not a MIDI note"},
        {"\n<region> sample=a.wav lovel=abc", 2, "not an integer"},
        {"<region> sample=a.wav volume=loud", 1, "not a number"},
        {"<region> sample=a.wav pan=101", 1, "out of range"},
        {"<region> sample=a.wav lokey=60 hikey=40", 1, "above hikey"},
        {"<region> sample=a.wav\n\n<region> key=60", 3, "no sample"},
        {"<region> sample=a.wav seq_length=2 seq_position=3", 1, "beyond seq_length"},
        {"#define $KICK 36\n<region> sample=a.wav", 1, "not supported"},
        {"<region>\n#include \"other.sfz\"", 2, "not supported"},
        {"<region> sample=a.wav\nlokey", 2, "expected an opcode"},
        {"<region> =5 sample=a.wav", 1, "expected an opcode"},
        {"<region> sample=", 1, "empty value"},
        {"<region> sample=a.wav loop_mode=forever", 1, "loop_mode"},
        {"<reg-ion> sample=a.wav", 1, "malformed header"},
        {"<region> sample=a.wav lorand=0.5 hirand=0.5", 1, "lorand >= hirand"},
        {"<region> sample=a.wav ampeg_attack=-1", 1, "out of range"},
        {"<region> sample=a.wav tune=1e999", 1, "not an integer"},
        {"<region> sample=a.wav output=17", 1, "output: 17 is out of range (0 to 16)"},
        {"<region> sample=a.wav\n<group> output=-1", 2, "output: -1 is out of range"},
        {"<region> sample=a.wav output=1.5", 1, "output: '1.5' is not an integer"},
        {"<region> sample=a.wav output=main", 1, "not an integer"},
    };
    for (const auto& c : cases) {
        const auto r = parse_sfz(c.text);
        EXPECT_FALSE(r.ok) << c.text;
        EXPECT_EQ(r.error_line, c.line) << c.text << " -> " << r.error;
        EXPECT_NE(r.error.find(c.expect), std::string::npos) << c.text << " -> " << r.error;
        EXPECT_EQ(r.error.rfind("line " + std::to_string(c.line) + ": ", 0), 0U) << r.error;
        EXPECT_TRUE(r.document.regions.empty());
    }
}

TEST(Sfz, Limits) {
    SfzLimits limits;
    limits.max_bytes = 100;
    limits.max_line = 40;
    limits.max_regions = 2;
    EXPECT_NE(parse_sfz(std::string(101, ' '), limits).error.find("limit is 100"),
              std::string::npos);
    const auto long_line = parse_sfz("<region>\n<region> sample=" + std::string(40, 'a'), limits);
    EXPECT_EQ(long_line.error_line, 2);
    EXPECT_NE(long_line.error.find("limit is 40"), std::string::npos);
    const auto many = parse_sfz("<region> sample=a\n<region> sample=b\n<region> sample=c", limits);
    EXPECT_EQ(many.error_line, 3);
    EXPECT_NE(many.error.find("more than 2 regions"), std::string::npos);
    EXPECT_NE(parse_sfz(std::string("<region> sample=a\0b", 19)).error.find("NUL"),
              std::string::npos);
}

TEST(Sfz, EmptyAndCommentOnlyFilesHaveNoRegions) {
    EXPECT_TRUE(parse_sfz("").ok);
    const auto r = parse_sfz("/* nothing\n here */ // at all\n");
    EXPECT_TRUE(r.ok);
    EXPECT_TRUE(r.document.regions.empty());
}

} // namespace
} // namespace lockstep::sampler
