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

TEST(SeqLock, EmptyUntilFirstStore) {
    lockstep::jack::SeqLock<Snapshot> s;
    Snapshot out{};
    EXPECT_FALSE(s.load(out));
    s.store(Snapshot{1, 2, 3, 4, 5});
    ASSERT_TRUE(s.load(out));
    EXPECT_EQ(out.a, 1);
    EXPECT_EQ(out.e, 5U);
}

// A reader never sees a torn value: every field is derived from the same counter.
TEST(SeqLock, ReadersNeverSeeTornValues) {
    lockstep::jack::SeqLock<Snapshot> s;
    std::atomic<bool> done{false};
    std::thread writer([&] {
        for (std::uint64_t i = 1; i <= 200000; ++i) {
            const auto v = static_cast<std::int64_t>(i);
            s.store(Snapshot{v, i * 3, i * 7, static_cast<std::uint32_t>(i),
                             static_cast<std::uint32_t>(i * 5)});
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
        ASSERT_EQ(v.b, i * 3);
        ASSERT_EQ(v.c, i * 7);
        ASSERT_EQ(v.d, static_cast<std::uint32_t>(i));
        ASSERT_EQ(v.e, static_cast<std::uint32_t>(i * 5));
        ASSERT_GE(i, last); // never goes back in time
        last = i;
        ++reads;
    }
    writer.join();
    EXPECT_GT(reads, 0U);
}

} // namespace
