// What a progress line says and how it is laid out: the reading of the current step, its rate
// over a recent window (not the average since the start, which hides a stall), the ETA, and the
// two renderings: the terminal's bar, fitted to the terminal's width so that a redraw never
// wraps, and the log line. Pure functions and a plain class: no threads, no I/O but the width.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

namespace sluice::engine {

// What the current step has to show.
struct Reading {
    std::string text;            // what is happening ("counting the rows to read"); may be empty
    double done = 0, total = 0;  // work done and to do, in `unit`; total 0: not known
    std::string unit;            // "chats"; empty: a plain fraction of `total`
    std::uint64_t rows = 0;      // rows written so far, shown when rows_noun is set
    std::string rows_noun;       // "messages"
    std::uint64_t bytes = 0;     // bytes read so far, shown as a rate when bytes_known
    bool bytes_known = false;
    std::string detail;  // for the log line only, e.g. the rows of each lane; may be empty
};

// Everything a line shows.
struct ProgressView {
    std::string phase;  // "backfill"; empty outside a phase
    unsigned phase_number = 0, phase_count = 0;
    double elapsed = 0;  // seconds since the phase (or the step) started
    Reading reading;
    // Per second, over the recent window; negative: not known yet.
    double done_rate = -1, row_rate = -1, byte_rate = -1;
};

// Seconds left at the recent rate; negative when not known.
double eta_seconds(const ProgressView& view);

// The bar for a terminal `width` columns wide: never longer than width - 1 (a line that reaches the
// last column wraps on some terminals), dropping the least useful figures first when it is narrow.
std::string bar_line(const ProgressView& view, std::size_t width);

// The same figures as one line for a log (no bar, no width).
std::string log_line(const ProgressView& view);

// The columns of the terminal on `fd` (TIOCGWINSZ), else $COLUMNS; nothing when neither says.
std::optional<std::size_t> terminal_columns(int fd);
// terminal_columns(fd), else 80.
std::size_t terminal_width(int fd);

// Rates over the last `span` seconds of samples.
class RateWindow {
public:
    explicit RateWindow(double span_seconds = 10) : span_(span_seconds) {}
    void add(double t, double done, double rows, double bytes);
    void reset() { samples_.clear(); }
    // Per second between the oldest sample of the window and the newest; negative until the
    // window holds samples a second apart.
    double done_rate() const { return rate(&Sample::done); }
    double row_rate() const { return rate(&Sample::rows); }
    double byte_rate() const { return rate(&Sample::bytes); }

private:
    struct Sample {
        double t, done, rows, bytes;
    };
    double rate(double Sample::*value) const;

    double span_;
    std::deque<Sample> samples_;
};

// "12.3k", "4.5M": a rate or a count in little room.
std::string short_number(double n);
// "54.3 MiB" (binary units, as their names say), "3.2s", "4m05s", "1h02m".
std::string human_bytes(std::uint64_t bytes);
std::string human_duration(double seconds);

}  // namespace sluice::engine
