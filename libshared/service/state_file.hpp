// Atomic, validated state files (--state FILE).
//
// Format: one JSON object, the envelope
//     {"format": "<role>-state", "version": N, "data": {...}}
// with exactly these three keys. The reader checks the envelope, then hands `data` to a
// caller-supplied validator. Anything else is corrupt: not JSON or not UTF-8, trailing
// bytes after the object, nesting deeper than max_depth, a file larger than max_bytes,
// another format, a version outside [min_version, max_version], or a validator refusal.
//
// Reading never loses evidence: a corrupt (or unreadable) file is renamed to FILE.bad, or
// FILE.bad.1, FILE.bad.2, ... when older ones exist; none is ever overwritten. The caller
// then starts from defaults. Missing files are normal (first start).
//
// Writing is atomic: a temporary file in the same directory is written completely,
// fsync'ed, renamed over FILE, and the directory is fsync'ed. On any failure (disk full,
// file size limit, I/O error) the temporary file is removed, FILE keeps its previous
// contents, and a one-line error is returned.
//
// Thread: any non-real-time thread; calls for the same FILE must not overlap.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace lockstep::service {

struct StateSpec {
    std::string format;                        // "<role>-state", e.g. "seq-state"
    int min_version = 1;                       // oldest version still understood
    int max_version = 1;                       // current version; written by save
    std::size_t max_bytes = 16U * 1024 * 1024; // larger files are corrupt
    int max_depth = 64;                        // deeper nesting is corrupt
};

// Checks the `data` object of a file with envelope version `version`. Returns an empty
// string when it is acceptable, otherwise the reason. An exception thrown by it (e.g.
// nlohmann::json::out_of_range from json::at()) counts as a refusal with its message.
using StateValidator = std::function<std::string(const nlohmann::json& data, int version)>;

// Parses and validates a whole file's bytes in memory (no I/O; the fuzz target's entry).
struct StateParse {
    bool ok = false;
    int version = 0;
    nlohmann::json data; // the validated `data` object when ok
    std::string reason;  // why not, when !ok
};
StateParse parse_state(std::string_view bytes, const StateSpec& spec,
                       const StateValidator& validate);

// The envelope for `data` at spec.max_version, as written to disk (pretty, newline at the
// end). Throws nlohmann::json::type_error when a string in `data` is not valid UTF-8.
std::string serialize_state(const StateSpec& spec, const nlohmann::json& data);

enum class StateStatus {
    missing, // no file: start from defaults
    ok,      // `data` holds the validated state
    corrupt  // unusable: reported in `reason`, file kept aside in `kept_as`; use defaults
};

struct StateLoad {
    StateStatus status = StateStatus::missing;
    int version = 0;
    nlohmann::json data;
    std::string reason;  // for corrupt: why
    std::string kept_as; // for corrupt: FILE.bad[.N], or empty if it could not be moved
};

// Reads FILE. A corrupt file is moved aside and logged as a warning (with the reason and
// where it went); the result says the same for /query and tests.
StateLoad load_state_file(const std::string& path, const StateSpec& spec,
                          const StateValidator& validate);

struct StateSave {
    bool ok = false;
    int error = 0;       // errno of the failed step, when !ok
    std::string message; // one line, e.g. "cannot save state to X: No space left on device
                         // (previous state kept)"
    explicit operator bool() const { return ok; }
};

// Writes `data` to FILE atomically (see top). Does not log; the caller decides.
StateSave save_state_file(const std::string& path, const StateSpec& spec,
                          const nlohmann::json& data);

// The atomic write under save_state_file, for any file: a temporary file
// ".FILE.tmp.<pid>.<n>" in FILE's directory is filled by `fill(fd)` (returns 0, or the errno
// of what failed; must not close fd), fsync'ed, closed, renamed over FILE (keeping the
// mode of a FILE it replaces), and the directory is fsync'ed. On any failure before the
// rename the temporary file is removed and FILE keeps its previous contents. Does not log.
struct AtomicWrite {
    bool ok = false;
    int error = 0;       // errno of the failed step, when !ok
    std::string message; // when !ok, e.g. "fsync: Input/output error"
    int dir_error = 0;   // ok, but the directory's fsync failed with this errno
    explicit operator bool() const { return ok; }
};
AtomicWrite write_file_atomically(const std::string& path, const std::function<int(int fd)>& fill);
AtomicWrite write_file_atomically(const std::string& path, std::string_view text);

// Renames FILE to the first free FILE.bad, FILE.bad.1, ... and returns the new name, or
// an empty string when that failed (errno kept in *error if given).
std::string keep_aside(const std::string& path, int* error = nullptr);

namespace testing_hooks {
// Test seam for failures the kernel cannot easily be made to produce (ENOSPC, EIO from
// fsync): replaces the write(2)/fsync(2) used by save_state_file and
// write_file_atomically. nullptr restores them.
struct StateFileIo {
    long (*write)(int fd, const void* buf, std::size_t count);
    int (*fsync)(int fd);
};
void set_state_file_io(const StateFileIo* io);
} // namespace testing_hooks

} // namespace lockstep::service
