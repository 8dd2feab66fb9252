// The display's thread, the phases it frames, and the reporter that lends it a pipeline's counters.
#include "engine/progress.h"

#include <sys/resource.h>
#include <unistd.h>

#include "engine/log.h"

namespace sluice::engine {

namespace {

std::atomic<ProgressDisplay*> g_current{nullptr};

// A bar redraws often; a log line every few seconds keeps logs short; the file's heartbeat is rarer.
constexpr auto kTick = std::chrono::milliseconds(500);
constexpr double kLogEvery = 5, kFileEvery = 10;

}  // namespace

ProgressStyle style_for_stderr() {
    return isatty(STDERR_FILENO) ? ProgressStyle::bar : ProgressStyle::log;
}

ProgressDisplay::ProgressDisplay(ProgressStyle style)
    : style_(style), previous_(g_current.exchange(this)), created_(std::chrono::steady_clock::now()) {
    if (style_ != ProgressStyle::none || log::has_file()) thread_ = std::thread([this] { run(); });
}

ProgressDisplay::~ProgressDisplay() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (style_ == ProgressStyle::bar) log::clear_bar();
    g_current.store(previous_);
}

ProgressDisplay* ProgressDisplay::current() {
    return g_current.load();
}

namespace {

double since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string phase_prefix(const std::string& phase, unsigned number, unsigned count) {
    return "phase " + std::to_string(number) + "/" + std::to_string(count) + " " + phase + ": ";
}

}  // namespace

void ProgressDisplay::begin_phase(const std::string& name, unsigned number, unsigned count) {
    std::lock_guard<std::mutex> lock(mutex_);
    phase_ = name;
    number_ = number;
    count_ = count;
    phase_start_ = since(created_);
    text_.clear();
    source_ = nullptr;
    rates_.reset();
    const std::string line = phase_prefix(name, number, count) + "started";
    if (style_ == ProgressStyle::log)
        log::progress(line);
    else
        log::file_only(line);
    redraw_ = true;
    wake_.notify_all();
}

void ProgressDisplay::end_phase(const std::string& how) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (phase_.empty()) return;
    const std::string line =
        phase_prefix(phase_, number_, count_) + how + " " + human_duration(since(created_) - phase_start_);
    if (style_ == ProgressStyle::bar) log::clear_bar();
    if (style_ == ProgressStyle::log)
        log::progress(line);
    else
        log::file_only(line);
    phase_.clear();
    text_.clear();
    source_ = nullptr;
}

void ProgressDisplay::show(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    text_ = text;
    source_ = nullptr;
    redraw_ = true;
    wake_.notify_all();
}

void ProgressDisplay::measure(std::function<Reading()> source) {
    std::lock_guard<std::mutex> lock(mutex_);
    source_ = std::move(source);
    if (!source_) text_.clear();
    rates_.reset();
}

ProgressView ProgressDisplay::view_locked(double now) {
    ProgressView v;
    v.phase = phase_;
    v.phase_number = number_;
    v.phase_count = count_;
    v.elapsed = now - (phase_.empty() ? 0 : phase_start_);
    if (source_) {
        v.reading = source_();
        rates_.add(now, v.reading.done, static_cast<double>(v.reading.rows), static_cast<double>(v.reading.bytes));
        v.done_rate = rates_.done_rate();
        v.row_rate = rates_.row_rate();
        v.byte_rate = rates_.byte_rate();
    } else {
        v.reading.text = text_;
    }
    return v;
}

void ProgressDisplay::tick(bool log_due, bool file_due) {
    const ProgressView v = view_locked(since(created_));
    if (v.phase.empty() && !source_ && text_.empty()) return;  // between phases: nothing to show
    if (style_ == ProgressStyle::bar) log::draw_bar(bar_line(v, terminal_width(STDERR_FILENO)));
    if (log_due)
        log::progress(log_line(v));
    else if (file_due)
        log::file_only(log_line(v));
}

void ProgressDisplay::run() {
    double last_log = 0, last_file = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        // Every tick, and at once when the phase or its text changes (a short phase is seen too).
        wake_.wait_for(lock, kTick, [&] { return stopping_ || redraw_; });
        if (stopping_) break;
        redraw_ = false;
        const double now = since(created_);
        // A phase's start line counts as its first: the next comes a full period later.
        if (!phase_.empty() && phase_start_ > last_log) last_log = last_file = phase_start_;
        const bool log_due = style_ == ProgressStyle::log && now - last_log >= kLogEvery;
        const bool file_due = style_ != ProgressStyle::log && log::has_file() && now - last_file >= kFileEvery;
        tick(log_due, file_due);
        if (log_due) last_log = now;
        if (file_due) last_file = now;
    }
}

void show_progress(const std::string& text) {
    if (ProgressDisplay* display = ProgressDisplay::current()) display->show(text);
}

ProgressReporter::ProgressReporter(const RunCounters& counters, ProgressStyle style, std::uint64_t expected,
                                   ProgressNouns nouns) {
    display_ = ProgressDisplay::current();
    if (!display_) {
        own_ = std::make_unique<ProgressDisplay>(style);
        display_ = own_.get();
    }
    display_->measure([&counters, expected, nouns] {
        Reading r;
        r.done = static_cast<double>(counters.records_read.load(std::memory_order_relaxed));
        r.total = static_cast<double>(expected);
        r.unit = nouns.records;
        r.rows = counters.rows_written.load(std::memory_order_relaxed);
        r.rows_noun = nouns.rows;
        r.bytes = counters.bytes_read.load(std::memory_order_relaxed);
        r.bytes_known = true;
        if (counters.lane_rows.size() > 1) {  // in log lines: how the lanes keep up with each other
            r.detail = std::string(nouns.rows) + " by lane:";
            for (std::size_t k = 0; k < counters.lane_rows.size(); ++k)
                r.detail += " " + std::to_string(k + 1) + "=" +
                            short_number(static_cast<double>(counters.lane_rows[k].load(std::memory_order_relaxed)));
        }
        return r;
    });
}

ProgressReporter::~ProgressReporter() {
    stop();
}

void ProgressReporter::stop() {
    if (!display_) return;
    display_->measure(nullptr);  // before the counters it reads go away
    display_ = nullptr;
    own_.reset();
}

std::uint64_t peak_rss_bytes() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

namespace {
std::atomic<std::uint64_t> g_progress_marks{0};
}

void mark_progress() {
    g_progress_marks.fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t progress_marks() {
    return g_progress_marks.load(std::memory_order_relaxed);
}

}  // namespace sluice::engine
