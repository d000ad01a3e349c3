#include "service/state_file.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <sys/stat.h>

namespace {

namespace fs = std::filesystem;
using lockstep::service::StateSpec;
using lockstep::service::StateStatus;
using nlohmann::json;

std::string read_file(const fs::path& p) {
    std::string bytes;
    if (std::FILE* f = std::fopen(p.c_str(), "rb")) {
        char buf[4096];
        std::size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
            bytes.append(buf, n);
        }
        std::fclose(f);
    }
    return bytes;
}

void write_file(const fs::path& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << bytes;
}

// Validator of a tiny seq-like state: {"tempo": 20..300, "steps": [bool...]}.
std::string validate(const json& data, int version) {
    const double tempo = data.at("tempo").get<double>(); // throws when missing
    if (tempo < 20 || tempo > 300) {
        return "tempo out of range";
    }
    if (version >= 2 && !data.at("steps").is_array()) {
        return "steps is not an array";
    }
    return {};
}

class StateFile : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/lockstep-state-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        path_ = (dir_ / "seq.json").string();
        spec_.format = "seq-state";
        spec_.min_version = 1;
        spec_.max_version = 2;
    }
    void TearDown() override {
        lockstep::service::testing_hooks::set_state_file_io(nullptr);
        fs::remove_all(dir_);
    }
    std::set<std::string> dir_entries() const {
        std::set<std::string> names;
        for (const auto& e : fs::directory_iterator(dir_)) {
            names.insert(e.path().filename().string());
        }
        return names;
    }
    std::string envelope(const std::string& format, const std::string& version,
                         const std::string& data) const {
        return R"({"format": ")" + format + R"(", "version": )" + version + R"(, "data": )" + data +
               "}";
    }

    fs::path dir_;
    std::string path_;
    StateSpec spec_;
    json good_ = {{"tempo", 120.5}, {"steps", {true, false, true}}, {"name", "groove"}};
};

TEST_F(StateFile, SaveThenLoadRoundTrips) {
    auto saved = lockstep::service::save_state_file(path_, spec_, good_);
    ASSERT_TRUE(saved) << saved.message;
    EXPECT_EQ(dir_entries(), std::set<std::string>{"seq.json"}); // no temporary left
    const auto on_disk = json::parse(read_file(path_));
    EXPECT_EQ(on_disk.at("format"), "seq-state");
    EXPECT_EQ(on_disk.at("version"), 2);

    auto loaded = lockstep::service::load_state_file(path_, spec_, validate);
    ASSERT_EQ(loaded.status, StateStatus::ok) << loaded.reason;
    EXPECT_EQ(loaded.version, 2);
    EXPECT_EQ(loaded.data, good_);
}

TEST_F(StateFile, OlderSupportedVersionLoads) {
    write_file(path_, envelope("seq-state", "1", R"({"tempo": 90})"));
    auto loaded = lockstep::service::load_state_file(path_, spec_, validate);
    ASSERT_EQ(loaded.status, StateStatus::ok) << loaded.reason;
    EXPECT_EQ(loaded.version, 1);
}

TEST_F(StateFile, MissingFileIsNotAnError) {
    auto loaded = lockstep::service::load_state_file(path_, spec_, validate);
    EXPECT_EQ(loaded.status, StateStatus::missing);
    EXPECT_TRUE(dir_entries().empty());
}

struct CorruptCase {
    const char* name;
    std::string bytes;
    const char* reason_part;
};

TEST_F(StateFile, CorruptFilesAreKeptAsideWithAReason) {
    const std::string ok_data = R"({"tempo": 120, "steps": []})";
    const std::vector<CorruptCase> cases = {
        {"garbage", "\x01\x02garbage", "not valid JSON"},
        {"empty", "", "not valid JSON"},
        {"truncated", envelope("seq-state", "2", ok_data).substr(0, 30), "not valid JSON"},
        {"trailing", envelope("seq-state", "2", ok_data) + " x", "not valid JSON"},
        {"two objects", envelope("seq-state", "2", ok_data) + "{}", "not valid JSON"},
        {"bad utf8", envelope("seq-state", "2", "{\"tempo\": 120, \"name\": \"\xC3\x28\"}"),
         "not valid JSON"},
        {"array", "[1, 2]", "not a JSON object"},
        {"other format", envelope("sampler-state", "2", ok_data), "format is \"sampler-state\""},
        {"no format", R"({"version": 2, "data": {}})", "no \"format\""},
        {"future version", envelope("seq-state", "3", ok_data), "unsupported version 3"},
        {"version zero", envelope("seq-state", "0", ok_data), "unsupported version 0"},
        {"negative version", envelope("seq-state", "-1", ok_data), "unsupported version -1"},
        {"huge version", envelope("seq-state", "18446744073709551615", ok_data),
         "unsupported version"},
        {"float version", envelope("seq-state", "2.0", ok_data), "no integer \"version\""},
        {"string version", envelope("seq-state", "\"2\"", ok_data), "no integer \"version\""},
        {"data not object", envelope("seq-state", "2", "[1]"), "no \"data\" object"},
        {"extra key", R"({"format": "seq-state", "version": 2, "data": {}, "x": 1})",
         "unexpected key \"x\""},
        {"validator refuses", envelope("seq-state", "2", R"({"tempo": 1000, "steps": []})"),
         "tempo out of range"},
        {"validator throws", envelope("seq-state", "2", R"({"steps": []})"), "invalid data"},
        {"deep nesting",
         envelope("seq-state", "2",
                  R"({"tempo": 120, "steps": [], "x": )" + std::string(100, '[') +
                      std::string(100, ']') + "}"),
         "nested deeper"},
        {"huge number", envelope("seq-state", "2", R"({"tempo": 1e999, "steps": []})"),
         "not valid JSON"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        write_file(path_, c.bytes);
        auto loaded = lockstep::service::load_state_file(path_, spec_, validate);
        EXPECT_EQ(loaded.status, StateStatus::corrupt);
        EXPECT_NE(loaded.reason.find(c.reason_part), std::string::npos) << loaded.reason;
        EXPECT_EQ(loaded.kept_as, path_ + ".bad");
        EXPECT_FALSE(fs::exists(path_));
        EXPECT_EQ(read_file(path_ + ".bad"), c.bytes); // the evidence, byte for byte
        fs::remove(path_ + ".bad");
    }
}

TEST_F(StateFile, TooLargeFileIsCorrupt) {
    spec_.max_bytes = 1024;
    const std::string big =
        envelope("seq-state", "2",
                 R"({"tempo": 120, "steps": [], "pad": ")" + std::string(2000, 'x') + "\"}");
    write_file(path_, big);
    auto loaded = lockstep::service::load_state_file(path_, spec_, validate);
    EXPECT_EQ(loaded.status, StateStatus::corrupt);
    EXPECT_NE(loaded.reason.find("1024-byte limit"), std::string::npos) << loaded.reason;
    EXPECT_EQ(read_file(path_ + ".bad"), big);
}

TEST_F(StateFile, OlderEvidenceIsNeverOverwritten) {
    for (int i = 0; i < 4; ++i) {
        write_file(path_, "broken " + std::to_string(i));
        auto loaded = lockstep::service::load_state_file(path_, spec_, validate);
        ASSERT_EQ(loaded.status, StateStatus::corrupt);
    }
    EXPECT_EQ(read_file(path_ + ".bad"), "broken 0");
    EXPECT_EQ(read_file(path_ + ".bad.1"), "broken 1");
    EXPECT_EQ(read_file(path_ + ".bad.2"), "broken 2");
    EXPECT_EQ(read_file(path_ + ".bad.3"), "broken 3");
}

TEST_F(StateFile, DirectoryInTheWayIsMovedAside) {
    fs::create_directory(path_);
    auto loaded = lockstep::service::load_state_file(path_, spec_, validate);
    EXPECT_EQ(loaded.status, StateStatus::corrupt);
    EXPECT_NE(loaded.reason.find("not a regular file"), std::string::npos);
    EXPECT_TRUE(fs::is_directory(path_ + ".bad"));
    EXPECT_TRUE(lockstep::service::save_state_file(path_, spec_, good_));
}

TEST_F(StateFile, SaveReplacesAndKeepsPermissions) {
    ASSERT_TRUE(lockstep::service::save_state_file(path_, spec_, good_));
    ASSERT_EQ(chmod(path_.c_str(), 0640), 0);
    json changed = good_;
    changed["tempo"] = 99;
    ASSERT_TRUE(lockstep::service::save_state_file(path_, spec_, changed));
    struct stat st {};
    ASSERT_EQ(stat(path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640U);
    EXPECT_EQ(json::parse(read_file(path_)).at("data").at("tempo"), 99);
    EXPECT_EQ(dir_entries(), std::set<std::string>{"seq.json"});
}

// Disk full: the kernel cannot be made to say ENOSPC here without mounting a small file
// system, so the write(2) used by save_state_file is replaced for this test.
TEST_F(StateFile, DiskFullKeepsThePreviousState) {
    ASSERT_TRUE(lockstep::service::save_state_file(path_, spec_, good_));
    const std::string before = read_file(path_);

    static const lockstep::service::testing_hooks::StateFileIo full{
        [](int, const void*, std::size_t) -> long {
            errno = ENOSPC;
            return -1;
        },
        nullptr};
    static lockstep::service::testing_hooks::StateFileIo io = full;
    io.fsync = [](int fd) { return ::fsync(fd); };
    lockstep::service::testing_hooks::set_state_file_io(&io);
    json changed = good_;
    changed["tempo"] = 60;
    auto saved = lockstep::service::save_state_file(path_, spec_, changed);
    lockstep::service::testing_hooks::set_state_file_io(nullptr);

    EXPECT_FALSE(saved);
    EXPECT_EQ(saved.error, ENOSPC);
    EXPECT_NE(saved.message.find("No space left on device"), std::string::npos) << saved.message;
    EXPECT_NE(saved.message.find("previous state kept"), std::string::npos) << saved.message;
    EXPECT_EQ(saved.message.find('\n'), std::string::npos);
    EXPECT_EQ(read_file(path_), before);
    EXPECT_EQ(dir_entries(), std::set<std::string>{"seq.json"});
}

TEST_F(StateFile, FsyncFailureKeepsThePreviousState) {
    ASSERT_TRUE(lockstep::service::save_state_file(path_, spec_, good_));
    const std::string before = read_file(path_);
    static const lockstep::service::testing_hooks::StateFileIo io{
        [](int fd, const void* buf, std::size_t n) -> long { return ::write(fd, buf, n); },
        [](int) {
            errno = EIO;
            return -1;
        }};
    lockstep::service::testing_hooks::set_state_file_io(&io);
    auto saved = lockstep::service::save_state_file(path_, spec_, json{{"tempo", 1}});
    lockstep::service::testing_hooks::set_state_file_io(nullptr);
    EXPECT_FALSE(saved);
    EXPECT_EQ(saved.error, EIO);
    EXPECT_EQ(read_file(path_), before);
    EXPECT_EQ(dir_entries(), std::set<std::string>{"seq.json"});
}

// The helper under save_state_file, for any file: fsync before the rename, the temporary
// removed when filling it fails, the old contents kept.
TEST_F(StateFile, WriteFileAtomicallySyncsAndCleansUp) {
    const std::string path = (dir_ / "take.wav").string();
    static int syncs = 0;
    static const lockstep::service::testing_hooks::StateFileIo io{
        [](int fd, const void* buf, std::size_t n) -> long { return ::write(fd, buf, n); },
        [](int fd) {
            ++syncs;
            return ::fsync(fd);
        }};
    lockstep::service::testing_hooks::set_state_file_io(&io);
    const auto ok = lockstep::service::write_file_atomically(path, std::string_view("abc"));
    const int synced = syncs;
    const auto bad = lockstep::service::write_file_atomically(path, [](int fd) {
        EXPECT_EQ(::write(fd, "xy", 2), 2);
        return ENOSPC;
    });
    lockstep::service::testing_hooks::set_state_file_io(nullptr);
    EXPECT_TRUE(ok) << ok.message;
    EXPECT_EQ(synced, 1);
    EXPECT_FALSE(bad);
    EXPECT_EQ(bad.error, ENOSPC);
    EXPECT_NE(bad.message.find("write: No space left on device"), std::string::npos) << bad.message;
    EXPECT_EQ(read_file(path), "abc");
    EXPECT_EQ(dir_entries(), std::set<std::string>{"take.wav"});
}

TEST_F(StateFile, ShortWritesAreCompleted) {
    static const lockstep::service::testing_hooks::StateFileIo io{
        [](int fd, const void* buf, std::size_t n) -> long {
            return ::write(fd, buf, n < 7 ? n : 7);
        },
        [](int fd) { return ::fsync(fd); }};
    lockstep::service::testing_hooks::set_state_file_io(&io);
    auto saved = lockstep::service::save_state_file(path_, spec_, good_);
    lockstep::service::testing_hooks::set_state_file_io(nullptr);
    ASSERT_TRUE(saved) << saved.message;
    EXPECT_EQ(lockstep::service::load_state_file(path_, spec_, validate).data, good_);
}

// A real kernel refusal that works as root too: the file size limit (RLIMIT_FSIZE) with
// SIGXFSZ ignored makes write(2) fail with EFBIG part-way through.
TEST_F(StateFile, FileSizeLimitKeepsThePreviousState) {
    ASSERT_TRUE(lockstep::service::save_state_file(path_, spec_, good_));
    const std::string before = read_file(path_);
    json big = good_;
    big["pad"] = std::string(64 * 1024, 'x');

    rlimit old{};
    ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = old;
    small.rlim_cur = 4096;
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
    auto saved = lockstep::service::save_state_file(path_, spec_, big);
    setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);

    EXPECT_FALSE(saved);
    EXPECT_EQ(saved.error, EFBIG) << saved.message;
    EXPECT_EQ(read_file(path_), before);
    EXPECT_EQ(dir_entries(), std::set<std::string>{"seq.json"});
}

TEST_F(StateFile, SaveErrorsAreClear) {
    auto no_dir =
        lockstep::service::save_state_file((dir_ / "nope" / "s.json").string(), spec_, good_);
    EXPECT_FALSE(no_dir);
    EXPECT_EQ(no_dir.error, ENOENT);

    auto bad_utf8 = lockstep::service::save_state_file(path_, spec_, json{{"name", "\xC3\x28"}});
    EXPECT_FALSE(bad_utf8);
    EXPECT_NE(bad_utf8.message.find("cannot encode"), std::string::npos) << bad_utf8.message;

    spec_.max_bytes = 100;
    auto too_big = lockstep::service::save_state_file(
        path_, spec_, json{{"tempo", 120}, {"pad", std::string(200, 'x')}});
    EXPECT_FALSE(too_big);
    EXPECT_EQ(too_big.error, EFBIG);
    EXPECT_FALSE(fs::exists(path_));
}

TEST(StateParse, InMemory) {
    StateSpec spec{"seq-state", 1, 1};
    auto ok = lockstep::service::parse_state(
        " \n{\"format\":\"seq-state\",\"version\":1,\"data\":{\"a\":[1,2]}}\n\t", spec, nullptr);
    ASSERT_TRUE(ok.ok) << ok.reason;
    EXPECT_EQ(ok.data, (json{{"a", {1, 2}}}));
    // Brackets inside strings do not count as nesting.
    auto strings = lockstep::service::parse_state(
        R"({"format":"seq-state","version":1,"data":{"s":")" + std::string(200, '[') + R"("}})",
        spec, nullptr);
    EXPECT_TRUE(strings.ok) << strings.reason;
}

} // namespace
