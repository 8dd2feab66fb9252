// Progress: the run's shared counters (the one place that holds atomics), the display that shows
// the current phase and what it is doing (a live bar on a terminal, timestamped lines in a log,
// a heartbeat in the --log-file), and the reporter a pipeline attaches its counters with.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/progress_line.h"

namespace sluice::engine {

// Written by the stages, read by the reporter. Relaxed atomics: they are only ever displayed.
struct RunCounters {
    explicit RunCounters(std::size_t lanes = 1) : lane_rows(lanes) {}
    std::atomic<std::uint64_t> records_read{0};
    std::atomic<std::uint64_t> bytes_read{0};
    std::atomic<std::uint64_t> rows_written{0};
    std::vector<std::atomic<std::uint64_t>> lane_rows;  // rows each lane's writer wrote; sized once
};

enum class ProgressStyle { bar, log, none };

// What "auto" means: a bar when stderr is a terminal, log lines otherwise (containers, CI).
ProgressStyle style_for_stderr();

// The display of a run: one per process at a time (the newest is current()). Phases begin and
// end; in between, the phase shows a text, or a source of figures that the display's own thread
// reads every half second (under the display's lock: a source must not call back into it). In
// log mode a line every 5 seconds and one at each phase's start and end; with a --log-file, a
// heartbeat there every 10 seconds whatever the style. Thread-safe.
class ProgressDisplay {
public:
    explicit ProgressDisplay(ProgressStyle style);
    ~ProgressDisplay();
    ProgressDisplay(const ProgressDisplay&) = delete;
    ProgressDisplay& operator=(const ProgressDisplay&) = delete;

    // The phase's name, its number and how many the run has ("phase 2 of 5").
    void begin_phase(const std::string& name, unsigned number, unsigned count);
    // "finished in 3.2s", "interrupted after 1.0s", ...: `how` said with the phase's time in log mode.
    void end_phase(const std::string& how);
    // What the phase does now, without figures ("validating the foreign key").
    void show(const std::string& text);
    // Figures from now on; an empty function goes back to the last text.
    void measure(std::function<Reading()> source);

    ProgressStyle style() const { return style_; }
    static ProgressDisplay* current();

private:
    void run();
    void tick(bool log_due, bool file_due);
    ProgressView view_locked(double now);

    ProgressStyle style_;
    ProgressDisplay* previous_;
    std::chrono::steady_clock::time_point created_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    bool redraw_ = false;  // the phase or its text changed: draw now
    std::string phase_, text_;
    unsigned number_ = 0, count_ = 0;
    double phase_start_ = 0;
    std::function<Reading()> source_;
    RateWindow rates_;
    std::thread thread_;
};

// Shown on the current display, if there is one: stages call it wherever they are.
void show_progress(const std::string& text);

// What the job calls its records and rows in the progress line ("chats", "messages").
struct ProgressNouns {
    const char* records = "records";
    const char* rows = "rows";
};

// A pipeline's counters on the current display while it lives (on a display of its own when
// there is none). `expected_records` (0: unknown) gives the fraction and the ETA.
class ProgressReporter {
public:
    ProgressReporter(const RunCounters& counters, ProgressStyle style, std::uint64_t expected_records,
                     ProgressNouns nouns = {});
    ~ProgressReporter();
    ProgressReporter(const ProgressReporter&) = delete;
    ProgressReporter& operator=(const ProgressReporter&) = delete;
    void stop();

private:
    std::unique_ptr<ProgressDisplay> own_;
    ProgressDisplay* display_ = nullptr;
};

// Work that reached the database for good (a commit, an index built, a constraint validated):
// marked by whoever did it; a run's reconnect budget refills after it (transient failures spread
// over a long run are not consecutive). Thread-safe.
void mark_progress();
std::uint64_t progress_marks();

// The process's peak resident set size so far, in bytes.
std::uint64_t peak_rss_bytes();

}  // namespace sluice::engine
