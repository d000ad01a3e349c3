#include "disk.hpp"

#include "service/log.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <sys/stat.h>

namespace lockstep::capture {

DiskWriter::DiskWriter(DiskOptions options, Engine& engine)
    : options_(std::move(options)), engine_(engine), ring_(engine.ring()),
      preroll_(engine.options().preroll), ptrs_(engine.options().channels, nullptr) {
    options_.writer.channels = engine.options().channels;
}

DiskWriter::~DiskWriter() {
    stop_.store(true);
    if (thread_.joinable()) {
        thread_.join();
    }
}

void DiskWriter::start() {
    stop_.store(false);
    thread_ = std::thread([this] { run(); });
}

void DiskWriter::run() {
    while (!stop_.load(std::memory_order_relaxed)) {
        if (!step()) {
            std::this_thread::sleep_for(options_.idle_poll);
        }
    }
}

void DiskWriter::finish() {
    stop_.store(true);
    if (thread_.joinable()) {
        thread_.join();
    }
    while (step()) {
    }
    if (in_take_) {
        write_ring(ring_.published()); // the take ends with the last frame the engine had
        close_take(true);
    }
}

std::string DiskWriter::take_name() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return status_name_;
}

std::vector<DiskEvent> DiskWriter::poll_events() {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::exchange(events_, {});
}

void DiskWriter::event(DiskEvent e) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (e.kind == DiskEvent::Kind::opened) {
        status_name_ = e.name;
    }
    events_.push_back(std::move(e));
}

bool DiskWriter::step() {
    bool progress = false;
    const std::uint64_t published = ring_.published();
    for (;;) {
        const Mark* m = engine_.marks().try_front();
        if (m != nullptr && m->kind == MarkKind::take_start && !in_take_) {
            const Mark mark = *m;
            engine_.marks().pop_front();
            apply(mark);
            progress = true;
            continue;
        }
        const std::uint64_t limit = m != nullptr ? std::min(m->pos, published) : published;
        if (in_take_) {
            if (limit > cursor_) {
                progress = true;
                if (!write_ring(limit)) {
                    break; // write_ring() moved the cursor as far as it got
                }
            }
        } else if (limit > cursor_) {
            cursor_ = limit; // between takes: nothing to write
            progress = true;
        }
        if (m != nullptr && cursor_ == m->pos) {
            const Mark mark = *m;
            engine_.marks().pop_front();
            apply(mark);
            progress = true;
            continue;
        }
        break;
    }
    release();
    if (writer_ != nullptr &&
        std::chrono::steady_clock::now() - last_header_ >= options_.header_interval) {
        writer_->update_header();
        last_header_ = std::chrono::steady_clock::now();
    }
    return progress;
}

// Frames before cursor - preroll are free for the engine again: the last `preroll`
// frames stay, so the next take's pre-roll can reach back into them.
void DiskWriter::release() {
    const std::uint64_t keep = cursor_ > preroll_ ? cursor_ - preroll_ : 0;
    if (keep > released_) {
        released_ = keep;
        ring_.release(released_);
    }
}

void DiskWriter::apply(const Mark& m) {
    switch (m.kind) {
    case MarkKind::take_start:
        cursor_ = m.pos; // may reach back into the pre-roll, which was never released
        open_take(m);
        break;
    case MarkKind::gap:
        if (writer_ != nullptr) {
            if (auto s = writer_->write_silence(m.frames); s != WriteStatus::ok) {
                fail_take(s, writer_->error());
            } else {
                frames_written_.fetch_add(m.frames, std::memory_order_relaxed);
            }
        }
        break;
    case MarkKind::take_end:
        close_take(true);
        break;
    }
}

void DiskWriter::open_take(const Mark& m) {
    in_take_ = true;
    take_ = m.take;
    first_frame_ = m.frame;
    frames_written_.store(0, std::memory_order_relaxed);
    std::string base;
    std::string error;
    if (!expand_template(options_.name_template, m.take, std::time(nullptr), m.frame, base,
                         error)) {
        fail_take(WriteStatus::error, error);
        return;
    }
    // Never overwrite: a name in use gets -2, -3, ...
    std::string name = base;
    for (int k = 2;; ++k) {
        const std::string probe = options_.dir + "/" + name +
                                  (options_.writer.per_channel ? "_ch001." : ".") +
                                  extension(options_.writer.format);
        struct stat st {};
        if (::stat(probe.c_str(), &st) != 0) {
            break;
        }
        name = base + "-" + std::to_string(k);
    }
    writer_ = TakeWriter::open(options_.writer, options_.dir + "/" + name, m.frame, error);
    if (writer_ == nullptr) {
        name_ = name;
        const bool full = error.find(std::strerror(ENOSPC)) != std::string::npos;
        fail_take(full ? WriteStatus::disk_full : WriteStatus::error, error);
        return;
    }
    name_ = name;
    writing_.store(true, std::memory_order_relaxed);
    last_header_ = std::chrono::steady_clock::now();
    event(DiskEvent{DiskEvent::Kind::opened, take_, name_, writer_->paths(), first_frame_, 0, {}});
}

void DiskWriter::close_take(bool report) {
    if (writer_ != nullptr) {
        const bool ok = writer_->close();
        const std::uint64_t frames = writer_->frames();
        takes_.fetch_add(1, std::memory_order_relaxed);
        if (report) {
            if (ok) {
                event(DiskEvent{DiskEvent::Kind::closed,
                                take_,
                                name_,
                                writer_->paths(),
                                first_frame_,
                                frames,
                                {}});
            } else {
                errors_.fetch_add(1, std::memory_order_relaxed);
                event(DiskEvent{DiskEvent::Kind::error, take_, name_, writer_->paths(),
                                first_frame_, frames, writer_->error()});
            }
        }
        writer_.reset();
    }
    in_take_ = false;
    writing_.store(false, std::memory_order_relaxed);
}

// The take cannot go on: keep what is on disk (closed, valid), tell the control thread and
// the engine, and skip the rest of the take's data until its take_end mark.
void DiskWriter::fail_take(WriteStatus status, const std::string& message) {
    std::uint64_t frames = 0;
    std::vector<std::string> paths;
    if (writer_ != nullptr) {
        writer_->close();
        frames = writer_->frames();
        paths = writer_->paths();
        takes_.fetch_add(1, std::memory_order_relaxed);
        writer_.reset();
    }
    writing_.store(false, std::memory_order_relaxed);
    errors_.fetch_add(1, std::memory_order_relaxed);
    const std::string why = (status == WriteStatus::disk_full ? "disk full: " : "") + message;
    event(DiskEvent{DiskEvent::Kind::error, take_, name_, paths, first_frame_, frames, why});
    engine_.abort(take_);
}

// Writes ring frames [cursor_, until) to the take (or skips them when its file failed).
bool DiskWriter::write_ring(std::uint64_t until) {
    while (cursor_ < until) {
        const std::uint64_t want = std::min<std::uint64_t>(until - cursor_, 1 << 14);
        std::size_t got = 0;
        for (std::uint32_t c = 0; c < ptrs_.size(); ++c) {
            const auto s = ring_.read(c, cursor_, want);
            ptrs_[c] = s.data();
            got = s.size();
        }
        if (writer_ != nullptr) {
            const WriteStatus st = writer_->write(ptrs_, got);
            if (st != WriteStatus::ok) {
                fail_take(st, writer_->error());
            } else {
                frames_written_.fetch_add(got, std::memory_order_relaxed);
            }
        }
        cursor_ += got;
        release();
        if (writer_ != nullptr &&
            std::chrono::steady_clock::now() - last_header_ >= options_.header_interval) {
            writer_->update_header();
            last_header_ = std::chrono::steady_clock::now();
        }
    }
    return true;
}

} // namespace lockstep::capture
