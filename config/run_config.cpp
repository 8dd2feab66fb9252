// The run configuration: argv, a --config file and the environment become one RunConfig.
// Every value travels as text, tagged with where it came from, until one table of options
// applies it; so each source gets the same checks and each error names the option and its source.
#include "config/run_config.h"

#include "config/connection_string.h"
#include "config/defaults.h"
#include "config/open_webui_database.h"
#include "config/option_table.h"
#include "config/option_values.h"
#include "config/usable_cores.h"
#include "stages/openwebui.h"  // a leaf of facts, below config: the jobs' revisions

#include <boost/program_options.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

namespace sluice::config {
namespace {

namespace po = boost::program_options;

const char* const see_help = "; see sluice --help";

// ---- the option table -----------------------------------------------------------------------

constexpr Command kCommandList[] = {Command::migrate, Command::check,   Command::verify,
                                    Command::rejects, Command::cleanup, Command::status};
// check takes everything migrate takes: it checks what that migrate would do.
constexpr unsigned kMigrate = of(Command::migrate) | of(Command::check);
// verify runs migrate's reader and transform, so their settings apply to it too.
constexpr unsigned kReading = kMigrate | of(Command::verify);

// "2MiB" for 2 << 20: a default size as --help shows it (config/defaults.h's are whole mebibytes).
std::string in_mib(std::size_t bytes, const char* unit = "MiB") {
    return std::to_string(bytes >> 20) + unit;
}

}  // namespace

const std::vector<OptionSpec>& option_specs() {
    static const std::string revision_help =
        "the job, by the alembic revision it takes the database to: " + job_choices();
    static const std::vector<OptionSpec> specs{
        {"db", kEvery, "URL", "Open WebUI's DATABASE_* variables or $DATABASE_URL, else libpq's PG* variables",
         "PostgreSQL: a libpq URL or keyword string; postgresql+driver:// is accepted",
         [](RunConfig& c, const Setting& s) { c.db_url = checked_connection_string(s.label(), s.value); }},
        {"schema", kEvery, "NAME", "$DATABASE_SCHEMA, else public", "the schema of Open WebUI's tables",
         [](RunConfig& c, const Setting& s) { c.schema = non_empty(s, "give a schema name such as public"); }},
        {"parse-threads", kReading, "N",
         "a quarter of the cores, 1 to " + std::to_string(defaults::kParseThreadsAtMost),
         "threads parsing chat JSON (at most 1024)",
         [](RunConfig& c, const Setting& s) { c.parse_threads = count<unsigned>(s, 1, kMostParseThreads); }},
        {"lanes", kMigrate, "N", "half the cores, at most " + std::to_string(defaults::kLanesAtMost),
         "reader/writer pairs, each on its own ranges of chat (at most 32)",
         [](RunConfig& c, const Setting& s) { c.lanes = count<unsigned>(s, 1, kMostLanes); }},
        {"fetch-rows", kReading, "N", std::to_string(defaults::kFetchRows),
         "chats per FETCH from the source cursor (at most 2147483647)",
         [](RunConfig& c, const Setting& s) { c.fetch_rows = count<std::size_t>(s, 1, kMostFetchRows); }},
        {"batch-rows", kReading, "N", std::to_string(defaults::kBatchRows),
         "chats per batch (one batch, one COPY; at most 1000000)",
         [](RunConfig& c, const Setting& s) { c.batch_rows = count<std::size_t>(s, 1, kMostBatchRows); }},
        {"batch-bytes", kReading, "SIZE",
         in_mib(defaults::kBatchBytes) + ", " + in_mib(defaults::kLanesBatchBytes) + " with lanes",
         "chat JSON bytes that close a batch",
         [](RunConfig& c, const Setting& s) { c.batch_bytes = parse_size(s.label(), s.value); }},
        {"max-inflight-bytes", kReading, "SIZE", in_mib(defaults::kMaxInflightBytes),
         "chat JSON read but not yet committed: the memory bound",
         [](RunConfig& c, const Setting& s) { c.max_inflight_bytes = parse_size(s.label(), s.value); }},
        {"max-inflight-batches", kReading, "N",
         std::to_string(defaults::kMaxInflightBatches) + ", " + std::to_string(defaults::kInflightBatchesPerLane) +
             " a lane with more",
         "batches read but not yet committed (at most 1024)",
         [](RunConfig& c, const Setting& s) {
             c.max_inflight_batches = count<std::size_t>(s, 1, kMostInflightBatches);
         }},
        {"commit-interval", kMigrate, "SPEC",
         std::to_string(defaults::kCommitEvery.count()) + "s," + in_mib(defaults::kCommitBytes, "MB"),
         "commit after a time and/or a size, whichever comes first",
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
        {"index-connections", kMigrate, "N",
         "the cores present, at most " + std::to_string(defaults::kIndexConnectionsAtMost),
         "connections building the indexes (at most 7)",
         [](RunConfig& c, const Setting& s) { c.index_connections = count<unsigned>(s, 1, kMostIndexConnections); }},
        {"progress", kReading, "STYLE", "auto", "auto (a bar on a terminal, else log lines), bar, log or none",
         [](RunConfig& c, const Setting& s) { c.progress = parse_progress(s); }},
        {"revision", kMigrate | of(Command::verify) | of(Command::rejects) | of(Command::cleanup), "REV",
         stages::openwebui::kJobs[0].revision, revision_help.c_str(),
         [](RunConfig& c, const Setting& s) { c.revision = parse_revision(s); }},
        {"stamp-alembic", kMigrate, "", "off", "publish also moves alembic_version to --revision",
         [](RunConfig& c, const Setting& s) { c.stamp_alembic = parse_flag(s); }},
        {"resync", kMigrate, "", "off",
         "re-derive every chat, even after a complete run: add what is missing, update rows that changed, "
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
        {"connect-retries", kMigrate, "N", std::to_string(defaults::kConnectRetries),
         "reconnect attempts before the run gives up",
         [](RunConfig& c, const Setting& s) { c.connect_retries = count<unsigned>(s, 0); }},
        {"retry-max-wait", kMigrate, "DURATION", std::to_string(defaults::kRetryMaxWait.count()) + "s",
         "the longest wait between reconnect attempts",
         [](RunConfig& c, const Setting& s) { c.retry_max_wait = parse_duration(s.label(), s.value); }},
        {"log-file", kReading, "FILE", "none", "also write every line, with its time and level, to FILE (appended)",
         [](RunConfig& c, const Setting& s) { c.log_file = non_empty(s, "give a file name"); }},
        {"summary-json", kReading, "FILE", "none",
         "write the outcome as JSON to FILE at the end, failed or not: the target, the verdict, the "
         "figures (migrate), each check (check), the counts (verify), an error's class and SQLSTATE",
         [](RunConfig& c, const Setting& s) { c.summary_json = non_empty(s, "give a file name"); }},
        {"verbose", kMigrate, "", "off",
         "more detail on stderr: each index as it starts, an error's connection "
         "and statement",
         [](RunConfig& c, const Setting& s) { c.verbose = parse_flag(s); }, 'v'},
        {"quiet", kMigrate, "", "off", "print only warnings, errors and the verdict; no progress",
         [](RunConfig& c, const Setting& s) { c.quiet = parse_flag(s); }, 'q'},
    };
    return specs;
}

std::string env_name(const std::string& option) {
    std::string name = "SLUICE_" + option;
    for (char& c : name)
        c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return name;
}

namespace {

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
            if (o.string_key == "command") line.words.insert(line.words.end(), o.value.begin(), o.value.end());
        return line;
    } catch (const po::unknown_option& e) {
        // Boost quotes "--dbb=postgresql://u:secret@h" whole: the value is cut off, the name redacted.
        const std::string name = e.get_option_name();
        throw UsageError("unknown option " + redact_password(name.substr(0, name.find('='))) + see_help);
    } catch (const po::invalid_command_line_syntax& e) {
        if (e.kind() != po::invalid_syntax::missing_parameter) throw UsageError(redact_password(e.what()) + see_help);
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
        fail(path, "'" + path.value +
                       "' is a directory, not a file (a bind mount of a file that does not exist "
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
        throw UsageError(origin + ": line " + std::to_string(bad - lines.begin() + 1) + " is not `name = value`");
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
    for (const OptionSpec& spec : option_specs())
        known.push_back(env_name(spec.name));
    for (const std::string& name : env_names) {
        // SLUICE_TEST_* belong to the test harness (SLUICE_TEST_DB names its server).
        const bool ours = name.rfind("SLUICE_", 0) == 0 && name.rfind("SLUICE_TEST_", 0) != 0;
        if (ours && std::find(known.begin(), known.end(), name) == known.end())
            throw UsageError("environment variable " + name + " is not a sluice option (misspelt?)" + see_help);
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
    for (const auto& [option, variable] : {std::pair{"db", "DATABASE_URL"}, std::pair{"schema", "DATABASE_SCHEMA"}})
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
    if (words.size() > 1) throw UsageError("unexpected argument '" + words[1] + "' after the command" + see_help);
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

RunConfig build(Command command, const Settings& settings, const Environment& env) {
    RunConfig config;
    config.command = command;
    const unsigned cores = usable_cores();
    // The server shares the host and does most of the work (reading chat, taking the COPY): one
    // parse thread keeps up with about 700 MB/s of chat JSON, and idle threads only spin on the
    // cores the server needs. A quarter of the cores, at most 8.
    config.parse_threads = std::clamp(cores / 4, 1u, defaults::kParseThreadsAtMost);
    // A lane is a reader and a writer backend on the server plus their share of parsing here: on a
    // host the server shares, half the cores, up to the 8 sessions past which COPY into one table
    // gains nothing.
    config.lanes = std::clamp(cores / 2, 1u, defaults::kLanesAtMost);
    // Seven indexes: more connections would idle.
    config.index_connections = std::min(cores, defaults::kIndexConnectionsAtMost);
    config.revision = stages::openwebui::kJobs[0].revision;
    for (const OptionSpec& spec : option_specs())
        if (const auto s = settings.find(spec.name); s != settings.end()) spec.apply(config, s->second);
    // Lanes share the one budget: each needs a few batches in flight (one read, one parsed, one
    // written) to keep its writer busy, so with more lanes batches are smaller and more of them
    // fit, in the same bytes.
    if (config.lanes > 1 && (command == Command::migrate || command == Command::check)) {
        if (!settings.count("batch-bytes")) config.batch_bytes = defaults::kLanesBatchBytes;
        if (!settings.count("max-inflight-batches"))
            config.max_inflight_batches =
                std::max(config.max_inflight_batches, defaults::kInflightBatchesPerLane * config.lanes);
    }
    if (config.db_url.empty() && !libpq_environment_set(env)) {
        const std::vector<std::string> missing = missing_open_webui_database_variables(env);
        std::string names;
        for (const std::string& name : missing)
            names += (names.empty() ? "" : ", ") + name;
        if (!missing.empty())  // Open WebUI itself would fall back to its SQLite file
            throw UsageError("no database: Open WebUI's DATABASE_* variables count only when all are set, and " +
                             names + (missing.size() == 1 ? " is" : " are") +
                             " not; set them, or pass --db URL or DATABASE_URL" + std::string(see_help));
        throw UsageError(
            "no database: pass --db URL, set DATABASE_URL (or Open WebUI's DATABASE_TYPE, _USER, "
            "_PASSWORD, _HOST, _PORT and _NAME), or set libpq's PGHOST (PGPORT, PGUSER, PGDATABASE, "
            "PGSERVICE)" +
            std::string(see_help));
    }
    if (config.revision == stages::openwebui::kCurrentMessageRevisionAfter)
        config.phases = current_message_phases(config.phases, settings);
    const bool publishes = config.runs(Phase::publish);
    if (config.stamp_alembic && !publishes)
        throw UsageError("--stamp-alembic moves alembic_version in the publish phase: add publish to --phases" +
                         std::string(see_help));
    if (config.verbose && config.quiet)
        throw UsageError("--verbose and --quiet ask for opposite things: give one of them" + std::string(see_help));
    return config;
}

}  // namespace

RunConfig parse(int argc, const char* const argv[], const Environment& env, const std::vector<std::string>& env_names) {
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
        case Command::migrate:
            return "migrate";
        case Command::check:
            return "check";
        case Command::verify:
            return "verify";
        case Command::rejects:
            return "rejects";
        case Command::cleanup:
            return "cleanup";
        case Command::status:
            return "status";
        case Command::help:
            return "help";
        case Command::version:
            return "version";
    }
    return "?";
}

}  // namespace sluice::config
