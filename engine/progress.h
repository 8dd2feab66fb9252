// Progress: the run's shared counters (the one place that holds atomics) and a reporter that
// shows them, as a live bar on a terminal or one line every few seconds in a log.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace sluice::engine {

// Written by the stages, read by the reporter. Relaxed atomics: they are only ever displayed.
struct RunCounters {
    std::atomic<std::uint64_t> records_read{0};
    std::atomic<std::uint64_t> bytes_read{0};
    std::atomic<std::uint64_t> rows_written{0};
};

enum class ProgressStyle { bar, log, none };

// What "auto" means: a bar when stderr is a terminal, log lines otherwise (containers, CI).
ProgressStyle style_for_stderr();

// What the job calls its records and rows in the progress line ("chats", "messages").
struct ProgressNouns {
    const char* records = "records";
    const char* rows = "rows";
};

// Shows progress until stopped or destroyed. `expected_records` (0: unknown) gives the ETA.
class ProgressReporter {
public:
    ProgressReporter(const RunCounters& counters, ProgressStyle style, std::uint64_t expected_records,
                     ProgressNouns nouns = {});
    ~ProgressReporter();
    ProgressReporter(const ProgressReporter&) = delete;
    ProgressReporter& operator=(const ProgressReporter&) = delete;
    void stop();

private:
    void run();
    std::string line(double seconds) const;

    const RunCounters& counters_;
    ProgressStyle style_;
    std::uint64_t expected_;
    ProgressNouns nouns_;
    std::chrono::steady_clock::time_point start_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

std::string human_bytes(std::uint64_t bytes);
std::string human_duration(double seconds);
// Work that reached the database for good (a commit, an index built, a constraint validated):
// marked by whoever did it; a run's reconnect budget refills after it (transient failures spread
// over a long run are not consecutive). Thread-safe.
void mark_progress();
std::uint64_t progress_marks();

// The process's peak resident set size so far, in bytes.
std::uint64_t peak_rss_bytes();

}  // namespace sluice::engine
