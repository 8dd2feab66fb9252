// Unit tests of the run configuration: argv, a config file and an injected environment become a
// RunConfig, or one UsageError line that names the option. No database, no real environment.
#include "config/run_config.h"
#include "config/connection_string.h"

#include <doctest/doctest.h>

#include <libpq-fe.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <sched.h>

using namespace sluice::config;
using namespace std::chrono_literals;

namespace {

using Variables = std::map<std::string, std::string>;

const std::string some_db = "postgresql://sluice@localhost/openwebui";

// parse() on "sluice <args>", with `vars` as the whole environment.
RunConfig parse_with(std::vector<std::string> args, const Variables& vars = {}) {
    args.insert(args.begin(), "sluice");
    std::vector<const char*> argv;
    for (const std::string& arg : args)
        argv.push_back(arg.c_str());
    const Environment env = [vars](const std::string& name) -> std::optional<std::string> {
        const auto found = vars.find(name);
        return found == vars.end() ? std::nullopt : std::optional<std::string>(found->second);
    };
    std::vector<std::string> names;
    for (const auto& var : vars)
        names.push_back(var.first);
    return parse(static_cast<int>(argv.size()), argv.data(), env, names);
}

// The one line parse() refuses with, or "(accepted)".
std::string refusal(const std::vector<std::string>& args, const Variables& vars = {}) {
    try {
        parse_with(args, vars);
    } catch (const UsageError& e) {
        return e.what();
    }
    return "(accepted)";
}

std::string size_refusal(const std::string& text) {
    try {
        parse_size("--batch-bytes", text);
    } catch (const UsageError& e) {
        return e.what();
    }
    return "(accepted)";
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// A mkdtemp directory, removed with its files when the test ends.
class TempDir {
public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "sluice-config-test-XXXXXX").string();
        REQUIRE_MESSAGE(mkdtemp(pattern.data()) != nullptr, "mkdtemp failed in " << pattern);
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string write(const std::string& name, const std::string& text) const {
        const std::filesystem::path file = path_ / name;
        std::ofstream(file) << text;
        return file.string();
    }

private:
    std::filesystem::path path_;
};

}  // namespace

// ---- commands -------------------------------------------------------------------------------

TEST_CASE("with lanes, batches are smaller and more fit in the same budget, unless they are set") {
    const RunConfig one = parse_with({"migrate", "--db", some_db, "--lanes", "1"});
    CHECK_MESSAGE(one.batch_bytes == (2u << 20), "one lane keeps 2 MiB batches");
    CHECK_MESSAGE(one.max_inflight_batches == 16, "one lane keeps 16 batches in flight");
    const RunConfig eight = parse_with({"migrate", "--db", some_db, "--lanes", "8"});
    CHECK_MESSAGE(eight.batch_bytes == (1u << 20), "eight lanes: batches of 1 MiB");
    CHECK_MESSAGE(eight.max_inflight_batches == 32, "eight lanes: four batches a lane in flight");
    CHECK_MESSAGE(eight.max_inflight_bytes == (24u << 20), "the byte budget does not grow with lanes");
    const RunConfig set = parse_with(
        {"migrate", "--db", some_db, "--lanes", "8", "--batch-bytes", "3MiB", "--max-inflight-batches", "10"});
    CHECK_MESSAGE(set.batch_bytes == (3u << 20), "a given --batch-bytes was replaced");
    CHECK_MESSAGE(set.max_inflight_batches == 10, "a given --max-inflight-batches was replaced");
    CHECK_THROWS_AS(parse_with({"migrate", "--db", some_db, "--lanes", "0"}), UsageError);
    CHECK_THROWS_AS(parse_with({"migrate", "--db", some_db, "--lanes", "33"}), UsageError);
    CHECK_THROWS_AS(parse_with({"verify", "--db", some_db, "--lanes", "2"}), UsageError);
}

TEST_CASE("migrate with only a database takes every default") {
    const RunConfig c = parse_with({"migrate", "--db", some_db});
    const unsigned cores = usable_cores();
    CHECK_MESSAGE(c.command == Command::migrate, "the command word was not read");
    CHECK_MESSAGE(c.db_url == some_db, "the URL was altered: " << c.db_url);
    CHECK_MESSAGE(c.schema == "public", "schema default: " << c.schema);
    CHECK_MESSAGE(c.parse_threads == std::clamp(cores / 4, 1u, 8u),
                  "parse threads should default to a quarter of the cores, 1 to 8");
    CHECK_MESSAGE(c.lanes == std::clamp(cores / 2, 1u, 8u), "lanes should default to half the cores, at most 8");
    CHECK_MESSAGE(c.index_connections == std::min(cores, 7u), "index connections should be min(cores, 7)");
    CHECK_MESSAGE(c.fetch_rows == 1000, "fetch-rows default");
    CHECK_MESSAGE(c.batch_rows == 1000, "batch-rows default");
    CHECK_MESSAGE(c.batch_bytes == (c.lanes > 1 ? 1u << 20 : 2u << 20), "batch-bytes default");
    CHECK_MESSAGE(c.max_inflight_bytes == (24u << 20), "max-inflight-bytes default");
    CHECK_MESSAGE(c.max_inflight_batches == std::max<std::size_t>(16, c.lanes > 1 ? 4 * c.lanes : 0),
                  "max-inflight-batches default");
    CHECK_MESSAGE(c.commit_interval.every == 5s, "commit-interval time default");
    CHECK_MESSAGE(c.commit_interval.bytes == (4u << 20), "commit-interval size default");
    CHECK_MESSAGE(c.reject_file.empty(), "reject-file default: named at run time for the database and schema");
    CHECK_MESSAGE(!c.max_rejects, "max-rejects should be unset: any number of rejects is not a failure");
    CHECK_MESSAGE(c.phases.size() == 5, "all five phases should run by default, publish last");
    CHECK_MESSAGE(c.phases.back() == Phase::publish, "publish should be the last phase");
    CHECK_MESSAGE(!c.resync, "resync must be off unless asked for");
    CHECK_MESSAGE(c.wait_for_lock.count() == 0, "a second run refuses at once unless --wait-for-lock is given");
    CHECK_MESSAGE(c.progress == ProgressStyle::automatic, "progress default");
    CHECK_MESSAGE(!c.stamp_alembic, "stamp-alembic must be off unless asked for");
    CHECK_MESSAGE(c.connect_retries == 5, "connect-retries default");
    CHECK_MESSAGE(c.retry_max_wait == 30s, "retry-max-wait default");
}

TEST_CASE("verify is read as a command, with its options after or before it") {
    CHECK_MESSAGE(parse_with({"verify", "--db", some_db}).command == Command::verify, "verify then options");
    CHECK_MESSAGE(parse_with({"--db", some_db, "verify"}).command == Command::verify, "options then verify");
}

TEST_CASE("help is reachable as --help, -h, help and after a command, and needs no database") {
    for (const auto& args :
         std::vector<std::vector<std::string>>{{"--help"}, {"-h"}, {"help"}, {"migrate", "--help"}, {"verify", "-h"}}) {
        CHECK_MESSAGE(parse_with(args, {{"SLUICE_NO_SUCH", "1"}}).command == Command::help,
                      "not help: " << args.back());
    }
}

TEST_CASE("the help asked after a command, or as help COMMAND, is that command's") {
    const std::vector<std::pair<std::vector<std::string>, Command>> cases{
        {{"--help"}, Command::help},
        {{"help"}, Command::help},
        {{"migrate", "--help"}, Command::migrate},
        {{"help", "migrate"}, Command::migrate},
        {{"--help", "check"}, Command::check},
        {{"verify", "-h"}, Command::verify},
        {{"help", "rejects"}, Command::rejects},
        {{"cleanup", "--help", "--resync"}, Command::cleanup}};
    for (const auto& [args, topic] : cases) {
        const RunConfig c = parse_with(args);
        CHECK_MESSAGE(c.command == Command::help, args.front() << ": not help");
        CHECK_MESSAGE(c.help_topic == topic,
                      args.front() << " " << args.back() << ": the help of " << command_name(c.help_topic));
    }
    CHECK_MESSAGE(contains(refusal({"help", "migrat"}), "unknown command 'migrat'"), refusal({"help", "migrat"}));
    CHECK_MESSAGE(contains(refusal({"help", "migrate", "x"}), "unexpected argument 'x'"),
                  refusal({"help", "migrate", "x"}));
}

TEST_CASE("--version names sluice's version and git revision, and the libpq, oneTBB and RapidJSON versions") {
    CHECK_MESSAGE(parse_with({"--version"}).command == Command::version, "--version not recognised");
    CHECK_MESSAGE(parse_with({"migrate", "--version"}).command == Command::version, "--version after a command");
    const std::string text = version_text();
    CHECK_MESSAGE(text.rfind("sluice ", 0) == 0, "version text: " << text);
    CHECK_MESSAGE(std::any_of(text.begin(), text.end(), ::isdigit), "no version number in: " << text);
    CHECK_MESSAGE(contains(text, "(git "), "no git revision (or 'unknown') in: " << text);
    const int libpq = PQlibVersion();
    const std::string libpq_major = std::to_string(libpq / 10000) + ".";
    CHECK_MESSAGE(contains(text, "libpq " + libpq_major), "not the libpq loaded (" << libpq << "): " << text);
    CHECK_MESSAGE(contains(text, "oneTBB 20"), "no oneTBB version in: " << text);
    CHECK_MESSAGE(contains(text, "RapidJSON 1."), "no RapidJSON version in: " << text);
    for (std::size_t start = 0, end; start < text.size(); start = end + 1) {
        end = std::min(text.find('\n', start), text.size());
        CHECK_MESSAGE(end - start <= 80,
                      "a version line is wider than 80 columns: " << text.substr(start, end - start));
    }
}

TEST_CASE("no command asks the user to pick one of the commands") {
    for (const auto& args : std::vector<std::vector<std::string>>{{}, {"--db", some_db}}) {
        const std::string error = refusal(args);
        CHECK_MESSAGE(contains(error, "pick migrate, check, verify, rejects, cleanup or status"), "got: " << error);
        CHECK_MESSAGE(contains(error, "--help"), "should point at --help: " << error);
    }
}

TEST_CASE("an unknown command is named and the real ones offered") {
    const std::string error = refusal({"migrat", "--db", some_db});
    CHECK_MESSAGE(contains(error, "'migrat'"), "the word is not named: " << error);
    CHECK_MESSAGE(contains(error, "migrate, check, verify, rejects, cleanup or status"),
                  "the commands are not offered: " << error);
}

TEST_CASE("a stray word after the command is named") {
    const std::string error = refusal({"migrate", "now", "--db", some_db});
    CHECK_MESSAGE(contains(error, "'now'"), "got: " << error);
}

// ---- command line errors -------------------------------------------------------------------

TEST_CASE("an unknown option is named, and an abbreviation is not guessed") {
    CHECK_MESSAGE(contains(refusal({"migrate", "--bogus"}), "--bogus"), refusal({"migrate", "--bogus"}));
    CHECK_MESSAGE(contains(refusal({"migrate", "--batch", "5"}), "--batch"), "an abbreviation was guessed");
}

TEST_CASE("an unknown option with a value attached does not echo the value") {
    const std::string error = refusal({"migrate", "--dbb=postgresql://u:hunter2@h/db"});
    CHECK_MESSAGE(contains(error, "--dbb"), "got: " << error);
    CHECK_MESSAGE(!contains(error, "hunter2"), "the password leaked: " << error);
}

TEST_CASE("an option without its value says which option needs one") {
    const std::string error = refusal({"migrate", "--db"});
    CHECK_MESSAGE(contains(error, "--db"), "got: " << error);
    CHECK_MESSAGE(contains(error, "needs a value"), "got: " << error);
}

TEST_CASE("an option given twice on the command line is refused") {
    const std::string error = refusal({"migrate", "--db", some_db, "--batch-rows", "1", "--batch-rows", "2"});
    CHECK_MESSAGE(contains(error, "--batch-rows"), "got: " << error);
    CHECK_MESSAGE(contains(error, "more than once"), "got: " << error);
}

TEST_CASE("--parse-threads 0 is refused, naming the option and the least it takes") {
    const std::string error = refusal({"migrate", "--db", some_db, "--parse-threads", "0"});
    CHECK_MESSAGE(contains(error, "--parse-threads"), "got: " << error);
    CHECK_MESSAGE(contains(error, "at least 1"), "got: " << error);
}

TEST_CASE("a count that is not a whole number is refused, naming the option") {
    for (const std::string bad : {"abc", "12x", "1.5", ""}) {
        const std::string error = refusal({"migrate", "--db", some_db, "--batch-rows", bad});
        CHECK_MESSAGE(contains(error, "--batch-rows"), "'" << bad << "' gave: " << error);
    }
}

TEST_CASE("a negative number is refused instead of wrapping around to a huge one") {
    for (const auto& [option, value] : std::vector<std::pair<std::string, std::string>>{{"--batch-rows", "-1"},
                                                                                        {"--max-rejects", "-1"},
                                                                                        {"--parse-threads", "-4"},
                                                                                        {"--connect-retries", "-1"},
                                                                                        {"--batch-bytes", "-1MB"},
                                                                                        {"--retry-max-wait", "-5s"}}) {
        const std::string attached = refusal({"migrate", "--db", some_db, option + "=" + value});
        CHECK_MESSAGE(contains(attached, option), option << "=" << value << " gave: " << attached);
        CHECK_MESSAGE(contains(attached, "negative"), option << "=" << value << " gave: " << attached);
        const std::string separate = refusal({"migrate", "--db", some_db, option, value});
        CHECK_MESSAGE(contains(separate, option), option << " " << value << " gave: " << separate);
    }
    const std::string error = refusal({"migrate", "--db", some_db}, {{"SLUICE_FETCH_ROWS", "-5"}});
    CHECK_MESSAGE(contains(error, "SLUICE_FETCH_ROWS"), "from the environment: " << error);
}

TEST_CASE("a count too large for its field is refused") {
    const std::string error = refusal({"migrate", "--db", some_db, "--parse-threads", "99999999999"});
    CHECK_MESSAGE(contains(error, "--parse-threads"), "got: " << error);
    CHECK_MESSAGE(contains(error, "too large"), "got: " << error);
}

TEST_CASE("--max-rejects 0 is kept: any reject then fails the run") {
    const RunConfig c = parse_with({"migrate", "--db", some_db, "--max-rejects", "0"});
    CHECK_MESSAGE((c.max_rejects && *c.max_rejects == 0), "--max-rejects 0 was lost");
}

TEST_CASE("--progress takes auto, bar, log or none, and nothing else") {
    const std::map<std::string, ProgressStyle> styles{{"auto", ProgressStyle::automatic},
                                                      {"bar", ProgressStyle::bar},
                                                      {"log", ProgressStyle::log},
                                                      {"none", ProgressStyle::none}};
    for (const auto& [word, style] : styles)
        CHECK_MESSAGE(parse_with({"migrate", "--db", some_db, "--progress", word}).progress == style, word);
    const std::string error = refusal({"migrate", "--db", some_db, "--progress", "fancy"});
    CHECK_MESSAGE(contains(error, "--progress"), "got: " << error);
    CHECK_MESSAGE(contains(error, "auto, bar, log, none"), "the choices are not listed: " << error);
}

TEST_CASE("--retry-max-wait takes a duration with a unit") {
    CHECK_MESSAGE(parse_with({"migrate", "--db", some_db, "--retry-max-wait", "2min"}).retry_max_wait == 2min, "2min");
    CHECK_MESSAGE(parse_with({"migrate", "--db", some_db, "--retry-max-wait", "500ms"}).retry_max_wait == 500ms,
                  "500ms");
    const std::string error = refusal({"migrate", "--db", some_db, "--retry-max-wait", "30"});
    CHECK_MESSAGE(contains(error, "--retry-max-wait"), "a bare number should need a unit: " << error);
}

TEST_CASE("an empty --schema or --reject-file is refused, naming the option") {
    for (const std::string option : {"--schema", "--reject-file"}) {
        const std::string error = refusal({"migrate", "--db", some_db, option, ""});
        CHECK_MESSAGE(contains(error, option), "got: " << error);
        CHECK_MESSAGE(contains(error, "empty"), "got: " << error);
    }
}

// ---- precedence -----------------------------------------------------------------------------

TEST_CASE("each source wins over the ones below it: command line, file, environment, DATABASE_URL, default") {
    TempDir dir;
    const std::string file = dir.write("sluice.conf", "batch-rows = 200\nfetch-rows = 300\nschema = from_file\n");
    const Variables vars{{"SLUICE_BATCH_ROWS", "400"},
                         {"SLUICE_FETCH_ROWS", "500"},
                         {"SLUICE_MAX_INFLIGHT_BATCHES", "600"},
                         {"SLUICE_DB", "postgresql://from-env@h/db"},
                         {"DATABASE_URL", "postgresql://from-owui@h/db"},
                         {"DATABASE_SCHEMA", "from_owui"}};
    const RunConfig c = parse_with({"migrate", "--batch-rows", "100", "--config", file}, vars);
    CHECK_MESSAGE(c.batch_rows == 100, "the command line should beat the file and the environment");
    CHECK_MESSAGE(c.fetch_rows == 300, "the file should beat the environment");
    CHECK_MESSAGE(c.max_inflight_batches == 600, "the environment should beat the default");
    CHECK_MESSAGE(c.db_url == "postgresql://from-env@h/db", "SLUICE_DB should beat DATABASE_URL: " << c.db_url);
    CHECK_MESSAGE(c.schema == "from_file", "the file should beat DATABASE_SCHEMA: " << c.schema);
    CHECK_MESSAGE(c.max_inflight_bytes == (24u << 20), "an option nobody sets keeps its default");
}

TEST_CASE("Open WebUI's DATABASE_URL and DATABASE_SCHEMA are used when nothing else names them") {
    const Variables owui{{"DATABASE_URL", "postgresql://owui@h/db"}, {"DATABASE_SCHEMA", "owui"}};
    const RunConfig c = parse_with({"migrate"}, owui);
    CHECK_MESSAGE(c.db_url == "postgresql://owui@h/db", "DATABASE_URL unused: " << c.db_url);
    CHECK_MESSAGE(c.schema == "owui", "DATABASE_SCHEMA unused: " << c.schema);
    const RunConfig flags = parse_with({"migrate", "--db", some_db, "--schema", "mine"}, owui);
    CHECK_MESSAGE(flags.db_url == some_db, "--db should beat DATABASE_URL");
    CHECK_MESSAGE(flags.schema == "mine", "--schema should beat DATABASE_SCHEMA");
    CHECK_MESSAGE(
        parse_with({"migrate"}, {{"SLUICE_SCHEMA", "s"}, {"DATABASE_SCHEMA", "o"}, {"DATABASE_URL", some_db}}).schema ==
            "s",
        "SLUICE_SCHEMA should beat DATABASE_SCHEMA");
}

TEST_CASE(
    "Open WebUI's split DATABASE_* variables, when complete, win over DATABASE_URL, as in Open WebUI; "
    "--db, a config file and SLUICE_DB win over them") {
    const Variables split{{"DATABASE_TYPE", "postgresql"},    {"DATABASE_USER", "owui"}, {"DATABASE_PASSWORD", "pw"},
                          {"DATABASE_HOST", "split.example"}, {"DATABASE_PORT", "5433"}, {"DATABASE_NAME", "owui"}};
    Variables both = split;
    both["DATABASE_URL"] = "postgresql://other@url.example/db";
    CHECK_MESSAGE(contains(parse_with({"migrate"}, split).db_url, "host='split.example'"),
                  "the split variables unused");
    CHECK_MESSAGE(contains(parse_with({"migrate"}, both).db_url, "host='split.example'"),
                  "DATABASE_URL beat the complete split variables, which Open WebUI prefers");
    Variables partial = both;
    partial.erase("DATABASE_PORT");
    CHECK_MESSAGE(parse_with({"migrate"}, partial).db_url == "postgresql://other@url.example/db",
                  "an incomplete split set hid DATABASE_URL");
    CHECK(parse_with({"migrate", "--db", some_db}, both).db_url == some_db);
    Variables sluice_db = both;
    sluice_db["SLUICE_DB"] = some_db;
    CHECK(parse_with({"migrate"}, sluice_db).db_url == some_db);
    TempDir dir;
    CHECK(parse_with({"migrate", "--config", dir.write("c.conf", "db = " + some_db + "\n")}, both).db_url == some_db);
    Variables broken = both;
    broken["DATABASE_PASSWORD"] = "a@b";
    CHECK_MESSAGE(refusal({"migrate", "--db", some_db}, broken) == "(accepted)",
                  "variables that --db overrides were still checked");
    CHECK(contains(refusal({"migrate"}, broken), "DATABASE_PASSWORD holds an '@'"));
}

TEST_CASE("an incomplete set of Open WebUI's DATABASE_* variables, with nothing else, names what is missing") {
    const std::string error =
        refusal({"migrate"}, {{"DATABASE_TYPE", "postgresql"}, {"DATABASE_HOST", "h"}, {"DATABASE_PASSWORD", "x"}});
    CHECK_MESSAGE(contains(error,
                           "no database: Open WebUI's DATABASE_* variables count only when all are set, and "
                           "DATABASE_PORT, DATABASE_NAME are not"),
                  error);
}

TEST_CASE("an empty environment variable counts as unset") {
    const RunConfig c =
        parse_with({"migrate"}, {{"SLUICE_DB", ""}, {"DATABASE_URL", some_db}, {"SLUICE_BATCH_ROWS", ""}});
    CHECK_MESSAGE(c.db_url == some_db, "an empty SLUICE_DB hid DATABASE_URL");
    CHECK_MESSAGE(c.batch_rows == 1000, "an empty SLUICE_BATCH_ROWS was not ignored");
}

TEST_CASE("SLUICE_CONFIG names a config file, and --config overrides it") {
    TempDir dir;
    const std::string env_file = dir.write("env.conf", "batch-rows = 7\n");
    const std::string flag_file = dir.write("flag.conf", "batch-rows = 8\n");
    const Variables vars{{"SLUICE_CONFIG", env_file}, {"DATABASE_URL", some_db}};
    CHECK_MESSAGE(parse_with({"migrate"}, vars).batch_rows == 7, "SLUICE_CONFIG was not read");
    CHECK_MESSAGE(parse_with({"migrate", "--config", flag_file}, vars).batch_rows == 8, "--config should win");
    const std::string error = refusal({"migrate"}, {{"SLUICE_CONFIG", "/nonexistent/sluice.conf"}});
    CHECK_MESSAGE(contains(error, "SLUICE_CONFIG"), "a missing file should name where it came from: " << error);
}

// ---- environment ----------------------------------------------------------------------------

TEST_CASE("SLUICE_STAMP_ALEMBIC reads 1/true/yes/on and 0/false/no/off") {
    for (const std::string yes : {"1", "true", "TRUE", "yes", "on"})
        CHECK_MESSAGE(parse_with({"migrate", "--db", some_db}, {{"SLUICE_STAMP_ALEMBIC", yes}}).stamp_alembic, yes);
    for (const std::string no : {"0", "false", "no", "off"})
        CHECK_MESSAGE(!parse_with({"migrate", "--db", some_db}, {{"SLUICE_STAMP_ALEMBIC", no}}).stamp_alembic, no);
    const std::string error = refusal({"migrate", "--db", some_db}, {{"SLUICE_STAMP_ALEMBIC", "maybe"}});
    CHECK_MESSAGE(contains(error, "SLUICE_STAMP_ALEMBIC"), "got: " << error);
}

TEST_CASE("--stamp-alembic is a bare flag, before or after the command") {
    CHECK_MESSAGE(parse_with({"migrate", "--stamp-alembic", "--db", some_db}).stamp_alembic, "after the command");
    const RunConfig before = parse_with({"--stamp-alembic", "migrate", "--db", some_db});
    CHECK_MESSAGE(before.stamp_alembic, "before the command");
    CHECK_MESSAGE(before.command == Command::migrate, "the flag swallowed the command word");
}

TEST_CASE("an unknown SLUICE_ variable is refused by name, to catch misspellings") {
    const std::string error = refusal({"migrate", "--db", some_db}, {{"SLUICE_BATCH_ROW", "5"}});
    CHECK_MESSAGE(contains(error, "SLUICE_BATCH_ROW"), "got: " << error);
}

TEST_CASE("SLUICE_TEST_ variables belong to the test harness and are ignored") {
    const std::string error = refusal({"migrate", "--db", some_db}, {{"SLUICE_TEST_DB", "anything"}});
    CHECK_MESSAGE(error == "(accepted)", "got: " << error);
}

TEST_CASE("a bad value from the environment names both the option and the variable") {
    const std::string error = refusal({"migrate", "--db", some_db}, {{"SLUICE_BATCH_ROWS", "abc"}});
    CHECK_MESSAGE(contains(error, "--batch-rows"), "got: " << error);
    CHECK_MESSAGE(contains(error, "SLUICE_BATCH_ROWS"), "got: " << error);
}

// ---- config file ----------------------------------------------------------------------------

TEST_CASE("a config file sets options by their long names, flags included") {
    TempDir dir;
    const std::string file =
        dir.write("ok.conf", "# a comment\ndb = " + some_db +
                                 "\nstamp-alembic = 1\nphases = backfill,publish\ncommit-interval = 2s\n");
    const RunConfig c = parse_with({"migrate", "--config", file});
    CHECK_MESSAGE(c.db_url == some_db, "db from the file: " << c.db_url);
    CHECK_MESSAGE(c.stamp_alembic, "stamp-alembic = 1 in the file");
    CHECK_MESSAGE(c.phases == (std::vector<Phase>{Phase::backfill, Phase::publish}), "phases from the file");
    CHECK_MESSAGE(c.commit_interval.every == 2s, "commit-interval from the file");
}

TEST_CASE("a config file that does not exist is refused by name") {
    const std::string error = refusal({"migrate", "--db", some_db, "--config", "/nonexistent/sluice.conf"});
    CHECK_MESSAGE(contains(error, "--config"), "got: " << error);
    CHECK_MESSAGE(contains(error, "/nonexistent/sluice.conf"), "got: " << error);
}

TEST_CASE("an unknown key in a config file is named, and so is the file") {
    TempDir dir;
    const std::string file = dir.write("typo.conf", "batch-row = 5\n");
    const std::string error = refusal({"migrate", "--db", some_db, "--config", file});
    CHECK_MESSAGE(contains(error, "batch-row"), "got: " << error);
    CHECK_MESSAGE(contains(error, file), "got: " << error);
}

TEST_CASE("a config file cannot name another config file") {
    TempDir dir;
    const std::string file = dir.write("nested.conf", "config = other.conf\n");
    const std::string error = refusal({"migrate", "--db", some_db, "--config", file});
    CHECK_MESSAGE(contains(error, "unknown key 'config'"), "got: " << error);
}

TEST_CASE("a bad value in a config file names the option and the file") {
    TempDir dir;
    const std::string file = dir.write("bad.conf", "batch-rows = abc\n");
    const std::string error = refusal({"migrate", "--db", some_db, "--config", file});
    CHECK_MESSAGE(contains(error, "--batch-rows"), "got: " << error);
    CHECK_MESSAGE(contains(error, file), "got: " << error);
}

TEST_CASE("a config file line that is not name = value is pointed at by number, not quoted") {
    TempDir dir;
    const std::string file = dir.write("syntax.conf", "batch-rows = 5\ndb postgresql://u:hunter2@h/db\n");
    const std::string error = refusal({"migrate", "--config", file});
    CHECK_MESSAGE(contains(error, "line 2"), "got: " << error);
    CHECK_MESSAGE(!contains(error, "hunter2"), "the password leaked: " << error);
}

TEST_CASE("a '#' in the config file's db line is refused, since it would start a comment") {
    TempDir dir;
    const std::string file = dir.write("hash.conf", "db = postgresql://u:hunt#er2@h/db\n");
    const std::string error = refusal({"migrate", "--config", file});
    CHECK_MESSAGE(contains(error, "%23"), "should say how to encode it: " << error);
    CHECK_MESSAGE(!contains(error, "hunt"), "the password leaked: " << error);
}

// ---- the database ---------------------------------------------------------------------------

TEST_CASE("a missing database says to pass --db, set DATABASE_URL or set libpq's PGHOST") {
    for (const std::string command : {"migrate", "verify"}) {
        const std::string error = refusal({command}, {{"PGSSLMODE", "require"}, {"PGHOST", ""}});
        CHECK_MESSAGE(contains(error, "--db"), command << ": " << error);
        CHECK_MESSAGE(contains(error, "DATABASE_URL"), command << ": " << error);
        CHECK_MESSAGE(contains(error, "PGHOST"), command << ": " << error);
    }
}

TEST_CASE("with no --db, libpq's own PGHOST, PGUSER, PGDATABASE, PGSERVICE or PGPASSWORD pick the database") {
    for (const std::string variable :
         {"PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGSERVICE"}) {
        const std::string error = refusal({"migrate"}, {{variable, "x"}});
        CHECK_MESSAGE(error == "(accepted)", variable << " alone should let libpq decide: " << error);
        CHECK_MESSAGE(parse_with({"migrate"}, {{variable, "x"}}).db_url.empty(),
                      "the connection string should be left empty for libpq's environment");
    }
    CHECK_MESSAGE(parse_with({"migrate"}, {{"PGHOST", "h"}, {"DATABASE_URL", some_db}}).db_url == some_db,
                  "DATABASE_URL should still win over libpq's environment");
}

TEST_CASE("SQLAlchemy's +driver is dropped from the URL so that libpq can read it") {
    CHECK_MESSAGE(
        parse_with({"migrate", "--db", "postgresql+psycopg2://u:pw@h:5432/db"}).db_url == "postgresql://u:pw@h:5432/db",
        "psycopg2 URL");
    CHECK_MESSAGE(
        parse_with({"migrate"}, {{"DATABASE_URL", "postgresql+asyncpg://u@h/db"}}).db_url == "postgresql://u@h/db",
        "asyncpg URL from DATABASE_URL");
}

TEST_CASE("a keyword connection string is accepted as it is") {
    const std::string keywords = "host=localhost dbname=openwebui password='se cret'";
    CHECK_MESSAGE(parse_with({"migrate", "--db", keywords}).db_url == keywords, "keyword string altered or refused");
}

TEST_CASE("a SQLite URL says that sluice migrates PostgreSQL only") {
    const std::string error = refusal({"migrate"}, {{"DATABASE_URL", "sqlite:///app/backend/data/webui.db"}});
    CHECK_MESSAGE(contains(error, "PostgreSQL only"), "got: " << error);
    CHECK_MESSAGE(contains(error, "DATABASE_URL"), "the source of the URL is not named: " << error);
}

TEST_CASE("a URL of another kind of database is refused") {
    const std::string error = refusal({"migrate", "--db", "mysql://u:hunter2@h/db"});
    CHECK_MESSAGE(contains(error, "mysql://"), "the scheme is not named: " << error);
    CHECK_MESSAGE(!contains(error, "hunter2"), "the password leaked: " << error);
}

TEST_CASE("a malformed connection string is refused with libpq's reason and without its password") {
    const std::string url = refusal({"migrate", "--db", "postgresql://u:hunter2@h/db?bogus=1"});
    CHECK_MESSAGE(contains(url, "--db"), "got: " << url);
    CHECK_MESSAGE(contains(url, "bogus"), "libpq's reason is missing: " << url);
    CHECK_MESSAGE(!contains(url, "hunter2"), "the password leaked: " << url);
    const std::string keywords = refusal({"migrate", "--db", "host=h password=hunter2 nonsense"});
    CHECK_MESSAGE(contains(keywords, "--db"), "got: " << keywords);
    CHECK_MESSAGE(!contains(keywords, "hunter2"), "the password leaked: " << keywords);
    CHECK_MESSAGE(contains(refusal({"migrate", "--db", "not a connection string"}), "--db"), "plain junk");
}

TEST_CASE("a password with an unencoded '@' or '/' or a stray space is refused without showing it") {
    for (const std::string db : {"postgresql://u:hunt@er2@h/db", "postgresql://u:hunt/er2@h/db",
                                 "postgresql://u:hunt%zzer2@h/db", "host=h password=hunt er2"}) {
        const std::string error = refusal({"migrate", "--db", db});
        CHECK_MESSAGE(contains(error, "--db"), db << " gave: " << error);
        CHECK_MESSAGE(!contains(error, "hunt"), db << " leaked: " << error);
        CHECK_MESSAGE(!contains(error, "er2"), db << " leaked: " << error);
    }
}

TEST_CASE("a port, and an '@' in the query string, are not taken for a password") {
    const std::string db = "postgresql://h:5432/db?application_name=a@b";
    CHECK_MESSAGE(refusal({"migrate", "--db", db}) == "(accepted)", refusal({"migrate", "--db", db}));
}

TEST_CASE("redact_password gives a URL as libpq reads it, password hidden") {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"postgresql://u:secret@h/db", "user=u password=*** dbname=db host=h"},
        {"postgres://u:secret@h1:5432,h2:5433/db", "user=u password=*** dbname=db host=h1,h2 port=5432,5433"},
        {"postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"},  // libpq would misread it: by hand
        {"postgresql://h/db?sslmode=require&password=secret", "password=*** dbname=db host=h sslmode=require"},
        {"postgresql://h/db?pass%77ord=secret", "password=*** dbname=db host=h"},
        {"postgresql://u@h:5432/db", "user=u dbname=db host=h port=5432"},
        {"postgresql://h:5432/db", "dbname=db host=h port=5432"},
        {"postgresql://u:secret@h/db?Password=secret&bogus=1", "postgresql://u:***@h/db?Password=***"},
        {"postgresql://u@h/db?bogus=1&sslmode=require", "postgresql://u@h/db?bogus=***&sslmode=require"},
    };
    for (const auto& [url, redacted] : cases)
        CHECK_MESSAGE(redact_password(url) == redacted, url << " became " << redact_password(url));
}

TEST_CASE("redact_password gives a keyword string as libpq reads it, or hides all it cannot read") {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"host=h password=secret dbname=d", "password=*** dbname=d host=h"},
        {"password='se cret' host=h", "password=*** host=h"},
        {"password = secret", "password=***"},
        {"password='it\\'s' host=h", "password=*** host=h"},
        {"password=se cret host=h", "password=***"},  // libpq cannot parse it: nothing after password= shown
        {"host=h dbname=postgresql://u:secret@h/db", "dbname='user=u password=*** dbname=db host=h' host=h"},
        {"host=h user=u", "user=u host=h"},
        {"host=h PASSWORD=secret dbname=d", "host=h PASSWORD=***"},
        {"host=h bogus=1 user=u", "host=h bogus=*** user=u"},
        {"'host=h password=secret'", "password=*** host=h"},
        {"Host=h;Port=5432;Username=u;Password=secret;Database=d", "Host=h;Port=5432;Username=u;Password=***"},
    };
    for (const auto& [keywords, redacted] : cases)
        CHECK_MESSAGE(redact_password(keywords) == redacted, keywords << " became " << redact_password(keywords));
}

// ---- passwords, every way they are spelt ------------------------------------------------------

namespace {

const std::string kSecret = "Hunter2pw";

// How libpq reads a connection string: its password, or "(unparsable)".
std::string libpq_password(const std::string& conninfo) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
    PQfreemem(error);
    if (!options) return "(unparsable)";
    std::string password;
    for (const PQconninfoOption* o = options; o->keyword; ++o)
        if (std::string(o->keyword) == "password" && o->val) password = o->val;
    PQconninfoFree(options);
    return password;
}

struct Spelling {
    const char* what;
    std::string db;        // holds kSecret, or a piece of it
    bool accepted;         // whether sluice takes it (then libpq must find exactly `password` in it)
    std::string password;  // what libpq should read as the password when accepted
    std::string leak;      // what must never be printed: kSecret unless the case says otherwise
};

std::vector<Spelling> spellings() {
    const std::string s = kSecret;
    return {
        {"URL", "postgresql://u:" + s + "@h/db", true, s, s},
        {"URL in single quotes", "'postgresql://u:" + s + "@h/db'", true, s, s},
        {"URL in double quotes", "\"postgresql://u:" + s + "@h/db\"", true, s, s},
        {"URL with a driver", "postgresql+psycopg2://u:" + s + "@h:5432/db", true, s, s},
        {"URL, percent-encoded password", "postgresql://u:" + s + "%40x@h/db", true, s + "@x", s},
        {"URL, ?password=", "postgresql://u@h/db?password=" + s, true, s, s},
        {"URL, ?password= among others", "postgresql://u@h/db?sslmode=require&password=" + s + "&connect_timeout=5",
         true, s, s},
        {"URL, ?pass%77ord= (libpq decodes key names)", "postgresql://u@h/db?pass%77ord=" + s, true, s, s},
        {"URL, ?Password=", "postgresql://u@h/db?Password=" + s, false, "", s},
        {"URL, ?PASSWORD=", "postgresql://u@h/db?PASSWORD=" + s, false, "", s},
        {"URL, ?Password= in quotes", "\"postgresql://u@h/db?Password=" + s + "\"", false, "", s},
        {"URL with an unknown parameter", "postgresql://u:" + s + "@h/db?bogus=1", false, "", s},
        {"URL, unencoded '@' in the password", "postgresql://u:" + s + "@x@h/db", false, "", s},
        {"URL, bad percent escape in the password", "postgresql://u:ab%zz" + s + "@h/db", false, "", s},
        {"keywords", "host=h password=" + s + " dbname=d", true, s, s},
        {"keywords in single quotes", "'host=h password=" + s + "'", true, s, s},
        {"keywords in double quotes", "\"host=h password=" + s + "\"", true, s, s},
        {"keywords, quoted password", "host=h password='" + s + " x'", true, s + " x", s},
        {"keywords, blanks around =", "password = " + s + " host=h", true, s, s},
        {"keywords, PASSWORD=", "host=h PASSWORD=" + s + " dbname=d", false, "", s},
        {"keywords, Password=", "host=h Password=" + s, false, "", s},
        {"keywords, pass%77ord=", "host=h pass%77ord=" + s, false, "", s},
        {"keywords, stray word after the password", "host=h password=" + s + " nonsense", false, "", s},
        {"keywords, unquoted blank in the password", "host=h password=Hun ter2pw=x", false, "", "ter2pw"},
        {"Npgsql", "Host=h;Port=5432;Username=u;Password=" + s + ";Database=d", true, s, s},
        {"Npgsql, other spellings", "Server=h;User Id=u;Pwd=" + s + ";Database=d;SSL Mode=Require", true, s, s},
        {"Npgsql, lower case", "host=h;password=" + s, true, s, s},
        {"Npgsql, quoted password with ';'", "Host=h;Password='" + s + ";x';Database=d", true, s + ";x", s},
        {"Npgsql in quotes", "\"Host=h;Password=" + s + ";Database=d\"", true, s, s},
        {"Npgsql, key it cannot convert", "Host=h;Pooling=true;Password=" + s, false, "", s},
        {"Npgsql, ';' in an unquoted password", "Host=h;Password=Hunter2;pw=x", false, "", "Hunter2"},
    };
}

// Every text that may show `db`: the refusal (from --db, DATABASE_URL and a config file), a
// misspelt option carrying it, and redact_password().
std::vector<std::pair<std::string, std::string>> every_text_showing(const std::string& db, const std::string& file) {
    return {{"--db", refusal({"migrate", "--db", db})},
            {"DATABASE_URL", refusal({"migrate"}, {{"DATABASE_URL", db}})},
            {"SLUICE_DB", refusal({"migrate"}, {{"SLUICE_DB", db}})},
            {"config file", refusal({"migrate", "--config", file})},
            {"--dbb=", refusal({"migrate", "--dbb=" + db})},
            {"redact_password", redact_password(db)}};
}

}  // namespace

TEST_CASE("no password is printed, however it is spelt, and libpq reads the one that is accepted") {
    TempDir dir;
    for (const Spelling& c : spellings()) {
        CAPTURE(c.what);
        const std::string file = dir.write("db.conf", "db = " + c.db + "\n");
        for (const auto& [where, text] : every_text_showing(c.db, file))
            CHECK_MESSAGE(!contains(text, c.leak), where << " showed the password: " << text);
        const std::string outcome = refusal({"migrate", "--db", c.db});
        CHECK_MESSAGE((outcome == "(accepted)") == c.accepted, "accepted or refused wrongly: " << outcome);
        if (!c.accepted) {
            CHECK_MESSAGE(contains(outcome, "--db"), "the refusal does not name the option: " << outcome);
            continue;
        }
        for (const auto& vars : std::vector<Variables>{{}, {{"DATABASE_URL", c.db}}}) {
            const RunConfig config = parse_with(
                vars.empty() ? std::vector<std::string>{"migrate", "--db", c.db} : std::vector<std::string>{"migrate"},
                vars);
            CHECK_MESSAGE(libpq_password(config.db_url) == c.password, "libpq reads another password");
        }
        CHECK_MESSAGE(libpq_password(parse_with({"migrate", "--config", file}).db_url) == c.password,
                      "from a config file, libpq reads another password");
    }
}

TEST_CASE("a key libpq knows in the wrong case is refused with the spelling to use") {
    for (const std::string& db : {"host=h PASSWORD=" + kSecret, "postgresql://h/db?Password=" + kSecret}) {
        const std::string error = refusal({"migrate", "--db", db});
        CHECK_MESSAGE(contains(error, "write password="), db << " gave: " << error);
    }
}

TEST_CASE("an Npgsql-style string becomes libpq keywords, with its SSL mode") {
    const RunConfig c = parse_with({"migrate", "--db",
                                    "Server=db.example;Port=5433;User Id=owui;Password=p'w;"
                                    "Database=openwebui;SSL Mode=VerifyFull"});
    CHECK_MESSAGE(c.db_url ==
                      "host='db.example' port='5433' user='owui' password='p\\'w' dbname='openwebui' "
                      "sslmode='verify-full'",
                  "converted to: " << redact_password(c.db_url));
    const std::string error = refusal({"migrate", "--db", "Host=h;Pooling=true;Password=" + kSecret});
    CHECK_MESSAGE(contains(error, "'Pooling'"), "the key it cannot convert is not named: " << error);
}

// ---- bad configuration, refused before anything is written ----------------------------------

TEST_CASE("--config naming a directory is refused: Docker makes one of a missing bind-mounted file") {
    TempDir dir;
    const std::string folder = std::filesystem::path(dir.write("x", "")).parent_path().string();
    const std::string error = refusal({"migrate", "--db", some_db, "--config", folder});
    CHECK_MESSAGE(contains(error, "--config"), "got: " << error);
    CHECK_MESSAGE(contains(error, "is a directory"), "got: " << error);
    CHECK_MESSAGE(contains(refusal({"migrate", "--db", some_db}, {{"SLUICE_CONFIG", folder}}), "SLUICE_CONFIG"),
                  "from the environment the variable should be named");
}

TEST_CASE("counts beyond their sensible bound are refused, naming the bound; the bound itself is taken") {
    const std::vector<std::tuple<std::string, std::string, std::string>> cases{
        {"--parse-threads", "2147483647", "1024"},
        {"--parse-threads", "1025", "1024"},
        {"--fetch-rows", "2147483648", "2147483647"},
        {"--fetch-rows", "9223372036854775807", "2147483647"},
        {"--batch-rows", "1000001", "1000000"},
        {"--max-inflight-batches", "1025", "1024"},
        {"--index-connections", "8", "7"}};
    for (const auto& [option, value, most] : cases) {
        const std::string error = refusal({"migrate", "--db", some_db, option, value});
        CHECK_MESSAGE(contains(error, option), option << " " << value << " gave: " << error);
        CHECK_MESSAGE(contains(error, "at most " + most), option << " " << value << " gave: " << error);
        CHECK_MESSAGE(refusal({"migrate", "--db", some_db, option, most}) == "(accepted)", option << " " << most);
    }
}

namespace {

std::string output_refusal(const std::vector<std::string>& args, const Variables& vars = {}) {
    try {
        check_output_files(parse_with(args, vars));
    } catch (const UsageError& e) {
        return e.what();
    }
    return "(accepted)";
}

}  // namespace

TEST_CASE("a reject file or --output that cannot be written is refused before the run") {
    TempDir dir;
    const std::filesystem::path folder = std::filesystem::path(dir.write("x", "")).parent_path();
    const std::string missing = (folder / "no-such-dir" / "r.jsonl").string(), is_dir = folder.string();
    std::filesystem::create_directory(folder / "p.jsonl.partial");
    for (const std::string command : {"migrate", "cleanup"}) {
        for (const std::string& bad : {missing, is_dir, (folder / "p.jsonl").string()}) {
            const std::string error = output_refusal({command, "--db", some_db, "--reject-file", bad});
            CHECK_MESSAGE(contains(error, "--reject-file"), command << " " << bad << " gave: " << error);
        }
        const std::string fine = (folder / "r.jsonl").string();
        CHECK_MESSAGE(output_refusal({command, "--db", some_db, "--reject-file", fine}) == "(accepted)", command);
    }
    CHECK_MESSAGE(contains(output_refusal({"rejects", "--db", some_db, "--output", missing}), "--output"),
                  "rejects --output in a missing directory");
    CHECK_MESSAGE(output_refusal({"rejects", "--db", some_db}) == "(accepted)", "standard output needs no check");
    CHECK_MESSAGE(output_refusal({"verify", "--db", some_db}, {{"SLUICE_REJECT_FILE", missing}}) == "(accepted)",
                  "verify writes no reject file");
    CHECK_MESSAGE(contains(output_refusal({"check", "--db", some_db, "--reject-file", missing}), "--reject-file"),
                  "check refuses the reject file its migrate would refuse");
    if (geteuid() != 0) {  // root may write anywhere
        std::filesystem::permissions(folder, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
        const std::string error =
            output_refusal({"migrate", "--db", some_db, "--reject-file", (folder / "r.jsonl").string()});
        std::filesystem::permissions(folder, std::filesystem::perms::owner_all);
        CHECK_MESSAGE(contains(error, "--reject-file"), "a read-only directory gave: " << error);
    }
}

TEST_CASE("a device, a FIFO or a symlink given as an export is accepted: it is written in place or followed") {
    TempDir dir;
    const std::filesystem::path folder = std::filesystem::path(dir.write("x", "")).parent_path();
    const std::string fifo = (folder / "pipe").string(), link = (folder / "link.jsonl").string();
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    std::filesystem::create_symlink(folder / "target.jsonl", link);
    for (const std::string& path : {std::string("/dev/null"), std::string("/dev/stdout"), fifo, link}) {
        CHECK_MESSAGE(
            output_refusal({"migrate", "--db", some_db, "--reject-file", path, "--summary-json", path}) == "(accepted)",
            path << " was refused");
        CHECK_MESSAGE(output_refusal({"rejects", "--db", some_db, "--output", path}) == "(accepted)", path);
    }
    std::filesystem::create_symlink(folder / "no-such-dir" / "r.jsonl", folder / "astray.jsonl");
    const std::string astray = (folder / "astray.jsonl").string();
    CHECK_MESSAGE(contains(output_refusal({"migrate", "--db", some_db, "--reject-file", astray}), "no directory"),
                  "a symlink into a missing directory was accepted");
}

// ---- phases, commit interval, sizes ---------------------------------------------------------

TEST_CASE("--stamp-alembic without the publish phase is refused: the stamp goes with the publish") {
    const std::string why = refusal({"migrate", "--db", some_db, "--stamp-alembic", "--phases", "schema,backfill"});
    CHECK_MESSAGE(contains(why, "add publish to --phases"), "refused with: " << why);
}

TEST_CASE("rejects and cleanup are commands; --wait-for-lock takes a duration") {
    CHECK_MESSAGE(parse_with({"rejects", "--db", some_db, "--output", "r.jsonl"}).command == Command::rejects,
                  "rejects is a command");
    CHECK_MESSAGE(parse_with({"rejects", "--db", some_db, "--output", "r.jsonl"}).output == "r.jsonl", "--output");
    CHECK_MESSAGE(parse_with({"cleanup", "--db", some_db}).command == Command::cleanup, "cleanup is a command");
    CHECK_MESSAGE(parse_with({"migrate", "--db", some_db, "--wait-for-lock", "2min"}).wait_for_lock == 120s,
                  "--wait-for-lock 2min");
    CHECK_MESSAGE(parse_with({"migrate", "--db", some_db, "--resync"}).resync, "--resync is a flag");
}

TEST_CASE("--phases keeps the order the phases run in and drops repeats") {
    const auto phases = [](const std::string& list) {
        return parse_with({"migrate", "--db", some_db, "--phases", list}).phases;
    };
    const std::vector<Phase> schema_constraints{Phase::schema, Phase::constraints};
    const std::vector<Phase> backfill_indexes{Phase::backfill, Phase::indexes};
    CHECK_MESSAGE(phases("constraints,schema,schema") == schema_constraints, "order or repeats");
    CHECK_MESSAGE(phases(" backfill , indexes ") == backfill_indexes, "spaces around the names");
    CHECK_MESSAGE(phases("indexes,backfill,constraints,schema").size() == 4, "all four");
}

TEST_CASE("an unknown or missing phase is refused with the list of valid ones") {
    for (const std::string list : {"index", "schema,,backfill", ""}) {
        const std::string error = refusal({"migrate", "--db", some_db, "--phases", list});
        CHECK_MESSAGE(contains(error, "--phases"), "'" << list << "' gave: " << error);
        CHECK_MESSAGE(contains(error, "schema, backfill, indexes, constraints"), "'" << list << "' gave: " << error);
    }
}

TEST_CASE("--commit-interval takes a time, a size or both; a limit left out never triggers") {
    const auto interval = [](const std::string& spec) {
        return parse_with({"migrate", "--db", some_db, "--commit-interval", spec}).commit_interval;
    };
    const auto never_bytes = std::numeric_limits<std::size_t>::max();
    const std::vector<std::tuple<std::string, std::chrono::milliseconds, std::size_t>> cases{
        {"5s", 5s, never_bytes},
        {"500ms", 500ms, never_bytes},
        {"1min", 1min, never_bytes},
        {"1h", 1h, never_bytes},
        {"16MB", std::chrono::milliseconds::max(), 16u << 20},
        {"5s,16MB", 5s, 16u << 20},
        {"16MB, 2s", 2s, 16u << 20}};
    for (const auto& [spec, every, bytes] : cases) {
        const CommitInterval got = interval(spec);
        CHECK_MESSAGE(got.every == every, spec << ": time " << got.every.count() << "ms");
        CHECK_MESSAGE(got.bytes == bytes, spec << ": size " << got.bytes);
    }
}

TEST_CASE("a malformed --commit-interval is refused, naming the option") {
    for (const std::string spec : {"5", "5m", "0s", "0MB", "5s,6s", "16MB,1GB", "", "soon"}) {
        const std::string error = refusal({"migrate", "--db", some_db, "--commit-interval", spec});
        CHECK_MESSAGE(contains(error, "--commit-interval"), "'" << spec << "' gave: " << error);
    }
}

TEST_CASE("parse_size reads binary units and plain bytes") {
    const std::vector<std::pair<std::string, std::size_t>> cases{
        {"64MB", 64u << 20}, {"64MiB", 64u << 20},           {"64mb", 64u << 20},  {"512kB", 512u << 10},
        {"1GB", 1u << 30},   {"2TiB", std::size_t{2} << 40}, {"1048576", 1048576}, {"7B", 7},
        {" 1 MB ", 1u << 20}};
    for (const auto& [text, bytes] : cases)
        CHECK_MESSAGE(parse_size("--batch-bytes", text) == bytes, "'" << text << "'");
}

TEST_CASE("parse_size refuses junk, negatives, zero and overflow, naming the option") {
    for (const std::string bad : {"abc", "-1MB", "0", "0MB", "12XB", "1.5GB", "16M", "", "99999999999TB"}) {
        const std::string error = size_refusal(bad);
        CHECK_MESSAGE(contains(error, "--batch-bytes"), "'" << bad << "' gave: " << error);
    }
    CHECK_MESSAGE(contains(size_refusal("-1MB"), "negative"), size_refusal("-1MB"));
    CHECK_MESSAGE(contains(size_refusal("0"), "zero"), size_refusal("0"));
}

// ---- options per command --------------------------------------------------------------------

namespace {

// Every option, and the commands it applies to.
const std::map<std::string, std::vector<std::string>> kOptionCommands{
    {"db", {"migrate", "check", "verify", "rejects", "cleanup", "status"}},
    {"schema", {"migrate", "check", "verify", "rejects", "cleanup", "status"}},
    {"parse-threads", {"migrate", "check", "verify"}},
    {"fetch-rows", {"migrate", "check", "verify"}},
    {"batch-rows", {"migrate", "check", "verify"}},
    {"batch-bytes", {"migrate", "check", "verify"}},
    {"max-inflight-bytes", {"migrate", "check", "verify"}},
    {"max-inflight-batches", {"migrate", "check", "verify"}},
    {"progress", {"migrate", "check", "verify"}},
    {"commit-interval", {"migrate", "check"}},
    {"reject-file", {"migrate", "check", "cleanup"}},
    {"max-rejects", {"migrate", "check"}},
    {"phases", {"migrate", "check"}},
    {"index-connections", {"migrate", "check"}},
    {"stamp-alembic", {"migrate", "check"}},
    {"resync", {"migrate", "check"}},
    {"wait-for-lock", {"migrate", "check"}},
    {"ignore-sessions", {"migrate", "check"}},
    {"connect-retries", {"migrate", "check"}},
    {"retry-max-wait", {"migrate", "check"}},
    {"log-file", {"migrate", "check", "verify"}},
    {"summary-json", {"migrate", "check", "verify"}},
    {"rejects-from", {"verify"}},
    {"json", {"status"}},
    {"verbose", {"migrate", "check"}},
    {"quiet", {"migrate", "check"}},
    {"discard-unfinished-build", {"cleanup"}},
    {"output", {"rejects"}},
};
const std::vector<std::string> kCommands{"migrate", "check", "verify", "rejects", "cleanup", "status"};

// A value each option takes; none for a flag.
std::vector<std::string> option_args(const std::string& option) {
    static const std::map<std::string, std::string> values{{"db", some_db},
                                                           {"schema", "s"},
                                                           {"parse-threads", "2"},
                                                           {"fetch-rows", "10"},
                                                           {"batch-rows", "10"},
                                                           {"batch-bytes", "1MB"},
                                                           {"max-inflight-bytes", "8MB"},
                                                           {"max-inflight-batches", "4"},
                                                           {"progress", "log"},
                                                           {"commit-interval", "2s"},
                                                           {"reject-file", "r.jsonl"},
                                                           {"max-rejects", "3"},
                                                           {"phases", "schema,backfill,publish"},
                                                           {"index-connections", "2"},
                                                           {"wait-for-lock", "1s"},
                                                           {"connect-retries", "1"},
                                                           {"retry-max-wait", "1s"},
                                                           {"output", "o.jsonl"},
                                                           {"log-file", "sluice.log"},
                                                           {"summary-json", "summary.json"},
                                                           {"rejects-from", "r.jsonl"}};
    const auto value = values.find(option);
    std::vector<std::string> args{"--" + option};
    if (value != values.end()) args.push_back(value->second);
    return args;
}

bool applies(const std::string& option, const std::string& command) {
    const std::vector<std::string>& commands = kOptionCommands.at(option);
    return std::find(commands.begin(), commands.end(), command) != commands.end();
}

std::string variable_of(const std::string& option) {
    std::string variable = "SLUICE_" + option;
    std::transform(variable.begin(), variable.end(), variable.begin(),
                   [](char c) { return c == '-' ? '_' : static_cast<char>(std::toupper(c)); });
    return variable;
}

Command command_of(const std::string& word) {
    for (Command c :
         {Command::migrate, Command::check, Command::verify, Command::rejects, Command::cleanup, Command::status})
        if (word == command_name(c)) return c;
    FAIL("no command " << word);
    return Command::help;
}

}  // namespace

TEST_CASE("--log-file and --summary-json take a file; -v and -q are --verbose and --quiet, never together") {
    const RunConfig plain = parse_with({"migrate", "--db", some_db});
    CHECK_MESSAGE(plain.log_file.empty(), "a log file by default: " << plain.log_file);
    CHECK_MESSAGE(plain.summary_json.empty(), "a summary file by default: " << plain.summary_json);
    CHECK_MESSAGE((!plain.verbose && !plain.quiet), "verbose or quiet by default");
    const RunConfig files =
        parse_with({"migrate", "--db", some_db, "--log-file", "run.log", "--summary-json", "s.json"});
    CHECK_MESSAGE(files.log_file == "run.log", "--log-file: " << files.log_file);
    CHECK_MESSAGE(files.summary_json == "s.json", "--summary-json: " << files.summary_json);
    CHECK_MESSAGE(parse_with({"migrate", "--db", some_db, "-v"}).verbose, "-v");
    CHECK_MESSAGE(parse_with({"migrate", "-q", "--db", some_db}).quiet, "-q before --db");
    CHECK_MESSAGE(parse_with({"migrate", "--db", some_db, "--verbose"}).verbose, "--verbose");
    CHECK_MESSAGE(parse_with({"migrate", "--db", some_db}, {{"SLUICE_QUIET", "yes"}}).quiet, "SLUICE_QUIET");
    CHECK_MESSAGE(parse_with({"migrate", "--db", some_db}, {{"SLUICE_LOG_FILE", "x.log"}}).log_file == "x.log",
                  "SLUICE_LOG_FILE");
    const std::string both = refusal({"migrate", "--db", some_db, "-v", "-q"});
    CHECK_MESSAGE(contains(both, "--verbose and --quiet"), "both at once: " << both);
    CHECK_MESSAGE(contains(refusal({"migrate", "--db", some_db, "--log-file", ""}), "--log-file"),
                  "an empty --log-file was accepted");
    CHECK_MESSAGE(contains(refusal({"verify", "--db", some_db, "-v"}), "--verbose does not apply to verify"),
                  "-v on verify: " << refusal({"verify", "--db", some_db, "-v"}));
    const std::string help = help_text(Command::migrate);
    CHECK_MESSAGE(contains(help, "  -v, --verbose"), "the help does not show -v");
    CHECK_MESSAGE(contains(help, "  -q, --quiet"), "the help does not show -q");
}

TEST_CASE("a --summary-json that cannot be written is refused before the run, as a reject file is") {
    const RunConfig c = parse_with({"migrate", "--db", some_db, "--summary-json", "/nonexistent-dir/s.json"});
    try {
        check_output_files(c);
        FAIL("a summary file in a missing directory was accepted");
    } catch (const UsageError& e) {
        CHECK_MESSAGE(contains(e.what(), "--summary-json"), e.what());
    }
}

TEST_CASE("check is a command, and takes every option migrate takes") {
    const RunConfig c = parse_with({"check", "--db", some_db, "--stamp-alembic", "--wait-for-lock", "1min",
                                    "--ignore-sessions", "--phases", "backfill,publish"});
    CHECK_MESSAGE(c.command == Command::check, "check was not read as a command");
    CHECK_MESSAGE(c.stamp_alembic, "--stamp-alembic");
    CHECK_MESSAGE(c.wait_for_lock == 60s, "--wait-for-lock");
    CHECK_MESSAGE(c.ignore_sessions, "--ignore-sessions");
    CHECK_MESSAGE(!parse_with({"check", "--db", some_db}).ignore_sessions, "--ignore-sessions is off by default");
    CHECK_MESSAGE(parse_with({"migrate", "--db", some_db}, {{"SLUICE_IGNORE_SESSIONS", "yes"}}).ignore_sessions,
                  "SLUICE_IGNORE_SESSIONS");
}

TEST_CASE("on the command line each command takes its own options") {
    for (const auto& [option, commands] : kOptionCommands)
        for (const std::string& command : commands) {
            std::vector<std::string> args{command, "--db", some_db};
            if (option != "db")
                for (const std::string& arg : option_args(option))
                    args.push_back(arg);
            CHECK_MESSAGE(refusal(args) == "(accepted)", command << " --" << option << ": " << refusal(args));
        }
}

TEST_CASE("an option of another command on the command line is refused in one line naming it and the command") {
    for (const auto& [option, commands] : kOptionCommands)
        for (const std::string& command : kCommands) {
            if (applies(option, command)) continue;
            std::vector<std::string> args{command, "--db", some_db};
            for (const std::string& arg : option_args(option))
                args.push_back(arg);
            const std::string error = refusal(args);
            CHECK_MESSAGE(contains(error, "--" + option + " does not apply to " + command),
                          command << " --" << option << ": " << error);
            CHECK_MESSAGE(contains(error, "sluice " + command + " --help"), "no pointer to the help: " << error);
            CHECK_MESSAGE(!contains(error, "\n"), "not one line: " << error);
        }
    const std::string error = refusal({"verify", "--db", some_db, "--resync"});
    CHECK_MESSAGE(contains(error, "an option of migrate and check"), "does not say where it applies: " << error);
}

TEST_CASE("an option of another command in a config file or the environment is ignored: neither applied nor checked") {
    TempDir dir;
    const std::string file = dir.write("shared.conf", "db = " + some_db +
                                                          "\nresync = 1\noutput = o.jsonl\nreject-file = r.jsonl\n"
                                                          "batch-rows = 7\nmax-rejects = junk\n");
    const RunConfig verify = parse_with({"verify", "--config", file});
    CHECK_MESSAGE(verify.batch_rows == 7, "an option verify takes was not applied from the file");
    CHECK_MESSAGE(!verify.resync, "a migrate option from the file was applied to verify");
    CHECK_MESSAGE(verify.output.empty(), "a rejects option from the file was applied to verify");
    CHECK_MESSAGE(verify.reject_file.empty(), "--reject-file from the file applied to verify");
    const RunConfig rejects = parse_with({"rejects", "--config", file});
    CHECK_MESSAGE(rejects.output == "o.jsonl", "rejects did not take --output from the file");
    CHECK_MESSAGE(contains(refusal({"migrate", "--config", file}), "--max-rejects"),
                  "migrate must still check its own options from the file");

    const Variables env{{"SLUICE_DB", some_db},
                        {"SLUICE_OUTPUT", "o.jsonl"},
                        {"SLUICE_STAMP_ALEMBIC", "1"},
                        {"SLUICE_PHASES", "schema"},
                        {"SLUICE_WAIT_FOR_LOCK", "forever"}};
    for (const std::string command : {"verify", "rejects", "cleanup"})
        CHECK_MESSAGE(refusal({command}, env) == "(accepted)", command << ": " << refusal({command}, env));
    CHECK_MESSAGE(parse_with({"migrate"}, {{"SLUICE_DB", some_db}, {"SLUICE_OUTPUT", "o"}}).output.empty(),
                  "SLUICE_OUTPUT was applied to migrate");
    CHECK_MESSAGE(contains(refusal({"migrate"}, env), "--wait-for-lock"),
                  "migrate must still check its own options from the environment");
}

// ---- help -----------------------------------------------------------------------------------

namespace {

const std::vector<Command> kHelpTopics{Command::help,    Command::migrate, Command::check, Command::verify,
                                       Command::rejects, Command::cleanup, Command::status};

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

// The statuses of the "Exit status:" section: the numbers that start its lines.
std::vector<int> exit_statuses_in(const std::string& help) {
    std::vector<int> statuses;
    const std::vector<std::string> lines = lines_of(help.substr(help.find("Exit status:")));
    for (const std::string& line : lines)
        if (line.size() > 2 && line.rfind("  ", 0) == 0 && std::isdigit(static_cast<unsigned char>(line[2])))
            statuses.push_back(std::stoi(line.substr(2)));
    return statuses;
}

}  // namespace

TEST_CASE("every line of the general help and of each command's help fits 80 columns") {
    for (Command topic : kHelpTopics)
        for (const std::string& line : lines_of(help_text(topic)))
            CHECK_MESSAGE(line.size() <= 80, command_name(topic) << " help, " << line.size() << " columns: " << line);
}

TEST_CASE("the general help lists the commands, the options every command takes, and where the others are") {
    const std::string help = help_text();
    for (const std::string word : {"Usage: sluice", "migrate", "check", "verify", "rejects", "cleanup",
                                   "sluice COMMAND --help", "sluice help COMMAND", "--version", "--db URL",
                                   "--schema NAME", "--config FILE", "DATABASE_URL", "DATABASE_SCHEMA", "SLUICE_DB"})
        CHECK_MESSAGE(contains(help, word), "missing: " << word);
    CHECK_MESSAGE(help == help_text(Command::help), "help_text() is not the general help");
}

TEST_CASE("each command's help lists the options that apply to it, with default and variable, and no other") {
    for (const std::string& command : kCommands) {
        const std::string help = help_text(command_of(command));
        CHECK_MESSAGE(help.rfind("Usage: sluice " + command + " [options]", 0) == 0, help.substr(0, 60));
        for (const auto& [option, commands] : kOptionCommands) {
            // "  --name ARG", "  --name" alone, or after its letter: "  -v, --verbose".
            const bool listed = contains(help, "  --" + option + " ") || contains(help, "  --" + option + "\n") ||
                                contains(help, ", --" + option + " ") || contains(help, ", --" + option + "\n");
            CHECK_MESSAGE(listed == applies(option, command),
                          command << " help " << (listed ? "lists" : "lacks") << " --" << option);
            CHECK_MESSAGE(contains(help, variable_of(option)) == applies(option, command),
                          command << " help and " << variable_of(option));
        }
        const bool config_listed = contains(help, "--config FILE") && contains(help, "SLUICE_CONFIG");
        CHECK_MESSAGE(config_listed, command << ": --config");
        CHECK_MESSAGE(contains(help, "default: "), command << " help shows no defaults");
    }
}

TEST_CASE("each help lists the exit statuses its command can end with") {
    const std::map<Command, std::vector<int>> expected{{Command::help, {0, 1, 2, 3, 4, 5, 6, 75, 130, 143}},
                                                       {Command::migrate, {0, 1, 2, 3, 4, 5, 75, 130, 143}},
                                                       {Command::check, {0, 1, 2, 3, 4, 130, 143}},
                                                       {Command::verify, {0, 1, 2, 3, 6, 75, 130, 143}},
                                                       {Command::rejects, {0, 1, 2, 3, 130, 143}},
                                                       {Command::cleanup, {0, 1, 2, 3, 4, 75, 130, 143}},
                                                       {Command::status, {0, 1, 2, 3, 130, 143}}};
    for (const auto& [topic, statuses] : expected) {
        const std::vector<int> listed = exit_statuses_in(help_text(topic));
        CHECK_MESSAGE(listed == statuses, command_name(topic) << " help lists another set of exit statuses");
    }
    CHECK_MESSAGE(kExitLockHeld == 75, "the lock's status is sysexits' EX_TEMPFAIL");
    const std::string help = help_text();
    for (const std::string word : {"SIGINT", "SIGTERM", "holds the lock", "bad usage"})
        CHECK_MESSAGE(contains(help, word), "the exit statuses do not say: " << word);
    CHECK_MESSAGE(contains(help_text(Command::check), "not ready: a check failed"), "check's status 1");
}

TEST_CASE("the defaults follow the cores the process may run on, not the machine's") {
    cpu_set_t before, one;
    REQUIRE(sched_getaffinity(0, sizeof before, &before) == 0);
    CPU_ZERO(&one);
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (CPU_ISSET(cpu, &before)) {
            CPU_SET(cpu, &one);
            break;
        }
    }
    REQUIRE(sched_setaffinity(0, sizeof one, &one) == 0);  // as `taskset -c N` would
    const unsigned cores = usable_cores();
    const RunConfig c = parse_with({"migrate", "--db", some_db});
    sched_setaffinity(0, sizeof before, &before);
    CHECK_MESSAGE(cores == 1, "one allowed CPU counted as " << cores);
    CHECK_MESSAGE(c.lanes == 1, "one allowed CPU, yet " << c.lanes << " lanes");
    CHECK_MESSAGE(c.parse_threads == 1, "one allowed CPU, yet " << c.parse_threads << " parse threads");
}

TEST_CASE("--revision names the job: the first job's by default, the second's when asked, nothing else") {
    CHECK(parse_with({"migrate", "--db", some_db}).revision == "8452d01d26d7");
    CHECK(parse_with({"verify", "--db", some_db}).revision == "8452d01d26d7");
    for (const char* command : {"migrate", "check", "verify", "rejects", "cleanup"})
        CHECK_MESSAGE(parse_with({command, "--db", some_db, "--revision", "9a1b2c3d4e5f"}).revision == "9a1b2c3d4e5f",
                      command);
    CHECK(parse_with({"migrate", "--db", some_db}, {{"SLUICE_REVISION", "9a1b2c3d4e5f"}}).revision == "9a1b2c3d4e5f");
    const std::string error = refusal({"migrate", "--db", some_db, "--revision", "856c5b02fb54"});
    CHECK_MESSAGE(contains(error, "--revision"), "got: " << error);
    CHECK_MESSAGE(contains(error, "unknown revision '856c5b02fb54'"), "got: " << error);
    CHECK_MESSAGE(contains(error, "8452d01d26d7 (chat_message, the default) or 9a1b2c3d4e5f (chat.current_message_id)"),
                  "the jobs are not listed: " << error);
    CHECK_MESSAGE(contains(refusal({"status", "--db", some_db, "--revision", "9a1b2c3d4e5f"}), "--revision"),
                  "status runs no job: the option does not apply");
}

TEST_CASE("the second job runs schema, backfill and publish, and refuses the first job's indexes and constraints") {
    const std::vector<Phase> its_own{Phase::schema, Phase::backfill, Phase::publish};
    CHECK_MESSAGE(parse_with({"migrate", "--db", some_db, "--revision", "9a1b2c3d4e5f"}).phases == its_own,
                  "the second job's default phases are schema, backfill and publish");
    CHECK_MESSAGE(
        parse_with({"migrate", "--db", some_db, "--revision", "9a1b2c3d4e5f", "--phases", "backfill"}).phases ==
            std::vector<Phase>{Phase::backfill},
        "--phases is taken as given when it names the job's phases");
    CHECK_MESSAGE(parse_with({"migrate", "--db", some_db}).phases.size() == 5, "the first job keeps its five phases");
    for (const char* phases : {"schema,indexes", "constraints"}) {
        const std::string error =
            refusal({"migrate", "--db", some_db, "--revision", "9a1b2c3d4e5f", "--phases", phases});
        CHECK_MESSAGE(contains(error, "its phases are schema, backfill and publish"), phases << ": " << error);
    }
    CHECK_MESSAGE(refusal({"migrate", "--db", some_db, "--revision", "9a1b2c3d4e5f", "--stamp-alembic", "--phases",
                           "backfill"}) != "",
                  "--stamp-alembic still needs publish among the phases");
}
