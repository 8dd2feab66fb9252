// The run configuration: argv, a --config file and the environment become one RunConfig.
// Every value travels as text, tagged with where it came from, until one table of options
// applies it; so each source gets the same checks and each error names the option and its source.
#include "config/run_config.h"

#include "config/connection_string.h"
#include "config/open_webui_database.h"
#include "engine/output_file.h"  // header-only: which file an export replaces
#include "engine/text_wrap.h"
#include "stages/openwebui.h"  // a leaf of facts, below config: the jobs' revisions

#include <boost/program_options.hpp>
#include <libpq-fe.h>
#include <oneapi/tbb/version.h>
#include <rapidjson/rapidjson.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <thread>
#include <utility>

#include <sched.h>
#include <unistd.h>

extern char** environ;  // POSIX: the only way to list the variables, for the misspelling check

namespace sluice::config {
namespace {

namespace po = boost::program_options;

const char* const see_help = "; see sluice --help";

// One option's value as text, and where it came from.
struct Setting {
    std::string option;  // the long name, e.g. "batch-rows"
    std::string value;
    std::string origin;  // empty for the command line, else "SLUICE_X", "DATABASE_URL" or "config file F"

    std::string label() const { return "--" + option + (origin.empty() ? "" : " (from " + origin + ")"); }
};
using Settings = std::map<std::string, Setting>;

[[noreturn]] void fail(const Setting& s, const std::string& what) {
    throw UsageError(s.label() + ": " + what);
}

bool blank(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

std::string trim(std::string_view text) {
    while (!text.empty() && blank(text.front())) text.remove_prefix(1);
    while (!text.empty() && blank(text.back())) text.remove_suffix(1);
    return std::string(text);
}

std::string lower(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
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

struct Quantity {
    std::uint64_t number;
    std::string unit;  // what follows the digits, e.g. "MB"
};

// `kind` completes "'x' is not ...". The sign check is explicit because a negative must never
// wrap around into a huge unsigned value (as Boost's own unsigned parsing lets "-1" do).
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
    if (q.number < least)
        fail(s, "must be at least " + std::to_string(least) + " (got " + trim(s.value) + ")");
    if (most && q.number > most->value)
        fail(s, "must be at most " + std::to_string(most->value) + " (got " + trim(s.value) + "): " + most->why);
    return static_cast<T>(q.number);
}

// The upper bounds. Fixed numbers rather than multiples of the cores, so that one config file
// means the same on every machine it is copied to.
// The transform is CPU-bound and the in-flight budget bounds the batches, so threads far beyond the
// cores only cost memory; 1024 is past any machine sluice runs on, and keeps the thread count
// (plus the reader and the writer) within the int that oneTBB's arena takes.
constexpr Most kMostParseThreads{1024, "more threads than that only cost memory"};
// PostgreSQL's FETCH takes its count as an int: FETCH FORWARD 2147483648 is a syntax error (tried on 15).
constexpr Most kMostFetchRows{2147483647, "PostgreSQL's FETCH takes at most 2147483647 rows"};
// A thousand times the default: --batch-bytes closes batches long before, and a batch with a bad
// row is copied again in parts, which costs more the bigger it is.
constexpr Most kMostBatchRows{1000000, "a batch is one COPY; --batch-bytes closes batches long before"};
// As many as parse threads can use; --max-inflight-bytes is the memory bound.
constexpr Most kMostInflightBatches{1024, "as many as the most parse threads can use"};
// Each lane holds two connections (a reader and a writer) of the server's max_connections (100 by
// default); the measured gain ends at 8 sessions of COPY into one table.
constexpr Most kMostLanes{32, "each lane holds two of the server's connections"};
// One connection builds one index, and chat_message has seven.
constexpr Most kMostIndexConnections{7, "one connection builds one index, and there are seven"};

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

bool ends_with_b(const std::string& text) {
    return !text.empty() && (text.back() == 'b' || text.back() == 'B');
}

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
                fail(s,
                     "'" + part + "' needs a unit: a time such as 5s, a size such as 16MB, or both: 5s,16MB");
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
    for (const PhaseName& p : kPhases) valid += std::string(&p == kPhases ? "" : ", ") + p.name;
    bool wanted[std::size(kPhases)] = {};
    for (const std::string& name : split(s.value, ',')) {
        const auto* phase = std::find_if(std::begin(kPhases), std::end(kPhases),
                                         [&](const PhaseName& p) { return lower(name) == p.name; });
        if (phase == std::end(kPhases))
            fail(s,
                 (name.empty() ? "a phase name is missing" : "unknown phase '" + name + "'") + "; " + valid);
        wanted[phase - std::begin(kPhases)] = true;
    }
    std::vector<Phase> phases;  // in the order they run, whatever order they were given in
    for (std::size_t i = 0; i < std::size(kPhases); ++i)
        if (wanted[i]) phases.push_back(kPhases[i].phase);
    return phases;
}

// "8452d01d26d7 (chat_message, the default) or 9a1b2c3d4e5f (chat.current_message_id)".
std::string job_choices() {
    std::string text;
    for (std::size_t i = 0; i < std::size(stages::openwebui::kJobs); ++i) {
        const stages::openwebui::Job& job = stages::openwebui::kJobs[i];
        text += (i == 0 ? "" : i + 1 == std::size(stages::openwebui::kJobs) ? " or " : ", ") + std::string(job.revision) +
                " (" + job.what + (i == 0 ? ", the default)" : ")");
    }
    return text;
}

std::string parse_revision(const Setting& s) {
    for (const stages::openwebui::Job& job : stages::openwebui::kJobs)
        if (s.value == job.revision) return s.value;
    fail(s, (s.value.empty() ? std::string("empty value") : "unknown revision '" + s.value + "'") +
                "; sluice runs " + job_choices());
}

// The second job's phases: schema, backfill (compute and write) and publish; it has no indexes or
// constraints of its own, so naming them is a mistake worth a line, not a silent skip.
std::vector<Phase> current_message_phases(const std::vector<Phase>& given, const Settings& settings) {
    const auto phases = settings.find("phases");
    if (phases == settings.end()) return {Phase::schema, Phase::backfill, Phase::publish};
    for (Phase phase : given)
        if (phase == Phase::indexes || phase == Phase::constraints)
            fail(phases->second, std::string("phase '") + phase_name(phase) + "' is not one of --revision " +
                                     stages::openwebui::kCurrentMessageRevisionAfter +
                                     "'s: its phases are schema, backfill and publish");
    return given;
}

std::string non_empty(const Setting& s, const std::string& what_to_do) {
    if (s.value.empty()) fail(s, "empty value; " + what_to_do);
    return s.value;
}

// ---- the option table -----------------------------------------------------------------------

// The commands an option applies to, as a set of bits.
constexpr unsigned of(Command c) { return 1u << static_cast<unsigned>(c); }
constexpr Command kCommandList[] = {Command::migrate, Command::check,   Command::verify,
                                    Command::rejects, Command::cleanup, Command::status};
constexpr unsigned kEvery = of(Command::migrate) | of(Command::check) | of(Command::verify) |
                            of(Command::rejects) | of(Command::cleanup) | of(Command::status);
// check takes everything migrate takes: it checks what that migrate would do.
constexpr unsigned kMigrate = of(Command::migrate) | of(Command::check);
// verify runs migrate's reader and transform, so their settings apply to it too.
constexpr unsigned kReading = kMigrate | of(Command::verify);

struct OptionSpec {
    const char* name;
    unsigned commands;     // of() the commands it applies to
    const char* argument;  // as --help shows it; empty for a flag
    const char* fallback;  // the default, as --help shows it
    const char* help;
    void (*apply)(RunConfig&, const Setting&);
    char letter = 0;  // the one-letter form on the command line ("-v"), if it has one
};

const std::vector<OptionSpec>& option_specs() {
    static const std::string revision_help = "the job, by the alembic revision it takes the database to: " + job_choices();
    static const std::vector<OptionSpec> specs{
        {"db", kEvery, "URL", "Open WebUI's DATABASE_* variables or $DATABASE_URL, else libpq's PG* variables",
         "PostgreSQL: a libpq URL or keyword string; postgresql+driver:// is accepted",
         [](RunConfig& c, const Setting& s) { c.db_url = checked_connection_string(s.label(), s.value); }},
        {"schema", kEvery, "NAME", "$DATABASE_SCHEMA, else public", "the schema of Open WebUI's tables",
         [](RunConfig& c, const Setting& s) {
             c.schema = non_empty(s, "give a schema name such as public");
         }},
        {"parse-threads", kReading, "N", "a quarter of the cores, 1 to 8", "threads parsing chat JSON (at most 1024)",
         [](RunConfig& c, const Setting& s) { c.parse_threads = count<unsigned>(s, 1, kMostParseThreads); }},
        {"lanes", kMigrate, "N", "half the cores, at most 8",
         "reader/writer pairs, each on its own ranges of chat (at most 32)",
         [](RunConfig& c, const Setting& s) { c.lanes = count<unsigned>(s, 1, kMostLanes); }},
        {"fetch-rows", kReading, "N", "1000", "chats per FETCH from the source cursor (at most 2147483647)",
         [](RunConfig& c, const Setting& s) { c.fetch_rows = count<std::size_t>(s, 1, kMostFetchRows); }},
        {"batch-rows", kReading, "N", "1000", "chats per batch (one batch, one COPY; at most 1000000)",
         [](RunConfig& c, const Setting& s) { c.batch_rows = count<std::size_t>(s, 1, kMostBatchRows); }},
        {"batch-bytes", kReading, "SIZE", "2MiB, 1MiB with lanes", "chat JSON bytes that close a batch",
         [](RunConfig& c, const Setting& s) { c.batch_bytes = parse_size(s.label(), s.value); }},
        {"max-inflight-bytes", kReading, "SIZE", "24MiB", "chat JSON read but not yet committed: the memory bound",
         [](RunConfig& c, const Setting& s) { c.max_inflight_bytes = parse_size(s.label(), s.value); }},
        {"max-inflight-batches", kReading, "N", "16, 4 a lane with more", "batches read but not yet committed (at most 1024)",
         [](RunConfig& c, const Setting& s) {
             c.max_inflight_batches = count<std::size_t>(s, 1, kMostInflightBatches);
         }},
        {"commit-interval", kMigrate, "SPEC", "5s,4MB", "commit after a time and/or a size, whichever comes first",
         [](RunConfig& c, const Setting& s) { c.commit_interval = parse_commit_interval(s); }},
        {"reject-file", kMigrate | of(Command::cleanup), "FILE",
         "a new sluice-rejects-DATABASE-SCHEMA-UTCTIME.jsonl here, never an existing file",
         "where the rejected rows are exported, one JSON object a line (a FILE given is replaced whole)",
         [](RunConfig& c, const Setting& s) { c.reject_file = non_empty(s, "give a file name"); }},
        {"max-rejects", kMigrate, "N", "no limit", "more rejected rows than N make the run fail",
         [](RunConfig& c, const Setting& s) { c.max_rejects = count<std::uint64_t>(s, 0); }},
        {"phases", kMigrate, "LIST", "schema,backfill,indexes,constraints,publish",
         "the phases of migrate to run, comma-separated",
         [](RunConfig& c, const Setting& s) { c.phases = parse_phases(s); }},
        {"index-connections", kMigrate, "N", "the cores present, at most 7",
         "connections building the indexes (at most 7)",
         [](RunConfig& c, const Setting& s) {
             c.index_connections = count<unsigned>(s, 1, kMostIndexConnections);
         }},
        {"progress", kReading, "STYLE", "auto", "auto (a bar on a terminal, else log lines), bar, log or none",
         [](RunConfig& c, const Setting& s) { c.progress = parse_progress(s); }},
        {"revision", kMigrate | of(Command::verify) | of(Command::rejects) | of(Command::cleanup), "REV",
         stages::openwebui::kJobs[0].revision, revision_help.c_str(),
         [](RunConfig& c, const Setting& s) { c.revision = parse_revision(s); }},
        {"stamp-alembic", kMigrate, "", "off", "publish also moves alembic_version to --revision",
         [](RunConfig& c, const Setting& s) { c.stamp_alembic = parse_flag(s); }},
        {"resync", kMigrate, "", "off", "re-derive every chat, even after a complete run: add what is missing, update rows that changed, "
                             "remove rows of messages no longer in their chat",
         [](RunConfig& c, const Setting& s) { c.resync = parse_flag(s); }},
        {"wait-for-lock", kMigrate, "DURATION", "none: refuse at once", "wait this long for another migrate to finish",
         [](RunConfig& c, const Setting& s) { c.wait_for_lock = parse_duration(s.label(), s.value); }},
        {"ignore-sessions", kMigrate, "", "off",
         "go on although sessions that look like Open WebUI's are connected (see sluice check --help)",
         [](RunConfig& c, const Setting& s) { c.ignore_sessions = parse_flag(s); }},
        {"discard-unfinished-build", of(Command::cleanup), "", "off",
         "also drop a build table that was never published (sluice_chat_message): the backfill it holds, "
         "hours on a large instance, is lost and a later migrate starts over",
         [](RunConfig& c, const Setting& s) { c.discard_unfinished_build = parse_flag(s); }},
        {"rejects-from", of(Command::verify), "FILE", "table sluice_reject",
         "read the known rejects from FILE, cleanup's export, once the table is gone",
         [](RunConfig& c, const Setting& s) { c.rejects_from = non_empty(s, "give a file name"); }},
        {"json", of(Command::status), "", "off", "print the state as one JSON object",
         [](RunConfig& c, const Setting& s) { c.json = parse_flag(s); }},
        {"output", of(Command::rejects), "FILE", "standard output", "the file the export goes to",
         [](RunConfig& c, const Setting& s) { c.output = non_empty(s, "give a file name"); }},
        {"connect-retries", kMigrate, "N", "5", "reconnect attempts before the run gives up",
         [](RunConfig& c, const Setting& s) { c.connect_retries = count<unsigned>(s, 0); }},
        {"retry-max-wait", kMigrate, "DURATION", "30s", "the longest wait between reconnect attempts",
         [](RunConfig& c, const Setting& s) { c.retry_max_wait = parse_duration(s.label(), s.value); }},
        {"log-file", kReading, "FILE", "none", "also write every line, with its time and level, to FILE (appended)",
         [](RunConfig& c, const Setting& s) { c.log_file = non_empty(s, "give a file name"); }},
        {"summary-json", kReading, "FILE", "none",
         "write the outcome as JSON to FILE at the end, failed or not: the target, the verdict, the "
         "figures (migrate), each check (check), the counts (verify), an error's class and SQLSTATE",
         [](RunConfig& c, const Setting& s) { c.summary_json = non_empty(s, "give a file name"); }},
        {"verbose", kMigrate, "", "off", "more detail on stderr: each index as it starts, an error's connection "
         "and statement", [](RunConfig& c, const Setting& s) { c.verbose = parse_flag(s); }, 'v'},
        {"quiet", kMigrate, "", "off", "print only warnings, errors and the verdict; no progress",
         [](RunConfig& c, const Setting& s) { c.quiet = parse_flag(s); }, 'q'},
    };
    return specs;
}

const OptionSpec* find_spec(const std::string& name) {
    for (const OptionSpec& spec : option_specs())
        if (name == spec.name) return &spec;
    return nullptr;
}

// "migrate and check", "migrate, check and cleanup".
std::string commands_in(unsigned commands) {
    std::vector<std::string> names;
    for (Command c : kCommandList)
        if (commands & of(c)) names.push_back(command_name(c));
    std::string text;
    for (std::size_t i = 0; i < names.size(); ++i)
        text += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
    return text;
}

std::string env_name(const std::string& option) {
    std::string name = "SLUICE_" + option;
    for (char& c : name) c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return name;
}

// The options of the table. A flag takes no value on the command line (or "--stamp-alembic migrate"
// would read "migrate" as its value) but does in a config file: "stamp-alembic = 1".
po::options_description settings_description(bool command_line) {
    po::options_description description;
    for (const OptionSpec& spec : option_specs()) {
        auto* value = po::value<std::string>();
        const std::string name = spec.name + (command_line && spec.letter ? std::string(",") + spec.letter : "");
        description.add_options()(name.c_str(), *spec.argument || !command_line ? value : value->zero_tokens());
    }
    return description;
}

po::options_description command_line_description() {
    po::options_description description = settings_description(true);
    description.add_options()("config", po::value<std::string>())("help,h", "")("version", "")(
        "command", po::value<std::vector<std::string>>());
    return description;
}

// ---- the sources --------------------------------------------------------------------------

// The options of one source; the command's words are not options and are left to the caller.
Settings collect(const po::parsed_options& parsed, const std::string& origin) {
    Settings settings;
    for (const po::option& o : parsed.options) {
        if (o.string_key == "command") continue;
        // Only a bare flag arrives without a value.
        const Setting s{o.string_key, o.value.empty() ? "true" : o.value.front(), origin};
        if (!settings.emplace(o.string_key, s).second) fail(s, "given more than once");
    }
    return settings;
}

struct CommandLine {
    std::vector<std::string> words;  // the command, and anything stray after it
    Settings settings;
};

CommandLine read_command_line(int argc, const char* const argv[]) {
    po::positional_options_description words;
    words.add("command", -1);
    // No guessing of abbreviations: a script's "--batch" would break the day a second --batch-* appears.
    const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    try {
        const po::parsed_options parsed = po::command_line_parser(argc, argv)
                                              .options(command_line_description())
                                              .positional(words)
                                              .style(style)
                                              .run();
        CommandLine line{{}, collect(parsed, "")};
        for (const po::option& o : parsed.options)
            if (o.string_key == "command")
                line.words.insert(line.words.end(), o.value.begin(), o.value.end());
        return line;
    } catch (const po::unknown_option& e) {
        // Boost quotes "--dbb=postgresql://u:secret@h" whole: the value is cut off, the name redacted.
        const std::string name = e.get_option_name();
        throw UsageError("unknown option " + redact_password(name.substr(0, name.find('='))) + see_help);
    } catch (const po::invalid_command_line_syntax& e) {
        if (e.kind() != po::invalid_syntax::missing_parameter)
            throw UsageError(redact_password(e.what()) + see_help);
        throw UsageError(e.get_option_name() + ": needs a value" + see_help);
    } catch (const po::error& e) {
        throw UsageError(redact_password(e.what()) + see_help);
    }
}

// Boost ends a value at '#', which would silently cut a password short: refuse instead.
void refuse_hash_in_db(const std::vector<std::string>& lines, const std::string& origin) {
    for (const std::string& line : lines) {
        const std::size_t equals = line.find('=');
        if (equals != std::string::npos && trim(line.substr(0, equals)) == "db" &&
            line.find('#', equals) != std::string::npos)
            throw UsageError(origin +
                             ": the db line holds a '#', which starts a comment here; "
                             "percent-encode it as %23 in a URL, or pass --db or SLUICE_DB instead");
    }
}

Settings read_config_file(const Setting& path) {
    // A file missing on the host of a Docker bind mount arrives as an empty directory, which
    // would otherwise read as an empty file: the run would go on with defaults.
    std::error_code ignored;
    if (std::filesystem::is_directory(path.value, ignored))
        fail(path, "'" + path.value + "' is a directory, not a file (a bind mount of a file that does not exist "
                   "makes one)");
    std::ifstream file(path.value);
    if (!file) fail(path, "cannot read '" + path.value + "': " + std::strerror(errno));
    std::stringstream text;
    text << file.rdbuf();
    if (file.bad()) fail(path, "cannot read '" + path.value + "': " + std::strerror(errno));
    const std::string origin = "config file " + path.value;
    const std::vector<std::string> lines = split(text.str(), '\n');
    refuse_hash_in_db(lines, origin);
    try {
        return collect(po::parse_config_file(text, settings_description(false)), origin);
    } catch (const po::unknown_option& e) {
        throw UsageError(origin + ": unknown key '" + e.get_option_name() +
                         "'; keys are the long option names, e.g. batch-rows = 500");
    } catch (const po::invalid_config_file_syntax& e) {
        // Boost quotes the bad line, which may hold a password: point at its number instead.
        const auto bad = std::find_if(lines.begin(), lines.end(), [&](const std::string& line) {
            return trim(line.substr(0, line.find('#'))) == e.tokens();
        });
        throw UsageError(origin + ": line " + std::to_string(bad - lines.begin() + 1) +
                         " is not `name = value`");
    } catch (const po::error& e) {
        throw UsageError(origin + ": " + redact_password(e.what()));
    }
}

// Empty counts as unset, as `docker run -e NAME=` and compose files often leave variables.
std::optional<std::string> lookup(const Environment& env, const std::string& name) {
    auto value = env(name);
    return value && !value->empty() ? value : std::nullopt;
}

void reject_unknown_variables(const std::vector<std::string>& env_names) {
    std::vector<std::string> known{env_name("config")};
    for (const OptionSpec& spec : option_specs()) known.push_back(env_name(spec.name));
    for (const std::string& name : env_names) {
        // SLUICE_TEST_* belong to the test harness (SLUICE_TEST_DB names its server).
        const bool ours = name.rfind("SLUICE_", 0) == 0 && name.rfind("SLUICE_TEST_", 0) != 0;
        if (ours && std::find(known.begin(), known.end(), name) == known.end())
            throw UsageError("environment variable " + name + " is not a sluice option (misspelt?)" +
                             see_help);
    }
}

// `db_given`: the command line or the config file named the database, which Open WebUI's variables
// then do not (nor are they checked).
Settings read_environment(const Environment& env, bool db_given) {
    Settings settings;
    for (const OptionSpec& spec : option_specs())
        if (auto value = lookup(env, env_name(spec.name)))
            settings.emplace(spec.name, Setting{spec.name, *value, env_name(spec.name)});
    // Open WebUI's own variables, so sluice runs in its container with no extra configuration. Its
    // split DATABASE_* variables, when complete, win over its DATABASE_URL there, and so here.
    if (!db_given && !settings.count("db"))
        if (auto conninfo = open_webui_database(env))
            settings.emplace("db", Setting{"db", *conninfo, "DATABASE_TYPE, _USER, _PASSWORD, _HOST, _PORT, _NAME"});
    for (const auto& [option, variable] :
         {std::pair{"db", "DATABASE_URL"}, std::pair{"schema", "DATABASE_SCHEMA"}})
        if (auto value = lookup(env, variable)) settings.emplace(option, Setting{option, *value, variable});
    return settings;
}

constexpr const char* kCommands = "migrate, check, verify, rejects, cleanup or status";

Command command_named(const std::string& word) {
    for (Command c : kCommandList)
        if (word == command_name(c)) return c;
    throw UsageError("unknown command '" + word + "': pick " + kCommands + see_help);
}

struct Wanted {
    Command command;
    Command help_topic = Command::help;
};

// "sluice help [COMMAND]", "sluice [COMMAND] --help", "sluice --version", "sluice COMMAND".
Wanted read_command(const CommandLine& line) {
    std::vector<std::string> words = line.words;
    const bool help_word = !words.empty() && words.front() == "help";
    if (help_word) words.erase(words.begin());
    if (help_word || line.settings.count("help")) {
        if (words.size() > 1) throw UsageError("unexpected argument '" + words[1] + "' after the command" + see_help);
        if (words.empty() || words.front() == "help") return {Command::help};
        return {Command::help, command_named(words.front())};
    }
    if (line.settings.count("version")) return {Command::version};
    if (words.empty()) throw UsageError("no command: pick " + std::string(kCommands) + see_help);
    if (words.size() > 1)
        throw UsageError("unexpected argument '" + words[1] + "' after the command" + see_help);
    return {command_named(words.front())};
}

// The command line is strict: an option of another command is a mistake worth one line.
void refuse_other_commands_options(Command command, const Settings& command_line) {
    for (const auto& [name, setting] : command_line) {
        const OptionSpec* spec = find_spec(name);
        if (spec && !(spec->commands & of(command)))
            throw UsageError("--" + name + " does not apply to " + command_name(command) + ": it is an option of " +
                             commands_in(spec->commands) + "; see sluice " + command_name(command) + " --help");
    }
}

// A config file or the environment may serve several commands: what does not apply is left out.
void drop_other_commands_options(Command command, Settings& settings) {
    for (auto it = settings.begin(); it != settings.end();) {
        const OptionSpec* spec = find_spec(it->first);
        it = spec && !(spec->commands & of(command)) ? settings.erase(it) : std::next(it);
    }
}

// Whether libpq's own environment names a server, a database or a user, as psql would use it.
// With none of these and no --db, the likeliest cause is a DATABASE_URL left out of `docker run`,
// which a clear refusal says better than libpq's failure on a local socket that a container lacks.
bool libpq_environment_set(const Environment& env) {
    for (const char* name : {"PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGSERVICE"})
        if (lookup(env, name)) return true;
    return false;
}

RunConfig build(Command command, const Settings& settings, const Environment& env) {
    RunConfig config;
    config.command = command;
    const unsigned cores = usable_cores();
    // The server shares the host and does most of the work (reading chat, taking the COPY): one
    // parse thread keeps up with about 700 MB/s of chat JSON, and idle threads only spin on the
    // cores the server needs. A quarter of the cores, at most 8.
    config.parse_threads = std::clamp(cores / 4, 1u, 8u);
    // A lane is a reader and a writer backend on the server plus their share of parsing here: on a
    // host the server shares, half the cores, up to the 8 sessions past which COPY into one table
    // gains nothing.
    config.lanes = std::clamp(cores / 2, 1u, 8u);
    config.index_connections = std::min(cores, 7u);  // seven indexes: more connections would idle
    config.revision = stages::openwebui::kJobs[0].revision;
    for (const OptionSpec& spec : option_specs())
        if (const auto s = settings.find(spec.name); s != settings.end()) spec.apply(config, s->second);
    // Lanes share the one budget: each needs a few batches in flight (one read, one parsed, one
    // written) to keep its writer busy, so with more lanes batches are smaller and more of them
    // fit, in the same bytes.
    if (config.lanes > 1 && (command == Command::migrate || command == Command::check)) {
        if (!settings.count("batch-bytes")) config.batch_bytes = std::size_t{1} << 20;
        if (!settings.count("max-inflight-batches"))
            config.max_inflight_batches = std::max<std::size_t>(config.max_inflight_batches, 4 * config.lanes);
    }
    if (config.db_url.empty() && !libpq_environment_set(env)) {
        const std::vector<std::string> missing = missing_open_webui_database_variables(env);
        std::string names;
        for (const std::string& name : missing) names += (names.empty() ? "" : ", ") + name;
        if (!missing.empty())  // Open WebUI itself would fall back to its SQLite file
            throw UsageError("no database: Open WebUI's DATABASE_* variables count only when all are set, and " +
                             names + (missing.size() == 1 ? " is" : " are") +
                             " not; set them, or pass --db URL or DATABASE_URL" + std::string(see_help));
        throw UsageError("no database: pass --db URL, set DATABASE_URL (or Open WebUI's DATABASE_TYPE, _USER, "
                         "_PASSWORD, _HOST, _PORT and _NAME), or set libpq's PGHOST (PGPORT, PGUSER, PGDATABASE, "
                         "PGSERVICE)" + std::string(see_help));
    }
    if (config.revision == stages::openwebui::kCurrentMessageRevisionAfter)
        config.phases = current_message_phases(config.phases, settings);
    const bool publishes = std::find(config.phases.begin(), config.phases.end(), Phase::publish) != config.phases.end();
    if (config.stamp_alembic && !publishes)
        throw UsageError("--stamp-alembic moves alembic_version in the publish phase: add publish to --phases" +
                         std::string(see_help));
    if (config.verbose && config.quiet)
        throw UsageError("--verbose and --quiet ask for opposite things: give one of them" + std::string(see_help));
    return config;
}

}  // namespace

namespace {
// A cgroup's CPU quota as whole cores, rounded up; none when there is no limit. cgroup v2 says
// "max 100000" or "200000 100000" in cpu.max; v1 has cpu.cfs_quota_us (-1: none) and cfs_period_us.
std::optional<unsigned> cgroup_cpu_limit() {
    double quota = 0, period = 0;
    if (std::ifstream v2("/sys/fs/cgroup/cpu.max"); v2) {
        std::string q;
        if (!(v2 >> q >> period) || q == "max") return std::nullopt;
        quota = std::atof(q.c_str());
    } else {
        std::ifstream q1("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), p1("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
        if (!(q1 >> quota) || !(p1 >> period)) return std::nullopt;
    }
    if (quota <= 0 || period <= 0) return std::nullopt;
    return static_cast<unsigned>(std::ceil(quota / period));
}
}  // namespace

unsigned usable_cores() {
    unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) cores = std::min(cores, static_cast<unsigned>(CPU_COUNT(&allowed)));
    if (std::optional<unsigned> limit = cgroup_cpu_limit()) cores = std::min(cores, *limit);
    return std::max(1u, cores);
}

Environment process_environment() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* value = std::getenv(name.c_str());
        return value ? std::optional<std::string>(value) : std::nullopt;
    };
}

std::vector<std::string> process_environment_names() {
    std::vector<std::string> names;
    for (char** variable = environ; variable && *variable; ++variable) {
        const std::string entry = *variable;
        names.push_back(entry.substr(0, entry.find('=')));
    }
    return names;
}

RunConfig parse(int argc, const char* const argv[], const Environment& env,
                const std::vector<std::string>& env_names) {
    CommandLine line = argc > 1 ? read_command_line(argc, argv) : CommandLine{};
    const Wanted wanted = read_command(line);
    if (wanted.command == Command::help || wanted.command == Command::version) {
        RunConfig config;
        config.command = wanted.command;
        config.help_topic = wanted.help_topic;
        return config;
    }
    const Command command = wanted.command;
    refuse_other_commands_options(command, line.settings);
    reject_unknown_variables(env_names);
    Settings& settings = line.settings;
    std::optional<Setting> config_file;
    if (auto value = lookup(env, env_name("config"))) config_file = Setting{"config", *value, env_name("config")};
    if (const auto flag = settings.find("config"); flag != settings.end()) config_file = flag->second;
    if (config_file) settings.merge(read_config_file(*config_file));  // merge() keeps what is already set
    settings.merge(read_environment(env, settings.count("db") > 0));
    drop_other_commands_options(command, settings);
    return build(command, settings, env);
}

const char* command_name(Command command) {
    switch (command) {
        case Command::migrate: return "migrate";
        case Command::check: return "check";
        case Command::verify: return "verify";
        case Command::rejects: return "rejects";
        case Command::cleanup: return "cleanup";
        case Command::status: return "status";
        case Command::help: return "help";
        case Command::version: return "version";
    }
    return "?";
}

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

namespace {

constexpr std::size_t kHelpColumn = 29;  // where option descriptions start

// `text` filled into lines of at most `width` columns, each after `indent` spaces; the first line
// starts with `head` instead (on a line of its own when it reaches into the text's column). Lines
// break at spaces only: a terminal narrower than the text then has no word to cut.
std::string fill(const std::string& head, const std::string& text, std::size_t indent, std::size_t width) {
    std::istringstream words(text);
    std::string joined;
    for (std::string word; words >> word;) joined += (joined.empty() ? "" : " ") + word;
    if (joined.empty()) return head + "\n";
    if (head.size() >= indent) return head + "\n" + engine::wrap(std::string(indent, ' ') + joined, indent, width);
    std::string first = head;
    first.resize(indent, ' ');
    return engine::wrap(first + joined, indent, width);
}

struct CommandHelp {
    Command command;
    const char* summary;  // one line of the general help
    const char* about;    // the paragraph that opens its own help
};

const CommandHelp kCommandHelp[] = {
    {Command::migrate, "build chat_message from Open WebUI's chat table",
     "Builds chat_message from Open WebUI's chat table in phases (--phases): schema, backfill, indexes, "
     "constraints, publish. Each phase is idempotent: run the same command again to resume. Stop Open WebUI "
     "first; the checks of `sluice check` run before anything is written."},
    {Command::check, "preflight: what migrate would need; writes nothing",
     "Checks, writing nothing, what `sluice migrate` with the same options would need: a primary that takes "
     "writes, no pooler in transaction or statement mode in between, the chat table, the "
     "shape of an existing chat_message, the privileges each phase needs (sluice creates its tables as the "
     "owner of chat, Open WebUI's role, when it may), the alembic revision "
     "(--stamp-alembic), sessions that look like Open WebUI's (any other session on the database as the same "
     "user without an application_name, as psycopg2 connects, or one named like Open WebUI, uvicorn, "
     "gunicorn, SQLAlchemy, psycopg, alembic or python; psql, sluice and other named tools are not counted), "
     "room for its connections under the role's, database's and server's limits (migrate lowers --lanes and "
     "--index-connections to fit), another sluice holding the lock; and estimates the disk space and time. "
     "One line per check, then the "
     "verdict."},
    {Command::verify, "compare chat_message with chat; writes nothing",
     "Compares chat_message with chat: derives every chat's messages again and reports missing and unexpected "
     "ids, rejects that are now stale, and a sample compared by meaning. With --revision 9a1b2c3d4e5f: decides "
     "every chat's current_message_id again and reports the chats whose value differs (any tied newest message "
     "accepted) and rejected chats the rejects do not list. Writes nothing."},
    {Command::rejects, "export the rejected messages as JSON lines",
     "Exports the rejected messages (table sluice_reject; with --revision 9a1b2c3d4e5f the rejected chats, table "
     "sluice_current_message_reject) as JSON lines, to --output or standard output."},
    {Command::cleanup, "drop sluice's own tables, once verify agrees",
     "Exports the rejects to --reject-file once more, then drops sluice's own tables in one transaction: "
     "sluice_reject, sluice_checkpoint, sluice_run and, with --discard-unfinished-build only, a build table "
     "that was never published (without the flag cleanup refuses it, exit 4, dropping nothing). With --revision "
     "9a1b2c3d4e5f: sluice_current_message_reject and sluice_current_message_checkpoint (sluice_run too once the "
     "first job's tables are gone), refused (exit 4) while that job is unfinished unless "
     "--discard-unfinished-build. Refused while a migrate runs."},
    {Command::status, "how far a migration is, from any shell; read-only",
     "Says, reading only (SELECT, no lock taken, nothing created), whether a migrate runs on the schema: who "
     "holds its lock (pid, application, since), its phase, the backfill's ranges, chats and messages done from "
     "sluice_checkpoint, and its rate and time left; or that no migration runs, that it stopped (and how far "
     "it got), that the work is done, or that nothing started. Exits 0 whatever it finds."},
};

struct ExitHelp {
    int status;
    unsigned commands;  // of() the commands that can end with it
    const char* meaning;
};

// Most specific first: the first entry of a status that fits the command is the one shown.
const ExitHelp kExitHelp[] = {
    {0, of(Command::check), "ready: no check failed (warnings may have been shown)"},
    {0, of(Command::verify),
     "chat_message agrees with chat (--revision 9a1b2c3d4e5f: every current_message_id with the rule)"},
    {0, ~0u, "success"},
    {1, ~0u, "failure: a phase or a statement failed, or anything not below"},
    {2, ~0u, "bad usage or configuration, refused before anything is written"},
    {kExitCannotConnect, kEvery | of(Command::help),
     "cannot connect: server not reached, login refused (user, password, pg_hba.conf), or no such database"},
    {kExitNotReady, of(Command::check), "not ready: a check failed; migrate would refuse to start"},
    {kExitNotReady, of(Command::migrate) | of(Command::help),
     "not ready: the preflight (sluice check) refused; nothing was written"},
    {kExitNotReady, of(Command::cleanup),
     "refused, nothing dropped: an unfinished build is there and --discard-unfinished-build was not given, "
     "or --db leads through a pooler in transaction or statement mode"},
    {kExitTooManyRejects, of(Command::migrate) | of(Command::help),
     "more rejects than --max-rejects allows; the batch that passed it was not committed"},
    {kExitDisagrees, of(Command::verify) | of(Command::help),
     "verify: chat_message does not agree with chat (or a current_message_id with the rule)"},
    {kExitLockHeld, of(Command::migrate) | of(Command::help),
     "another sluice migrate holds the lock on the schema (or took it over mid-run, after this run's lock "
     "session was ended): try again later, or wait with --wait-for-lock"},
    {kExitLockHeld, of(Command::cleanup), "a sluice migrate holds the lock on the schema: run cleanup after it"},
    {kExitLockHeld, of(Command::verify), "a sluice migrate is running: verify once it is done"},
    {130, ~0u, "interrupted by SIGINT (Ctrl-C); run the same command again"},
    {143, ~0u, "interrupted by SIGTERM (docker stop, a pod deletion); run the same command again"},
};

std::string exit_statuses(Command topic, std::size_t width) {
    std::string text = "Exit status:\n";
    int shown = -1;
    for (const ExitHelp& e : kExitHelp) {
        if (e.status == shown || !(e.commands & of(topic))) continue;
        shown = e.status;
        text += fill("  " + std::to_string(e.status), e.meaning, 7, width);
    }
    return text;
}

// An option's line(s), then its default and variable: on one line when they fit, else on two.
std::string option_help(const std::string& flag, const std::string& help, const std::string& fallback,
                        const std::string& variable, std::size_t width) {
    std::string text = fill("  " + flag, help, kHelpColumn, width);
    const std::string both = fallback + (fallback.empty() || variable.empty() ? "" : "; ") + variable;
    if (both.empty()) return text;
    if (kHelpColumn + both.size() <= width) return text + fill("", both, kHelpColumn, width);
    return text + fill("", fallback, kHelpColumn, width) + fill("", variable, kHelpColumn, width);
}

std::string options_of(Command topic, std::size_t width) {
    std::string text;
    for (const OptionSpec& spec : option_specs())
        if (spec.commands & of(topic))
            text += option_help((spec.letter ? std::string("-") + spec.letter + ", " : std::string()) + "--" +
                                    spec.name + (*spec.argument ? " " : "") + spec.argument,
                                spec.help, std::string("default: ") + spec.fallback, "env: " + env_name(spec.name), width);
    return text;
}

std::string common_notes(Command topic, std::size_t width) {
    return fill("", "Each option can also be set in a --config FILE as `name = value`, or in the environment as "
                    "SLUICE_<NAME>; the command line wins over the file, the file over the environment. A file "
                    "or a variable that sets an option of another command is ignored; on the command line it is "
                    "refused.", 0, width) +
           fill("", "Open WebUI's own DATABASE_URL and DATABASE_SCHEMA stand in for --db and --schema when "
                    "nothing else sets them; postgresql+psycopg2:// and the like are accepted, and so are a "
                    "value in quotes and an Npgsql-style Host=H;Port=P;Username=U;Password=W;Database=D. So are "
                    "Open WebUI's DATABASE_TYPE, DATABASE_USER, DATABASE_PASSWORD, DATABASE_HOST, DATABASE_PORT "
                    "and DATABASE_NAME, read as Open WebUI reads them: when the type, host, port, name and a user "
                    "or password are all set, they win over DATABASE_URL. With none of them, libpq's own PGHOST, "
                    "PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSERVICE and ~/.pgpass apply, as in psql; they also "
                    "fill in what a --db string leaves out. Passwords are never printed.", 0, width) +
           (topic == Command::migrate || topic == Command::check || topic == Command::verify
                ? fill("", "Sizes take binary units (64MB = 64MiB, 512kB); durations take ms, s, min or h.", 0, width)
                : "");
}

std::string general_help(std::size_t width) {
    std::string text = engine::wrap("Usage: sluice COMMAND [options]", 7, width) +
                       engine::wrap("       sluice COMMAND --help   (or sluice help COMMAND): the options of COMMAND", 7,
                                    width) +
                       engine::wrap("       sluice --version", 7, width) + "\nCommands:\n";
    for (const CommandHelp& c : kCommandHelp)
        text += fill(std::string("  ") + command_name(c.command), c.summary, 12, width);
    text += "\nOptions of every command:\n";
    for (const OptionSpec& spec : option_specs())
        if (spec.commands == kEvery)
            text += option_help(std::string("--") + spec.name + " " + spec.argument, spec.help,
                                std::string("default: ") + spec.fallback, "env: " + env_name(spec.name), width);
    text += option_help("--config FILE", "read options from FILE: `name = value` lines, # starts a comment", "",
                        "env: " + env_name("config"), width);
    text += option_help("-h, --help", "show the help of the command given, or this text", "", "", width);
    text += option_help("--version", "show the version of sluice and of its libraries", "", "", width);
    return text + "\n" + common_notes(Command::help, width) + "\n" + exit_statuses(Command::help, width);
}

}  // namespace

std::string help_text(Command topic, std::size_t width) {
    const auto* c = std::find_if(std::begin(kCommandHelp), std::end(kCommandHelp),
                                 [&](const CommandHelp& h) { return h.command == topic; });
    if (c == std::end(kCommandHelp)) return general_help(width);
    std::string text = std::string("Usage: sluice ") + command_name(topic) + " [options]\n\n" +
                       fill("", c->about, 0, width) + "\nOptions:\n" + options_of(topic, width) +
                       option_help("--config FILE", "read options from FILE: `name = value` lines, # starts a comment",
                                   "", "env: " + env_name("config"), width) +
                       option_help("-h, --help", "show this text", "", "", width);
    return text + "\n" + common_notes(topic, width) + "\n" + exit_statuses(topic, width);
}

namespace {

// PQlibVersion() gives 150018 for 15.18 and 90624 for 9.6.24.
std::string libpq_version() {
    const int v = PQlibVersion();
    if (v >= 100000) return std::to_string(v / 10000) + "." + std::to_string(v % 10000);
    return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
}

}  // namespace

const char* version_number() { return SLUICE_VERSION; }

std::string version_text() {
    return "sluice " SLUICE_VERSION " (git " SLUICE_GIT_REVISION ")\n"
           "libpq " + libpq_version() + ", oneTBB " + TBB_runtime_version() +
           ", RapidJSON " RAPIDJSON_VERSION_STRING;
}

namespace {

void check_output_file(const std::string& option, const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ignored;
    const fs::file_status status = fs::status(path, ignored);  // a symlink followed
    if (fs::is_directory(status)) throw UsageError(option + ": '" + path + "' is a directory; give a file name");
    if (fs::exists(status) && !fs::is_regular_file(status)) {
        // A device, a FIFO: written in place, never replaced, so it is the file that must be writable.
        if (::access(path.c_str(), W_OK) != 0)
            throw UsageError(option + ": cannot write '" + path + "': " + std::strerror(errno));
        return;
    }
    // A symlink to a regular file, or a dangling one: its target is what gets replaced.
    const fs::path file = engine::export_target(path);
    if (fs::is_directory(file.string() + ".partial", ignored))
        throw UsageError(option + ": '" + file.string() + ".partial', where the file is written first, is a directory");
    const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
    if (!fs::is_directory(dir, ignored))
        throw UsageError(option + ": cannot write '" + path + "': there is no directory '" + dir.string() + "'");
    // A regular file is written as <file>.partial and renamed: the directory is what must be writable.
    if (::access(dir.c_str(), W_OK | X_OK) != 0)
        throw UsageError(option + ": cannot write '" + path + "': directory '" + dir.string() + "': " +
                         std::strerror(errno));
}

// The default export is a new file in the working directory: that directory must be writable.
std::string reject_file_or_default(const RunConfig& config) {
    return config.reject_file.empty() ? "sluice-rejects-DATABASE-SCHEMA-UTCTIME.jsonl" : config.reject_file;
}

}  // namespace

void check_output_files(const RunConfig& config) {
    switch (config.command) {
        case Command::migrate:
        case Command::check:
            check_output_file("--reject-file", reject_file_or_default(config));
            if (!config.summary_json.empty()) check_output_file("--summary-json", config.summary_json);
            break;
        case Command::cleanup: check_output_file("--reject-file", reject_file_or_default(config)); break;
        case Command::verify:
            if (!config.summary_json.empty()) check_output_file("--summary-json", config.summary_json);
            break;
        case Command::rejects:
            if (!config.output.empty()) check_output_file("--output", config.output);
            break;
        default: break;
    }
}

}  // namespace sluice::config
