// Where every line sluice writes goes: the report on stdout (what an operator reads: the banner,
// each phase's result, the summary), diagnostics on stderr (warnings, errors, the progress of
// log mode, with -v the details), and with --log-file all of them, as plain lines with a
// timestamp and a level. spdlog (Debian's libspdlog) does the formatting and the file; the
// console sinks here also keep the terminal's progress bar out of the way of other lines.
// Thread-safe: any thread may write; configure() once, from main, before the run's threads start.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::engine::log {

enum class Verbosity { quiet, normal, verbose };

struct Options {
    Verbosity verbosity = Verbosity::normal;
    bool stderr_timestamps = false;  // log mode: each line on stderr starts with the time
    bool stdout_timestamps = false;  // and each line of the report too
    std::string file;                // appended to; empty: no log file
};

// Replaces the defaults (plain console lines, no file). Throws std::runtime_error naming the file
// when it cannot be opened for appending or its directory does not exist.
void configure(const Options& options);

bool verbose();
bool quiet();
bool has_file();

// A block of the report, line by line: stdout (not with -q) and the file.
void report(std::string_view text);
// A line of the report that -q keeps: the run's verdict.
void result(std::string_view text);
// "sluice: TEXT" on stderr (not with -q): something worth seeing now (a lock wait, a retry).
void note(std::string_view text);
// "sluice: TEXT" on stderr, even with -q; at level warning in the file; kept for warnings().
void warn(std::string_view text);
// A warning inside the report (a check's in the banner, the rejects under the backfill's summary):
// `shown`, its lines as the report lays them out, on stdout; with -q, which drops the report, one
// line "sluice: warning: MESSAGE" on stderr instead. In the file `message` alone, at level warning
// (one line an alert can match). Kept for warnings().
void report_warning(std::string_view message, std::string_view shown);
// The warnings of this run so far, in order (warn's text, report_warning's message): the first
// kMaxWarningsKept, then one line saying how many more there were. For --summary-json.
inline constexpr std::size_t kMaxWarningsKept = 100;
std::vector<std::string> warnings();
// "sluice: TEXT" on stderr: what failed, as the user reads it. `detail` (the connection, the
// statement, the server's DETAIL) goes to the file, and with -v to stderr too.
void error(std::string_view text, std::string_view detail = {});
// Details: on stderr with -v only; always in the file, at level debug.
void debug(std::string_view text);
// A progress line of log mode: stderr (not with -q) and the file.
void progress(std::string_view text);
// A line for the file alone (the bar mode's heartbeat): the console shows it as the bar.
void file_only(std::string_view text);

// The terminal's progress bar, redrawn in place on stderr ("\r", the line, erase to its end).
// Any other console line clears it first; the next redraw puts it back under that line.
void draw_bar(std::string_view line);
void clear_bar();

}  // namespace sluice::engine::log
