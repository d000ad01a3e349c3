#include "service/state_file.hpp"

#include "service/log.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lockstep::service {

namespace {

long default_write(int fd, const void* buf, std::size_t count) {
    return ::write(fd, buf, count);
}
int default_fsync(int fd) {
    return ::fsync(fd);
}
const testing_hooks::StateFileIo kDefaultIo{default_write, default_fsync};
std::atomic<const testing_hooks::StateFileIo*> g_io{&kDefaultIo};

// Deepest [ / { nesting outside strings, stopping early past `limit`. A cheap pass before
// the parser so that hostile input cannot make later recursive code (dump, ==, a
// validator's walk) run out of stack.
bool nesting_exceeds(std::string_view bytes, int limit) {
    int depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (char c : bytes) {
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) {
                return true;
            }
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return false;
}

std::string errno_text(int err) {
    return std::strerror(err);
}

// An exception message fit for a one-line reason: without nlohmann's
// "[json.exception.parse_error.101] " tag, and with control or non-ASCII bytes (which may
// come straight from the hostile input) replaced by '?'.
std::string printable(std::string_view text, std::size_t max_len) {
    std::string out(text.substr(0, max_len));
    for (char& c : out) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f) {
            c = '?';
        }
    }
    if (text.size() > max_len) {
        out += "...";
    }
    return out;
}

std::string reason_from(const std::exception& e) {
    std::string_view what = e.what();
    if (what.rfind("[json.exception.", 0) == 0) {
        if (const auto close = what.find("] "); close != std::string_view::npos) {
            what.remove_prefix(close + 2);
        }
    }
    return printable(what, 300);
}

std::string parent_dir(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) {
        return ".";
    }
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_name(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool write_all(int fd, std::string_view text, int& err) {
    const auto* io = g_io.load();
    while (!text.empty()) {
        const long n = io->write(fd, text.data(), text.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            err = errno;
            return false;
        }
        if (n == 0) { // should not happen for regular files; avoid spinning
            err = EIO;
            return false;
        }
        text.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

} // namespace

namespace testing_hooks {
void set_state_file_io(const StateFileIo* io) {
    g_io.store(io != nullptr ? io : &kDefaultIo);
}
} // namespace testing_hooks

StateParse parse_state(std::string_view bytes, const StateSpec& spec,
                       const StateValidator& validate) {
    StateParse out;
    if (bytes.size() > spec.max_bytes) {
        out.reason = "larger than the " + std::to_string(spec.max_bytes) + "-byte limit";
        return out;
    }
    if (nesting_exceeds(bytes, spec.max_depth)) {
        out.reason = "nested deeper than " + std::to_string(spec.max_depth) + " levels";
        return out;
    }
    nlohmann::json doc;
    try {
        // Strict: the whole input must be one JSON value (trailing bytes are an error),
        // strings must be valid UTF-8, no comments.
        doc = nlohmann::json::parse(bytes.begin(), bytes.end());
    } catch (const nlohmann::json::exception& e) {
        out.reason = "not valid JSON: " + reason_from(e);
        return out;
    }
    if (!doc.is_object()) {
        out.reason = "not a JSON object";
        return out;
    }
    for (const auto& item : doc.items()) {
        if (item.key() != "format" && item.key() != "version" && item.key() != "data") {
            out.reason = "unexpected key \"" + printable(item.key(), 40) + "\" in the envelope";
            return out;
        }
    }
    const auto format = doc.find("format");
    if (format == doc.end() || !format->is_string()) {
        out.reason = "no \"format\" string";
        return out;
    }
    if (format->get_ref<const std::string&>() != spec.format) {
        out.reason = "format is \"" + printable(format->get_ref<const std::string&>(), 40) +
                     "\", expected \"" + spec.format + "\"";
        return out;
    }
    const auto version = doc.find("version");
    if (version == doc.end() || !version->is_number_integer()) {
        out.reason = "no integer \"version\"";
        return out;
    }
    const bool in_range =
        version->is_number_unsigned()
            ? version->get<std::uint64_t>() <= static_cast<std::uint64_t>(spec.max_version) &&
                  version->get<std::uint64_t>() >= static_cast<std::uint64_t>(spec.min_version)
            : version->get<std::int64_t>() <= spec.max_version &&
                  version->get<std::int64_t>() >= spec.min_version;
    if (!in_range) {
        out.reason = "unsupported version " + version->dump() + " (this program reads versions " +
                     std::to_string(spec.min_version) + " to " + std::to_string(spec.max_version) +
                     ")";
        return out;
    }
    const int v = static_cast<int>(version->get<std::int64_t>());
    const auto data = doc.find("data");
    if (data == doc.end() || !data->is_object()) {
        out.reason = "no \"data\" object";
        return out;
    }
    if (validate) {
        try {
            std::string why = validate(*data, v);
            if (!why.empty()) {
                out.reason = "invalid data: " + printable(why, 300);
                return out;
            }
        } catch (const std::exception& e) { // json::at() and friends throw
            out.reason = "invalid data: " + reason_from(e);
            return out;
        }
    }
    out.ok = true;
    out.version = v;
    out.data = std::move(*data);
    return out;
}

std::string serialize_state(const StateSpec& spec, const nlohmann::json& data) {
    nlohmann::json doc = nlohmann::json::object();
    doc["format"] = spec.format;
    doc["version"] = spec.max_version;
    doc["data"] = data;
    return doc.dump(2) + "\n";
}

std::string keep_aside(const std::string& path, int* error) {
    int last = 0;
    for (int i = 0; i < 1000; ++i) {
        const std::string target = i == 0 ? path + ".bad" : path + ".bad." + std::to_string(i);
        // RENAME_NOREPLACE: never overwrite older evidence, even against a racing writer.
        if (renameat2(AT_FDCWD, path.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) == 0) {
            return target;
        }
        last = errno;
        if (last == EEXIST) {
            continue;
        }
        if (last == EINVAL || last == ENOSYS) {
            // File system without RENAME_NOREPLACE: link() refuses to overwrite too.
            if (link(path.c_str(), target.c_str()) == 0) {
                unlink(path.c_str());
                return target;
            }
            last = errno;
            if (last == EEXIST) {
                continue;
            }
        }
        break;
    }
    if (error != nullptr) {
        *error = last;
    }
    return {};
}

StateLoad load_state_file(const std::string& path, const StateSpec& spec,
                          const StateValidator& validate) {
    StateLoad out;
    std::string reason;
    std::string bytes;
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            out.status = StateStatus::missing;
            return out;
        }
        reason = "cannot open: " + errno_text(errno);
    } else {
        struct stat st {};
        if (fstat(fd, &st) != 0) {
            reason = "cannot stat: " + errno_text(errno);
        } else if (!S_ISREG(st.st_mode)) {
            reason = "not a regular file";
        } else if (static_cast<std::uint64_t>(st.st_size) > spec.max_bytes) {
            reason = "larger than the " + std::to_string(spec.max_bytes) + "-byte limit";
        } else {
            // Read up to one byte past the limit in case the file grows while we read.
            bytes.resize(static_cast<std::size_t>(st.st_size) + 1);
            std::size_t got = 0;
            while (got < bytes.size()) {
                const ssize_t n = read(fd, bytes.data() + got, bytes.size() - got);
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                if (n < 0) {
                    reason = "cannot read: " + errno_text(errno);
                    break;
                }
                if (n == 0) {
                    break;
                }
                got += static_cast<std::size_t>(n);
                if (got == bytes.size() && got <= spec.max_bytes) {
                    bytes.resize(std::min(bytes.size() * 2, spec.max_bytes + 1));
                }
            }
            bytes.resize(got);
        }
        close(fd);
    }
    if (reason.empty()) {
        StateParse parsed = parse_state(bytes, spec, validate);
        if (parsed.ok) {
            out.status = StateStatus::ok;
            out.version = parsed.version;
            out.data = std::move(parsed.data);
            return out;
        }
        reason = std::move(parsed.reason);
    }
    out.status = StateStatus::corrupt;
    out.reason = reason;
    int err = 0;
    out.kept_as = keep_aside(path, &err);
    if (!out.kept_as.empty()) {
        log::warning("state file %s is unusable (%s); kept it as %s and starting from defaults",
                     path.c_str(), reason.c_str(), out.kept_as.c_str());
    } else {
        log::warning("state file %s is unusable (%s) and could not be moved aside (%s); "
                     "starting from defaults",
                     path.c_str(), reason.c_str(), errno_text(err).c_str());
    }
    return out;
}

AtomicWrite write_file_atomically(const std::string& path, const std::function<int(int fd)>& fill) {
    AtomicWrite out;
    auto fail = [&](int err, std::string what) {
        out.ok = false;
        out.error = err;
        out.message = std::move(what);
        return out;
    };
    const std::string dir = parent_dir(path);
    static std::atomic<unsigned> counter{0};
    std::string tmp;
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
        tmp = dir + "/." + base_name(path) + ".tmp." + std::to_string(getpid()) + "." +
              std::to_string(counter.fetch_add(1));
        fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) {
            return fail(errno,
                        "cannot create a temporary file in " + dir + ": " + errno_text(errno));
        }
    }
    if (fd < 0) {
        return fail(EEXIST, "cannot create a temporary file in " + dir);
    }
    // Keep the permissions of the file being replaced (umask applied otherwise).
    struct stat old {};
    if (stat(path.c_str(), &old) == 0) {
        fchmod(fd, old.st_mode & 07777);
    }

    int err = 0;
    std::string step;
    if ((err = fill(fd)) != 0) {
        step = "write";
    } else if (g_io.load()->fsync(fd) != 0) {
        err = errno;
        step = "fsync";
    }
    if (close(fd) != 0 && step.empty()) {
        err = errno;
        step = "close";
    }
    if (step.empty() && rename(tmp.c_str(), path.c_str()) != 0) {
        err = errno;
        step = "rename";
    }
    if (!step.empty()) {
        unlink(tmp.c_str());
        return fail(err, step + ": " + errno_text(err));
    }

    // Make the rename itself durable. The new file is in place even if this fails.
    const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0 && errno != EINVAL) {
            out.dir_error = errno;
        }
        close(dfd);
    }
    out.ok = true;
    return out;
}

AtomicWrite write_file_atomically(const std::string& path, std::string_view text) {
    return write_file_atomically(path, [text](int fd) {
        int err = 0;
        return write_all(fd, text, err) ? 0 : (err != 0 ? err : EIO);
    });
}

StateSave save_state_file(const std::string& path, const StateSpec& spec,
                          const nlohmann::json& data) {
    StateSave out;
    auto fail = [&](int err, const std::string& what) {
        out.ok = false;
        out.error = err;
        out.message = "cannot save state to " + path + ": " + what + " (previous state kept)";
        return out;
    };

    std::string text;
    try {
        text = serialize_state(spec, data);
    } catch (const nlohmann::json::exception& e) {
        return fail(EINVAL, "cannot encode it: " + reason_from(e));
    }
    if (text.size() > spec.max_bytes) {
        return fail(EFBIG, "it would be " + std::to_string(text.size()) +
                               " bytes, more than the reader accepts");
    }

    const AtomicWrite w = write_file_atomically(path, text);
    if (!w) {
        return fail(w.error, w.message);
    }
    if (w.dir_error != 0) {
        log::warning("state saved to %s, but syncing directory %s failed: %s", path.c_str(),
                     parent_dir(path).c_str(), errno_text(w.dir_error).c_str());
    }
    out.ok = true;
    return out;
}

} // namespace lockstep::service
