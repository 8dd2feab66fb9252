// The help and version texts: `sluice --help`, `sluice COMMAND --help` and `sluice --version`.
// The options, their defaults and variables come from the option table, so the help cannot drift
// from what parse() accepts.
#include "config/option_table.h"
#include "config/run_config.h"

#include "engine/text_wrap.h"
#include "stages/openwebui.h"

#include <libpq-fe.h>
#include <oneapi/tbb/version.h>
#include <rapidjson/rapidjson.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <sstream>
#include <utility>

namespace sluice::config {

namespace {

constexpr std::size_t kHelpColumn = 29;  // where option descriptions start

// `text` with the second job's revisions in place of {rev2} and {rev2-before}: the help names them
// without a copy of stages/openwebui.h's literals.
std::string with_revisions(std::string text) {
    const std::pair<const char*, const char*> names[] = {
        {"{rev2}", stages::openwebui::kCurrentMessageRevisionAfter},
        {"{rev2-before}", stages::openwebui::kCurrentMessageRevisionBefore}};
    for (const auto& [name, revision] : names)
        for (std::size_t at; (at = text.find(name)) != std::string::npos;)
            text.replace(at, std::strlen(name), revision);
    return text;
}

// `text` filled into lines of at most `width` columns, each after `indent` spaces; the first line
// starts with `head` instead (on a line of its own when it reaches into the text's column). Lines
// break at spaces only: a terminal narrower than the text then has no word to cut.
std::string fill(const std::string& head, const std::string& text, std::size_t indent, std::size_t width) {
    std::istringstream words(with_revisions(text));
    std::string joined;
    for (std::string word; words >> word;)
        joined += (joined.empty() ? "" : " ") + word;
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
     "first; the checks of `sluice check` run before anything is written. With --revision {rev2} it "
     "fills chat.current_message_id instead, on a database at {rev2-before} (phases schema, backfill, publish; "
     "--stamp-alembic moves alembic_version to {rev2})."},
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
     "ids, rejects that are now stale, and a sample compared by meaning. With --revision {rev2}: decides "
     "every chat's current_message_id again and reports the chats whose value differs (any tied newest message "
     "accepted) and rejected chats the rejects do not list. Writes nothing."},
    {Command::rejects, "export the rejected messages as JSON lines",
     "Exports the rejected messages (table sluice_reject; with --revision {rev2} the rejected chats, table "
     "sluice_current_message_reject) as JSON lines, to --output or standard output."},
    {Command::cleanup, "drop sluice's own tables, once verify agrees",
     "Exports the rejects to --reject-file once more, then drops sluice's own tables in one transaction: "
     "sluice_reject, sluice_checkpoint, sluice_run and, with --discard-unfinished-build only, a build table "
     "that was never published (without the flag cleanup refuses it, exit 4, dropping nothing). With --revision "
     "{rev2}: sluice_current_message_reject and sluice_current_message_checkpoint (sluice_run too once the "
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
     "chat_message agrees with chat (--revision {rev2}: every current_message_id with the rule)"},
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
            text +=
                option_help((spec.letter ? std::string("-") + spec.letter + ", " : std::string()) + "--" + spec.name +
                                (*spec.argument ? " " : "") + spec.argument,
                            spec.help, std::string("default: ") + spec.fallback, "env: " + env_name(spec.name), width);
    return text;
}

std::string common_notes(Command topic, std::size_t width) {
    return fill("",
                "Each option can also be set in a --config FILE as `name = value`, or in the environment as "
                "SLUICE_<NAME>; the command line wins over the file, the file over the environment. A file "
                "or a variable that sets an option of another command is ignored; on the command line it is "
                "refused.",
                0, width) +
           fill("",
                "Open WebUI's own DATABASE_URL and DATABASE_SCHEMA stand in for --db and --schema when "
                "nothing else sets them; postgresql+psycopg2:// and the like are accepted, and so are a "
                "value in quotes and an Npgsql-style Host=H;Port=P;Username=U;Password=W;Database=D. So are "
                "Open WebUI's DATABASE_TYPE, DATABASE_USER, DATABASE_PASSWORD, DATABASE_HOST, DATABASE_PORT "
                "and DATABASE_NAME, read as Open WebUI reads them: when the type, host, port, name and a user "
                "or password are all set, they win over DATABASE_URL. With none of them, libpq's own PGHOST, "
                "PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSERVICE and ~/.pgpass apply, as in psql; they also "
                "fill in what a --db string leaves out. Passwords are never printed.",
                0, width) +
           (topic == Command::migrate || topic == Command::check || topic == Command::verify
                ? fill("", "Sizes take binary units (64MB = 64MiB, 512kB); durations take ms, s, min or h.", 0, width)
                : "");
}

std::string general_help(std::size_t width) {
    std::string text =
        engine::wrap("Usage: sluice COMMAND [options]", 7, width) +
        engine::wrap("       sluice COMMAND --help   (or sluice help COMMAND): the options of COMMAND", 7, width) +
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

const char* version_number() {
    return SLUICE_VERSION;
}

std::string version_text() {
    return "sluice " SLUICE_VERSION " (git " SLUICE_GIT_REVISION
           ")\n"
           "libpq " +
           libpq_version() + ", oneTBB " + TBB_runtime_version() + ", RapidJSON " RAPIDJSON_VERSION_STRING;
}

}  // namespace sluice::config
