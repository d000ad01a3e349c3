// The disk thread: follows the engine's Marks through the AudioRing and writes each take
// with a TakeWriter. Between takes it releases ring frames, keeping the last `preroll`
// frames so that a take can start before its trigger. It brings file headers up to date
// every `header_interval` (crash safety), and when a take's file fails (disk full, I/O
// error) it closes what it has, reports the error and asks the engine to stop the take.
//
// Threads: start(), finish() and poll_events() on the control thread; the loop on its own
// thread (or step() from a test instead of start()); status getters from any thread.
#pragma once

#include "engine.hpp"
#include "writer.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace lockstep::capture {

struct DiskOptions {
    std::string dir = ".";
    std::string name_template = "take-{date}-{time}-{n}";
    WriterOptions writer;
    std::chrono::milliseconds header_interval{250};
    std::chrono::milliseconds idle_poll{2};
};

struct DiskEvent {
    enum class Kind : std::uint8_t { opened, closed, error } kind = Kind::opened;
    std::uint64_t take = 0;
    std::string name; // take name (file base name without extension)
    std::vector<std::string> paths;
    Frame first_frame = 0;
    std::uint64_t frames = 0; // frames in the file(s) (closed/error)
    std::string message;      // error: why
};

class DiskWriter {
public:
    // Control thread. `engine` must outlive this object.
    DiskWriter(DiskOptions options, Engine& engine);
    ~DiskWriter();
    DiskWriter(const DiskWriter&) = delete;
    DiskWriter& operator=(const DiskWriter&) = delete;

    // Control thread: runs the loop on its own thread.
    void start();
    // Control thread, once the audio thread no longer runs (the JACK client is stopped):
    // stops the loop, writes everything still in the ring and closes an open take there.
    void finish();

    // Disk thread (or a test instead of start()): one pass; true when it did something.
    bool step();

    // Control thread: events since the last call.
    std::vector<DiskEvent> poll_events();

    // Any thread.
    bool writing() const noexcept { return writing_.load(std::memory_order_relaxed); }
    std::uint64_t frames_written() const noexcept {
        return frames_written_.load(std::memory_order_relaxed);
    }
    std::string take_name() const;
    std::uint64_t takes_written() const noexcept { return takes_.load(std::memory_order_relaxed); }
    std::uint64_t errors() const noexcept { return errors_.load(std::memory_order_relaxed); }

private:
    void run();
    void apply(const Mark& m);
    void open_take(const Mark& m);
    void close_take(bool report);
    void fail_take(WriteStatus status, const std::string& message);
    bool write_ring(std::uint64_t until);
    void event(DiskEvent e);
    void release();

    DiskOptions options_;
    Engine& engine_;
    AudioRing& ring_;
    std::uint64_t preroll_;

    // Disk-thread state.
    std::uint64_t cursor_ = 0;
    std::uint64_t released_ = 0;
    bool in_take_ = false; // between take_start and take_end (writer_ may be null: failed)
    std::uint64_t take_ = 0;
    Frame first_frame_ = 0;
    std::string name_;
    std::unique_ptr<TakeWriter> writer_;
    std::vector<const float*> ptrs_;
    std::chrono::steady_clock::time_point last_header_;

    std::thread thread_;
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_; // guards events_ and status_name_
    std::vector<DiskEvent> events_;
    std::string status_name_;
    std::atomic<bool> writing_{false};
    std::atomic<std::uint64_t> frames_written_{0};
    std::atomic<std::uint64_t> takes_{0};
    std::atomic<std::uint64_t> errors_{0};
};

} // namespace lockstep::capture
