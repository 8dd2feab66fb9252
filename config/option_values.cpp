// The parsers of option values: numbers, sizes, durations and words, each refusal naming the option.
#include "config/option_values.h"

#include "stages/openwebui.h"  // a leaf of facts, below config: the jobs' revisions

#include <algorithm>
#include <cctype>
#include <charconv>
#include <iterator>
#include <utility>

namespace sluice::config {

[[noreturn]] void fail(const Setting& s, const std::string& what) {
    throw UsageError(s.label() + ": " + what);
}

namespace {
bool blank(char c) {
    return std::isspace(static_cast<unsigned char>(c)) != 0;
}
}  // namespace

std::string trim(std::string_view text) {
    while (!text.empty() && blank(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && blank(text.back()))
        text.remove_suffix(1);
    return std::string(text);
}

std::string lower(std::string text) {
    for (char& c : text)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

std::vector<std::string> split(const std::string& text, char separator) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (std::size_t end; (end = text.find(separator, start)) != std::string::npos; start = end + 1)
        parts.push_back(trim(text.substr(start, end - start)));
    parts.push_back(trim(text.substr(start)));
    return parts;
}

// ---- numbers, sizes, durations ------------------------------------------------------------

// The sign check is explicit because a negative must never wrap around into a huge unsigned value
// (as Boost's own unsigned parsing lets "-1" do).
Quantity split_quantity(const std::string& label, const std::string& text, const std::string& kind) {
    const std::string t = trim(text);
    if (!t.empty() && t.front() == '-') throw UsageError(label + ": must not be negative (got '" + t + "')");
    Quantity q{0, {}};
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), q.number);
    if (ec == std::errc::result_out_of_range) throw UsageError(label + ": '" + t + "' is too large");
    if (ec != std::errc()) throw UsageError(label + ": '" + t + "' is not " + kind);
    q.unit = trim(std::string_view(end, static_cast<std::size_t>(t.data() + t.size() - end)));
    return q;
}

// Units are case-sensitive so that "m" can never be read as both minutes and megabytes.
std::chrono::milliseconds parse_duration(const std::string& label, const std::string& text) {
    static const std::map<std::string, std::uint64_t> ms_per_unit{
        {"ms", 1}, {"s", 1000}, {"min", 60'000}, {"h", 3'600'000}};
    const std::string kind = "a duration (write e.g. 30s, 500ms, 2min or 1h)";
    const Quantity q = split_quantity(label, text, kind);
    const auto unit = ms_per_unit.find(q.unit);
    if (unit == ms_per_unit.end()) throw UsageError(label + ": '" + trim(text) + "' is not " + kind);
    using Rep = std::chrono::milliseconds::rep;
    if (q.number > static_cast<std::uint64_t>(std::numeric_limits<Rep>::max()) / unit->second)
        throw UsageError(label + ": '" + trim(text) + "' is too long");
    return std::chrono::milliseconds(static_cast<Rep>(q.number * unit->second));
}

namespace {
bool ends_with_b(const std::string& text) {
    return !text.empty() && (text.back() == 'b' || text.back() == 'B');
}
}  // namespace

// "5s", "16MB" or both, either order: a part ending in B is a size, anything else a time.
CommitInterval parse_commit_interval(const Setting& s) {
    CommitInterval interval{std::chrono::milliseconds::max(), std::numeric_limits<std::size_t>::max()};
    const std::string one_each = "; give at most one time and one size, e.g. 5s,16MB";
    bool has_time = false, has_size = false;
    for (const std::string& part : split(s.value, ',')) {
        if (ends_with_b(part)) {
            if (std::exchange(has_size, true)) fail(s, "'" + s.value + "' gives two sizes" + one_each);
            interval.bytes = parse_size(s.label(), part);
        } else {
            if (!part.empty() && std::isdigit(static_cast<unsigned char>(part.back())))
                fail(s, "'" + part + "' needs a unit: a time such as 5s, a size such as 16MB, or both: 5s,16MB");
            if (std::exchange(has_time, true)) fail(s, "'" + s.value + "' gives two times" + one_each);
            interval.every = parse_duration(s.label(), part);
            if (interval.every.count() == 0) fail(s, "the time must be more than zero (got '" + part + "')");
        }
    }
    return interval;
}

// ---- words ----------------------------------------------------------------------------------

bool parse_flag(const Setting& s) {
    const std::string v = lower(trim(s.value));
    if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
    if (v == "0" || v == "false" || v == "no" || v == "off") return false;
    fail(s, "'" + s.value + "' is not a yes or no (write 1/0, true/false, yes/no or on/off)");
}

ProgressStyle parse_progress(const Setting& s) {
    static const std::map<std::string, ProgressStyle> styles{{"auto", ProgressStyle::automatic},
                                                             {"bar", ProgressStyle::bar},
                                                             {"log", ProgressStyle::log},
                                                             {"none", ProgressStyle::none}};
    const auto style = styles.find(lower(trim(s.value)));
    if (style == styles.end()) fail(s, "'" + s.value + "' is not one of auto, bar, log, none");
    return style->second;
}

std::vector<Phase> parse_phases(const Setting& s) {
    std::string valid = "valid phases are ";
    for (const PhaseName& p : kPhases)
        valid += std::string(&p == kPhases ? "" : ", ") + p.name;
    bool wanted[std::size(kPhases)] = {};
    for (const std::string& name : split(s.value, ',')) {
        const auto* phase = std::find_if(std::begin(kPhases), std::end(kPhases),
                                         [&](const PhaseName& p) { return lower(name) == p.name; });
        if (phase == std::end(kPhases))
            fail(s, (name.empty() ? "a phase name is missing" : "unknown phase '" + name + "'") + "; " + valid);
        wanted[phase - std::begin(kPhases)] = true;
    }
    std::vector<Phase> phases;  // in the order they run, whatever order they were given in
    for (std::size_t i = 0; i < std::size(kPhases); ++i)
        if (wanted[i]) phases.push_back(kPhases[i].phase);
    return phases;
}

// Declared in run_config.h: tests and callers size values of their own with it.
std::size_t parse_size(const std::string& option, const std::string& text) {
    static const std::map<std::string, unsigned> shift_of{{"", 0},    {"b", 0},    {"kb", 10}, {"kib", 10},
                                                          {"mb", 20}, {"mib", 20}, {"gb", 30}, {"gib", 30},
                                                          {"tb", 40}, {"tib", 40}};
    const std::string kind = "a size (write e.g. 64MB, 512kB, 1GiB or a number of bytes; units are binary)";
    const Quantity q = split_quantity(option, text, kind);
    const auto shift = shift_of.find(lower(q.unit));
    if (shift == shift_of.end()) throw UsageError(option + ": '" + trim(text) + "' is not " + kind);
    if (q.number == 0) throw UsageError(option + ": must be more than zero (got '" + trim(text) + "')");
    if (q.number > (std::numeric_limits<std::size_t>::max() >> shift->second))
        throw UsageError(option + ": '" + trim(text) + "' is too large");
    return static_cast<std::size_t>(q.number) << shift->second;
}

std::string job_choices() {
    std::string text;
    for (std::size_t i = 0; i < std::size(stages::openwebui::kJobs); ++i) {
        const stages::openwebui::Job& job = stages::openwebui::kJobs[i];
        text += (i == 0                                         ? ""
                 : i + 1 == std::size(stages::openwebui::kJobs) ? " or "
                                                                : ", ") +
                std::string(job.revision) + " (" + job.what + (i == 0 ? ", the default)" : ")");
    }
    return text;
}

std::string parse_revision(const Setting& s) {
    for (const stages::openwebui::Job& job : stages::openwebui::kJobs)
        if (s.value == job.revision) return s.value;
    fail(s, (s.value.empty() ? std::string("empty value") : "unknown revision '" + s.value + "'") + "; sluice runs " +
                job_choices());
}

std::string non_empty(const Setting& s, const std::string& what_to_do) {
    if (s.value.empty()) fail(s, "empty value; " + what_to_do);
    return s.value;
}

}  // namespace sluice::config
