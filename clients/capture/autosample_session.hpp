// An autosampling session on the session (control) thread (docs/capture.md "Autosampler"):
// measures the instrument's round-trip latency once (a probe note; or takes a given one),
// then for each pending note of the plan schedules note-on and note-off at exact frames
// through the AutoEngine, collects the frames from the pre-roll before the
// latency-compensated note-on until the release has decayed (or the maximum tail), finds
// the onset, trims, fades and writes the note's raw file. When every note is recorded it
// normalises the set (one gain, or per file), writes the final files with their root key
// in the smpl chunk, and the SFZ. Raw files live in <dir>/raw/: a session started again
// with the same name and dir skips the notes found there (resume).
//
// Threads: step(), poll_log() and the constructor on the session thread; pause(),
// resume(), cancel() and progress() from any thread (OSC, signals, the progress bar).
// Nothing here runs on the audio thread.
#pragma once

#include "autosample_dsp.hpp"
#include "autosample_engine.hpp"
#include "autosample_plan.hpp"
#include "writer.hpp"

#include <atomic>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace lockstep::capture::autosample {

enum class LatencyMode : std::uint8_t { fixed, measure };
enum class Normalise : std::uint8_t { set, file, off };

struct SessionOptions {
    std::string name = "sample";
    std::filesystem::path dir = ".";
    PlanSpec plan;
    int midi_channel = 1; // 1-16
    std::uint32_t rate = 48000;
    std::uint32_t channels = 1;
    std::uint64_t hold = 48000;         // frames from note-on to note-off
    std::uint64_t preroll = 2400;       // frames kept before the (compensated) note-on
    std::uint64_t max_tail = 48000 * 5; // frames after the note-off at most
    std::uint64_t end_window = 480;     // this many quiet frames in a row end the release
    std::uint64_t lead = 4800;          // notes are scheduled at least this far ahead
    std::uint64_t gap = 480;            // silence between one note's end and the next pre-roll
    std::uint64_t fade_in = 24;
    std::uint64_t fade_out = 480;
    LatencyMode latency_mode = LatencyMode::measure;
    std::int64_t latency = 0; // frames (fixed mode)
    Normalise normalise = Normalise::set;
    float target_peak = 0.891F; // -1 dBFS
    SampleFormat sample = SampleFormat::pcm24;
    Thresholds thresholds;
    float noise_warning = 0.001F; // a noise floor peak above -60 dBFS is reported
};

enum class Phase : std::uint8_t { latency, recording, paused, done, cancelled, failed };
const char* to_string(Phase p) noexcept;

struct Progress {
    Phase phase = Phase::latency;
    std::size_t total = 0;    // notes in the plan
    std::size_t recorded = 0; // with a raw file (earlier sessions included)
    std::size_t resumed = 0;  // found at the start (recorded by an earlier session)
    std::size_t failed = 0;   // notes that gave no sound (left for a later session)
    bool has_current = false;
    NoteId current;
    double seconds_left = 0;
    std::int64_t latency = -1; // frames, -1 before it is known
    std::size_t warnings = 0;
    std::uint64_t steps = 0; // session passes so far (tests: proof that time went by)
    std::string error;       // failed: why
};

// One line for a terminal: "[#####.....] 5/12  C4 v127 rr1  recording  0:07 left", `width`
// characters of bar.
std::string render_progress(const Progress& p, int width = 30);

// One recorded note, for the log and for tests.
struct NoteRecord {
    NoteId id;
    Frame note_on = 0; // frame the note-on went out at
    Frame onset = 0;   // frame of the file's first sample
    Frame end = 0;     // frame after its last sample
    float peak = 0;    // raw peak (before normalisation)
    float noise = 0;   // noise floor peak in the pre-roll
    bool clipped = false;
    std::string file; // raw file
};

struct LogLine {
    int level = 6; // sd-daemon levels: 3 error, 4 warning, 5 notice, 6 info
    std::string text;
};

class Session {
public:
    // Session thread. Scans <dir>/raw for notes already recorded.
    Session(SessionOptions options, AutoEngine& engine);

    // Session thread: one pass (drain the ring, schedule, analyse, write). Returns true
    // while the session goes on (false once done, cancelled or failed).
    bool step();

    // Any thread.
    void pause() noexcept { pause_.store(true); }
    void resume() noexcept { pause_.store(false); }
    void cancel() noexcept { cancel_.store(true); }
    // Any thread: pause() asked last (not resume()), whether or not in effect yet.
    bool pause_requested() const noexcept { return pause_.load(); }
    Progress progress() const;
    // Session thread: log lines since the last call.
    std::vector<LogLine> poll_log();
    // Session thread: the notes recorded by this session so far.
    const std::vector<NoteRecord>& records() const { return records_; }
    std::int64_t latency() const { return latency_; }
    const SessionOptions& options() const { return options_; }
    std::filesystem::path raw_dir() const { return options_.dir / "raw"; }
    std::filesystem::path sfz_path() const { return options_.dir / (options_.name + ".sfz"); }

private:
    struct Current {
        bool active = false;
        bool probe = false;
        bool broken = false; // frames were lost inside its window
        NoteId id;
        std::uint32_t on_id = 0;
        Frame planned_on = 0;
        Frame actual_on = -1;
        Frame window_start = 0;
        Frame release_at = 0; // where the (compensated) note-off lands
        Frame deadline = 0;   // release_at + max_tail
        Frame scan_from = 0;
        std::size_t onset_scan = 0;       // window frames checked for the onset so far
        std::optional<std::size_t> onset; // window frame, once found
        Frame scheduled_at = 0;           // engine.now() when it was scheduled (for time left)
    };

    void drain();
    void trim_history();
    bool check_resumed();
    bool settled();
    bool schedule_next();
    void check_current();
    void finish_note(Frame stop);
    bool finish_set();
    void log(int level, std::string text);
    void fail(std::string why);
    void publish(Phase phase);
    Frame acc_end() const {
        return acc_first_ + static_cast<Frame>(acc_.size() / options_.channels);
    }

    SessionOptions options_;
    AutoEngine& engine_;
    std::vector<NoteId> plan_;
    std::vector<NoteId> pending_;
    std::size_t next_ = 0;
    std::size_t resumed_ = 0;
    std::size_t recorded_ = 0;
    std::size_t failed_ = 0;
    std::size_t warnings_ = 0;
    std::int64_t latency_ = -1;
    float noise_floor_ = -1; // peak, from the first pre-roll
    Phase phase_ = Phase::latency;
    std::uint32_t next_id_ = 1;
    std::uint64_t steps_ = 0;

    // Frames from the ring: acc_ holds frames [acc_first_, acc_end()) interleaved.
    std::uint64_t cursor_ = 0;
    Frame cursor_frame_ = 0;
    bool have_frames_ = false;
    std::vector<float> acc_;
    Frame acc_first_ = 0;

    Current cur_;
    Frame last_end_ = 0; // the next pre-roll starts after this frame
    double note_frames_sum_ = 0;
    std::size_t note_frames_count_ = 0;
    Frame last_scheduled_at_ = -1;
    Frame last_midi_ = 0; // frame of the last message queued (a note-off)

    std::vector<NoteRecord> records_;
    std::vector<LogLine> log_;
    std::atomic<bool> pause_{false};
    std::atomic<bool> cancel_{false};
    mutable std::mutex mutex_; // guards progress_
    Progress progress_;
};

} // namespace lockstep::capture::autosample
