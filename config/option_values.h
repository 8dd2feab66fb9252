// One option's value as text, tagged with where it came from (a Setting), and the parsers that
// turn it into what RunConfig holds. Each error is a UsageError naming the option and its source.
// Internal to config/: run_config.cpp's option table applies these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/run_config.h"

namespace sluice::config {

// One option's value as text, and where it came from.
struct Setting {
    std::string option;  // the long name, e.g. "batch-rows"
    std::string value;
    std::string origin;  // empty for the command line, else "SLUICE_X", "DATABASE_URL" or "config file F"

    std::string label() const { return "--" + option + (origin.empty() ? "" : " (from " + origin + ")"); }
};
using Settings = std::map<std::string, Setting>;

[[noreturn]] void fail(const Setting& s, const std::string& what);

// `text` without the blanks around it; in lower case; cut at `separator`, each part trimmed.
std::string trim(std::string_view text);
std::string lower(std::string text);
std::vector<std::string> split(const std::string& text, char separator);

struct Quantity {
    std::uint64_t number;
    std::string unit;  // what follows the digits, e.g. "MB"
};

// `kind` completes "'x' is not ...": refuses a negative, junk and overflow, naming `label`.
Quantity split_quantity(const std::string& label, const std::string& text, const std::string& kind);

// The largest sensible value of a count and why, for counts that have one.
struct Most {
    std::uint64_t value;
    const char* why;
};

template <typename T>
T count(const Setting& s, T least, std::optional<Most> most = std::nullopt) {
    const std::string kind = "a whole number";
    const Quantity q = split_quantity(s.label(), s.value, kind);
    if (!q.unit.empty()) fail(s, "'" + trim(s.value) + "' is not " + kind);
    if (q.number > std::numeric_limits<T>::max()) fail(s, "'" + trim(s.value) + "' is too large");
    if (q.number < least) fail(s, "must be at least " + std::to_string(least) + " (got " + trim(s.value) + ")");
    if (most && q.number > most->value)
        fail(s, "must be at most " + std::to_string(most->value) + " (got " + trim(s.value) + "): " + most->why);
    return static_cast<T>(q.number);
}

// The upper bounds. Fixed numbers rather than multiples of the cores, so that one config file
// means the same on every machine it is copied to.
// The transform is CPU-bound and the in-flight budget bounds the batches, so threads far beyond the
// cores only cost memory; 1024 is past any machine sluice runs on, and keeps the thread count
// (plus the reader and the writer) within the int that oneTBB's arena takes.
inline constexpr Most kMostParseThreads{1024, "more threads than that only cost memory"};
// PostgreSQL's FETCH takes its count as an int: FETCH FORWARD 2147483648 is a syntax error (tried on 15).
inline constexpr Most kMostFetchRows{2147483647, "PostgreSQL's FETCH takes at most 2147483647 rows"};
// A thousand times the default: --batch-bytes closes batches long before, and a batch with a bad
// row is copied again in parts, which costs more the bigger it is.
inline constexpr Most kMostBatchRows{1000000, "a batch is one COPY; --batch-bytes closes batches long before"};
// As many as parse threads can use; --max-inflight-bytes is the memory bound.
inline constexpr Most kMostInflightBatches{1024, "as many as the most parse threads can use"};
// Each lane holds two connections (a reader and a writer) of the server's max_connections (100 by
// default); the measured gain ends at 8 sessions of COPY into one table.
inline constexpr Most kMostLanes{32, "each lane holds two of the server's connections"};
// One connection builds one index, and chat_message has seven.
inline constexpr Most kMostIndexConnections{7, "one connection builds one index, and there are seven"};

// "30s", "500ms", "2min", "1h"; refuses another unit, naming `label`.
std::chrono::milliseconds parse_duration(const std::string& label, const std::string& text);
// "5s", "16MB" or both, either order.
CommitInterval parse_commit_interval(const Setting& s);
// 1/0, true/false, yes/no, on/off.
bool parse_flag(const Setting& s);
// auto, bar, log or none.
ProgressStyle parse_progress(const Setting& s);
// Phase names, comma-separated, in the order they run whatever the order given.
std::vector<Phase> parse_phases(const Setting& s);
// "8452d01d26d7 (chat_message, the default) or 9a1b2c3d4e5f (chat.current_message_id)": the jobs.
std::string job_choices();
// One of the jobs' revisions (stages/openwebui.h's kJobs).
std::string parse_revision(const Setting& s);
// The value, refused when empty with `what_to_do`.
std::string non_empty(const Setting& s, const std::string& what_to_do);

}  // namespace sluice::config
