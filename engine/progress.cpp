// The progress reporter thread and the human-readable figures it prints.
#include "engine/progress.h"

#include <cstdio>
#include <sys/resource.h>
#include <unistd.h>

namespace sluice::engine {

ProgressStyle style_for_stderr() { return isatty(STDERR_FILENO) ? ProgressStyle::bar : ProgressStyle::log; }

ProgressReporter::ProgressReporter(const RunCounters& counters, ProgressStyle style, std::uint64_t expected,
                                   ProgressNouns nouns)
    : counters_(counters), style_(style), expected_(expected), nouns_(nouns), start_(std::chrono::steady_clock::now()) {
    if (style_ != ProgressStyle::none) thread_ = std::thread([this] { run(); });
}

ProgressReporter::~ProgressReporter() { stop(); }

void ProgressReporter::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void ProgressReporter::run() {
    // A bar redraws often; a log line every few seconds is enough and keeps logs short.
    auto every = style_ == ProgressStyle::bar ? std::chrono::milliseconds(500) : std::chrono::seconds(5);
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, every, [&] { return stopping_; })) {
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        std::string text = line(seconds);
        if (style_ == ProgressStyle::bar) std::fprintf(stderr, "\r%s\033[K", text.c_str());
        else std::fprintf(stderr, "%s\n", text.c_str());
        std::fflush(stderr);
    }
    if (style_ == ProgressStyle::bar) std::fprintf(stderr, "\r\033[K");
}

std::string ProgressReporter::line(double seconds) const {
    std::uint64_t read = counters_.records_read.load(std::memory_order_relaxed);
    std::uint64_t bytes = counters_.bytes_read.load(std::memory_order_relaxed);
    std::uint64_t rows = counters_.rows_written.load(std::memory_order_relaxed);
    double rate = seconds > 0 ? rows / seconds : 0;
    double mbps = seconds > 0 ? bytes / seconds / (1 << 20) : 0;
    char buf[256];
    std::string bar;
    if (style_ == ProgressStyle::bar && expected_ > 0) {
        int filled = static_cast<int>(30.0 * std::min<double>(1.0, double(read) / double(expected_)));
        bar = "[" + std::string(filled, '#') + std::string(30 - filled, '.') + "] ";
    }
    std::string eta = "?";
    if (expected_ > 0 && read > 0 && read <= expected_) eta = human_duration(seconds * (expected_ - read) / read);
    std::snprintf(buf, sizeof buf, "%s%s %llu/%llu  %s %llu  %.0f rows/s  %.1f MB/s  ETA %s", bar.c_str(),
                  nouns_.records, static_cast<unsigned long long>(read), static_cast<unsigned long long>(expected_),
                  nouns_.rows, static_cast<unsigned long long>(rows), rate, mbps, eta.c_str());
    return buf;
}

std::string human_bytes(std::uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
    return buf;
}

std::string human_duration(double seconds) {
    char buf[32];
    if (seconds < 60) std::snprintf(buf, sizeof buf, "%.1fs", seconds);
    else if (seconds < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", int(seconds) / 60, int(seconds) % 60);
    else std::snprintf(buf, sizeof buf, "%dh%02dm", int(seconds) / 3600, (int(seconds) % 3600) / 60);
    return buf;
}

std::uint64_t peak_rss_bytes() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

namespace {
std::atomic<std::uint64_t> g_progress_marks{0};
}

void mark_progress() { g_progress_marks.fetch_add(1, std::memory_order_relaxed); }

std::uint64_t progress_marks() { return g_progress_marks.load(std::memory_order_relaxed); }

}  // namespace sluice::engine
