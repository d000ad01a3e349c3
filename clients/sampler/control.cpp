#include "control.hpp"

#include <chrono>
#include <utility>

namespace lockstep::sampler {

namespace {
// How often the loader frees old kits whose last voice has ended, when idle.
constexpr auto collect_interval = std::chrono::milliseconds(100);
} // namespace

Control::Control(KitStore& store, Done done, std::size_t capacity)
    : store_(store), done_(std::move(done)), capacity_(capacity) {
    view_.rate = store_.rate();
}

Control::~Control() {
    stop();
}

void Control::start() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (thread_.joinable()) {
        return;
    }
    stopping_ = false;
    thread_ = std::thread([this] { run(); });
}

void Control::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
        queue_.clear();
        view_.pending = running_ ? 1 : 0;
    }
    wake_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

bool Control::submit(Request request) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (queue_.size() >= capacity_ || stopping_) {
            return false;
        }
        queue_.push_back(std::move(request));
        ++view_.pending;
    }
    wake_.notify_one();
    return true;
}

ControlView Control::view() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return view_;
}

std::uint64_t Control::revision() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return revision_;
}

bool Control::idle() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return queue_.empty() && !running_;
}

void Control::run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        if (!wake_.wait_for(lock, collect_interval,
                            [this] { return stopping_ || !queue_.empty(); })) {
            // Idle: free kits whose voices have all ended (the store is ours alone).
            lock.unlock();
            store_.collect();
            const std::size_t alive = store_.alive();
            lock.lock();
            view_.kits_alive = alive;
            continue;
        }
        if (stopping_) {
            return;
        }
        Request r = std::move(queue_.front());
        queue_.pop_front();
        running_ = true;
        lock.unlock();

        const LoadReport report = execute(r);

        lock.lock();
        running_ = false;
        --view_.pending;
        if (report.ok) {
            ++view_.done;
            ++revision_;
            if (const auto current = store_.current()) {
                view_.kit = current->source;
                view_.regions = report.regions;
                view_.samples = report.samples;
                view_.sample_bytes = report.sample_bytes;
                view_.kit_bytes = report.kit_bytes;
            }
            view_.rate = store_.rate();
            view_.kits_alive = store_.alive();
        } else {
            ++view_.failed;
            view_.last_error = report.error;
        }
        lock.unlock();
        if (done_) {
            done_(r, report); // outside the lock: it sends OSC and logs
        }
        lock.lock();
    }
}

LoadReport Control::execute(const Request& r) {
    using Kind = Request::Kind;
    SlotView slot;
    if (r.slot >= 0 && r.slot < slot_count) {
        std::lock_guard<std::mutex> lock(mutex_);
        slot = view_.slots[static_cast<std::size_t>(r.slot)];
    }
    SlotSettings s = slot.settings;
    LoadReport report;
    switch (r.kind) {
    case Kind::kit:
        report = store_.load_kit(r.path);
        break;
    case Kind::clear_kit:
        report = store_.clear_kit();
        break;
    case Kind::load:
        report = store_.load_slot(r.slot, r.path);
        if (report.ok) {
            slot.path = r.path;
        }
        break;
    case Kind::unload:
        report = store_.clear_slot(r.slot);
        if (report.ok) {
            slot.path.clear();
        }
        break;
    case Kind::gain:
    case Kind::pan:
    case Kind::tune:
    case Kind::choke:
    case Kind::one_shot:
    case Kind::output:
        if (r.kind == Kind::gain) {
            s.gain_db = r.value;
        } else if (r.kind == Kind::pan) {
            s.pan = r.value;
        } else if (r.kind == Kind::tune) {
            s.tune = static_cast<int>(r.value);
        } else if (r.kind == Kind::choke) {
            s.choke = static_cast<std::int64_t>(r.value);
        } else if (r.kind == Kind::output) {
            s.output = static_cast<int>(r.value);
        } else {
            s.one_shot = r.value != 0;
        }
        report = store_.set_slot(r.slot, s);
        if (report.ok) {
            slot.settings = s;
        }
        break;
    case Kind::rate:
        report = store_.set_rate(static_cast<std::uint32_t>(r.value));
        if (report.ok) {
            // Slots whose files could not be read again were dropped by the store.
            std::lock_guard<std::mutex> lock(mutex_);
            for (int i = 0; i < slot_count; ++i) {
                auto& v = view_.slots[static_cast<std::size_t>(i)];
                if (!v.path.empty() && !store_.has_slot(i)) {
                    v.path.clear();
                }
            }
        }
        return report;
    }
    if (report.ok && r.slot >= 0 && r.slot < slot_count) {
        std::lock_guard<std::mutex> lock(mutex_);
        view_.slots[static_cast<std::size_t>(r.slot)] = slot;
    }
    return report;
}

} // namespace lockstep::sampler
