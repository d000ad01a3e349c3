// The SD-card project format: round trips, the documented layout, and corrupt, truncated,
// foreign or future files rejected without touching the model.
#include "core/project.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

namespace {

using lockstep::fw::Model;
using lockstep::fw::outputs;
using lockstep::fw::Sequencer;
namespace project = lockstep::fw::project;
using project::Status;

Model random_model(std::mt19937_64& rng) {
    const auto r = [&](std::uint32_t n) { return static_cast<std::uint32_t>(rng() % n); };
    Model m = lockstep::fw::default_model();
    for (auto& p : m.patterns) {
        for (unsigned t = 0; t < outputs; ++t) {
            p.on[t] = static_cast<std::uint16_t>(rng());
            p.accent[t] = static_cast<std::uint16_t>(rng() & p.on[t]);
        }
    }
    for (auto& s : m.chain) {
        s.pattern = static_cast<std::uint8_t>(r(64));
        s.repeats = static_cast<std::uint8_t>(1 + r(64));
    }
    m.chain_length = static_cast<std::uint8_t>(r(129));
    m.selected = static_cast<std::uint8_t>(r(64));
    m.song_mode = r(2) != 0;
    m.song_loop = r(2) != 0;
    m.tempo_bpm100 = 1000 + r(99001);
    m.swing = static_cast<std::uint16_t>(r(1001));
    m.mutes = static_cast<std::uint16_t>(rng() & ((1U << outputs) - 1U));
    return m;
}

// An independent writer of the documented layout, for any track count.
std::vector<std::uint8_t> encode(const Model& m, unsigned tracks, std::uint16_t version = 1) {
    std::vector<std::uint8_t> f;
    const auto u8 = [&](unsigned v) { f.push_back(static_cast<std::uint8_t>(v)); };
    const auto u16 = [&](unsigned v) {
        u8(v & 0xFF);
        u8(v >> 8);
    };
    const auto u32 = [&](std::uint32_t v) {
        u16(v & 0xFFFF);
        u16(v >> 16);
    };
    for (char c : {'L', 'S', 'P', 'J'}) {
        u8(static_cast<unsigned char>(c));
    }
    u16(version);
    u16(tracks);
    u32(static_cast<std::uint32_t>(284 + 256 * tracks));
    u32(m.tempo_bpm100);
    u16(m.swing);
    u16(m.mutes & ((1U << tracks) - 1U));
    u8(m.selected);
    u8((m.song_mode ? 1U : 0U) | (m.song_loop ? 2U : 0U));
    u8(m.chain_length);
    u8(0);
    for (const auto& s : m.chain) {
        u8(s.pattern);
        u8(s.repeats);
    }
    for (const auto& p : m.patterns) {
        for (unsigned t = 0; t < tracks; ++t) {
            u16(t < outputs ? p.on[t] : 0U); // a wider file than this build: empty tracks
            u16(t < outputs ? p.accent[t] : 0U);
        }
    }
    u32(project::crc32(f.data(), f.size()));
    return f;
}

void refresh_crc(std::vector<std::uint8_t>& f) {
    const std::uint32_t crc = project::crc32(f.data(), f.size() - 4);
    for (unsigned i = 0; i < 4; ++i) {
        f[f.size() - 4 + i] = static_cast<std::uint8_t>(crc >> (8 * i));
    }
}

std::vector<std::uint8_t> save(const Model& m) {
    std::vector<std::uint8_t> f(project::max_file_size + 16);
    const std::size_t n = project::save(m, f.data(), f.size());
    EXPECT_EQ(n, project::file_size(outputs));
    f.resize(n);
    return f;
}

// A sequencer holding some state and an undo history, to show that a rejected file leaves
// both alone.
struct Target {
    Sequencer seq;
    Model before;
    explicit Target(std::uint64_t seed) {
        std::mt19937_64 rng(seed);
        seq.model_for_load() = random_model(rng);
        seq.loaded();
        seq.set_step(0, 0, 0, (seq.model().patterns[0].on[0] & 1U) == 0);
        before = seq.model();
    }
    void expect_rejected(const std::vector<std::uint8_t>& f, Status why, const char* what) {
        const Status s = project::load(seq, f.data(), f.size());
        EXPECT_EQ(s, why) << what << ": " << project::to_string(s);
        EXPECT_EQ(seq.model(), before) << what;
        EXPECT_EQ(seq.undo_depth(), 1U) << what;
    }
};

TEST(Project, Crc32CheckValue) {
    const char* text = "123456789";
    EXPECT_EQ(project::crc32(reinterpret_cast<const std::uint8_t*>(text), 9), 0xCBF43926U);
    // Continuing a CRC equals one pass.
    const auto* b = reinterpret_cast<const std::uint8_t*>(text);
    EXPECT_EQ(project::crc32(b + 4, 5, project::crc32(b, 4)), 0xCBF43926U);
}

TEST(Project, RandomModelsRoundTripAndMatchTheDocumentedLayout) {
    std::mt19937_64 rng(1);
    for (int i = 0; i < 200; ++i) {
        const Model m = random_model(rng);
        const auto f = save(m);
        ASSERT_EQ(f, encode(m, outputs)) << i;
        Sequencer seq;
        seq.set_step(1, 0, 1, true); // some undo history, which a load clears
        ASSERT_EQ(project::load(seq, f.data(), f.size()), Status::ok);
        ASSERT_EQ(seq.model(), m) << i;
        EXPECT_EQ(seq.undo_depth(), 0U);
    }
}

TEST(Project, SaveRefusesAShortBuffer) {
    std::vector<std::uint8_t> f(project::file_size(outputs) - 1);
    EXPECT_EQ(project::save(lockstep::fw::default_model(), f.data(), f.size()), 0U);
}

TEST(Project, EverySingleByteCorruptionIsRejected) {
    std::mt19937_64 rng(2);
    const auto f = save(random_model(rng));
    Target target(3);
    for (std::size_t i = 0; i < f.size(); ++i) {
        for (const unsigned x : {0x01U, 0x80U, 0xFFU, 0x5AU}) {
            auto bad = f;
            bad[i] = static_cast<std::uint8_t>(bad[i] ^ x);
            const Status s = project::load(target.seq, bad.data(), bad.size());
            ASSERT_NE(s, Status::ok) << "byte " << i;
            ASSERT_EQ(target.seq.model(), target.before) << "byte " << i;
            ASSERT_EQ(target.seq.undo_depth(), 1U);
        }
    }
}

TEST(Project, TruncationAtEveryLengthAndExtraBytesAreRejected) {
    std::mt19937_64 rng(4);
    const auto f = save(random_model(rng));
    Target target(5);
    for (std::size_t n = 0; n < f.size(); ++n) {
        const std::vector<std::uint8_t> cut(f.begin(), f.begin() + static_cast<long>(n));
        const Status s = project::load(target.seq, cut.data(), cut.size());
        ASSERT_NE(s, Status::ok) << n;
        ASSERT_EQ(target.seq.model(), target.before) << n;
    }
    auto longer = f;
    longer.push_back(0);
    target.expect_rejected(longer, Status::bad_length, "one byte more");
    EXPECT_EQ(project::load(target.seq, nullptr, 0), Status::bad_length);
}

TEST(Project, ForeignAndFutureFilesAreRejected) {
    std::mt19937_64 rng(6);
    const Model m = random_model(rng);
    Target target(7);
    auto f = encode(m, outputs);
    f[0] = 'X';
    refresh_crc(f);
    target.expect_rejected(f, Status::bad_magic, "magic");
    target.expect_rejected(encode(m, outputs, 2), Status::bad_version, "future version");
    target.expect_rejected(encode(m, outputs, 0), Status::bad_version, "version 0");
    auto zero_tracks = encode(m, outputs);
    zero_tracks[6] = 0;
    zero_tracks[7] = 0;
    refresh_crc(zero_tracks);
    target.expect_rejected(zero_tracks, Status::bad_tracks, "0 tracks");
    if (outputs < 16) {
        Model wide = m;
        target.expect_rejected(encode(wide, outputs + 1), Status::bad_tracks, "too many tracks");
    }
    auto wrong_length = encode(m, outputs);
    wrong_length[8] = static_cast<std::uint8_t>(wrong_length[8] + 1);
    refresh_crc(wrong_length);
    target.expect_rejected(wrong_length, Status::bad_length, "length field");
}

TEST(Project, OutOfRangeFieldsAreRejectedEvenWithAGoodCrc) {
    std::mt19937_64 rng(8);
    const Model m = random_model(rng);
    Target target(9);
    struct Case {
        const char* what;
        std::size_t offset;
        std::vector<std::uint8_t> bytes;
    };
    std::vector<Case> cases{
        {"tempo too slow", 12, {0xE7, 0x03, 0, 0}}, // 999
        {"tempo too fast", 12, {0xA1, 0x86, 1, 0}}, // 100001
        {"swing", 16, {0xE9, 0x03}},                // 1001
        {"selected pattern", 20, {64}},
        {"flags", 21, {4}},
        {"chain length", 22, {129}},
        {"reserved", 23, {1}},
        {"chain slot pattern", 24 + 2 * 77, {64}},
        {"chain slot repeats 0", 25 + 2 * 5, {0}},
        {"chain slot repeats 65", 25 + 2 * 127, {65}},
    };
    if (outputs < 16) {
        cases.push_back({"mute beyond the tracks",
                         18,
                         {static_cast<std::uint8_t>((1U << outputs) & 0xFF),
                          static_cast<std::uint8_t>((1U << outputs) >> 8)}});
    }
    for (const Case& c : cases) {
        auto f = encode(m, outputs);
        for (std::size_t i = 0; i < c.bytes.size(); ++i) {
            f[c.offset + i] = c.bytes[i];
        }
        refresh_crc(f);
        target.expect_rejected(f, Status::bad_field, c.what);
    }
}

TEST(Project, AFileWithFewerTracksLoadsWithTheRestEmpty) {
    if (outputs < 2) {
        GTEST_SKIP() << "one-output build";
    }
    std::mt19937_64 rng(10);
    const Model m = random_model(rng);
    const auto f = encode(m, 1);
    Sequencer seq;
    ASSERT_EQ(project::load(seq, f.data(), f.size()), Status::ok);
    Model expected = m;
    for (auto& p : expected.patterns) {
        for (unsigned t = 1; t < outputs; ++t) {
            p.on[t] = 0;
            p.accent[t] = 0;
        }
    }
    expected.mutes &= 1U;
    EXPECT_EQ(seq.model(), expected);
}

} // namespace
