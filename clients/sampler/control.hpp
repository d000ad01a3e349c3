// lockstep-sampler's control side: one loader thread owns the KitStore and runs every
// change to the kit (SFZ loads, slot loads, slot settings, sample-rate changes) in the
// order they were asked for. Loads block on disk and CPU for as long as they take, so
// neither the OSC thread nor the audio thread ever waits for one. A change that fails
// changes nothing: the current kit keeps playing.
//
// Threads: submit(), view(), revision(), idle() from any control thread (OSC/main);
// the Done callback runs on the loader thread. Never used from the audio thread.
#pragma once

#include "loader.hpp"
#include "osc/address.hpp"

#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace lockstep::sampler {

struct Request {
    enum class Kind : std::uint8_t {
        kit,       // load the SFZ `path` (slots stay)
        clear_kit, // drop the SFZ part
        load,      // load `path` into `slot`
        unload,    // empty `slot`
        gain,      // slot setting: `value` dB
        pan,       // -100 .. 100
        tune,      // cents
        choke,     // group (0 = none)
        one_shot,  // 0 or 1
        output,    // 0 = main pair, K = group pair K (0..16)
        rate,      // JACK's sample rate is now `value`: reload everything at it
    };
    Kind kind = Kind::kit;
    int slot = -1; // slot requests: 0 .. 127
    std::string path;
    double value = 0;
    // Who asked (for the reply), and the OSC path it came on (for /error).
    std::optional<osc::SocketAddress> reply_to;
    std::string osc_path;
};

struct SlotView {
    std::string path; // empty: no sample
    SlotSettings settings;
};

// What is loaded now, for /query and the state file (a copy).
struct ControlView {
    std::string kit; // SFZ path, "" when none
    std::array<SlotView, slot_count> slots{};
    std::uint32_t rate = 0;
    std::size_t regions = 0;
    std::size_t samples = 0;
    std::uint64_t sample_bytes = 0;
    std::uint64_t kit_bytes = 0;
    std::size_t kits_alive = 0; // current + old ones still sounding
    std::size_t pending = 0;    // requests queued or running
    std::uint64_t done = 0;     // requests that succeeded
    std::uint64_t failed = 0;   // requests that failed (nothing changed)
    std::string last_error;     // of the latest failure
};

class Control {
public:
    // Loader thread: called after each request with the store's report.
    using Done = std::function<void(const Request&, const LoadReport&)>;

    // Control thread. `store` must outlive this object; only the loader thread touches it
    // from start() to stop(). Requests beyond `capacity` are refused by submit().
    Control(KitStore& store, Done done, std::size_t capacity = 256);
    ~Control();
    Control(const Control&) = delete;
    Control& operator=(const Control&) = delete;

    void start();
    // Finishes the request that is running (a load cannot be interrupted), drops the
    // rest and joins the loader thread.
    void stop();

    // Any control thread: queues a request; false when the queue is full.
    bool submit(Request request);

    // Any control thread.
    ControlView view() const;
    // Changes to what is loaded so far (the state file is saved when it moves).
    std::uint64_t revision() const;
    // No request queued or running.
    bool idle() const;

private:
    void run();
    LoadReport execute(const Request& r);

    KitStore& store_;
    Done done_;
    std::size_t capacity_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable idle_;
    std::deque<Request> queue_;
    bool running_ = false; // a request is being executed
    bool stopping_ = false;
    ControlView view_;
    std::uint64_t revision_ = 0;
    std::thread thread_;
};

} // namespace lockstep::sampler
