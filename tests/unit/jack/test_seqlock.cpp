#include "jack/seqlock.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>

namespace {

struct Snapshot {
    std::int64_t a;
    std::uint64_t b;
    std::uint64_t c;
    std::uint32_t d;
    std::uint32_t e;
};

// Every field derived from the same counter i: a torn read mixes two counters.
Snapshot snapshot_of(std::uint64_t i) {
    return Snapshot{static_cast<std::int64_t>(i), i * 3, i * 7, static_cast<std::uint32_t>(i),
                    static_cast<std::uint32_t>(i * 5)};
}

bool consistent(const Snapshot& v) {
    const Snapshot want = snapshot_of(static_cast<std::uint64_t>(v.a));
    return v.b == want.b && v.c == want.c && v.d == want.d && v.e == want.e;
}

TEST(SeqLock, EmptyUntilFirstStore) {
    lockstep::jack::SeqLock<Snapshot> s;
    Snapshot out{};
    EXPECT_FALSE(s.load(out));
    s.store(Snapshot{1, 2, 3, 4, 5});
    ASSERT_TRUE(s.load(out));
    EXPECT_EQ(out.a, 1);
    EXPECT_EQ(out.e, 5U);
}

TEST(SeqLock, TryLoadIsEmptyUntilFirstStore) {
    lockstep::jack::SeqLock<Snapshot> s;
    Snapshot out{9, 9, 9, 9, 9};
    EXPECT_FALSE(s.try_load(out));
    EXPECT_EQ(out.a, 9); // untouched
    s.store(Snapshot{1, 2, 3, 4, 5});
    ASSERT_TRUE(s.try_load(out));
    EXPECT_EQ(out.a, 1);
    EXPECT_EQ(out.e, 5U);
}

// try_load makes one attempt: against a busy writer it fails now and then, and then leaves
// the reader's previous copy as it was; what it does return is never torn.
TEST(SeqLock, TryLoadNeverSeesTornValuesAndKeepsTheOldCopyWhenBusy) {
    lockstep::jack::SeqLock<Snapshot> s;
    s.store(Snapshot{0, 0, 0, 0, 0});
    std::atomic<bool> done{false};
    std::thread writer([&] {
        for (std::uint64_t i = 1; i <= 200000; ++i) {
            s.store(snapshot_of(i));
        }
        done.store(true);
    });
    Snapshot v{};
    std::uint64_t ok = 0;
    while (!done.load() || ok == 0) {
        const Snapshot before = v;
        if (!s.try_load(v)) {
            ASSERT_EQ(v.a, before.a);
            ASSERT_EQ(v.e, before.e);
            continue;
        }
        const auto i = static_cast<std::uint64_t>(v.a);
        ASSERT_TRUE(consistent(v)) << "torn value at " << i;
        ++ok;
    }
    writer.join();
    EXPECT_GT(ok, 0U);
}

// A reader never sees a torn value: every field is derived from the same counter.
TEST(SeqLock, ReadersNeverSeeTornValues) {
    lockstep::jack::SeqLock<Snapshot> s;
    std::atomic<bool> done{false};
    std::thread writer([&] {
        for (std::uint64_t i = 1; i <= 200000; ++i) {
            s.store(snapshot_of(i));
        }
        done.store(true);
    });
    std::uint64_t reads = 0;
    std::uint64_t last = 0;
    while (!done.load() || reads == 0) {
        Snapshot v{};
        if (!s.load(v)) {
            continue;
        }
        const auto i = static_cast<std::uint64_t>(v.a);
        ASSERT_TRUE(consistent(v)) << "torn value at " << i;
        ASSERT_GE(i, last); // never goes back in time
        last = i;
        ++reads;
    }
    writer.join();
    EXPECT_GT(reads, 0U);
}

} // namespace
