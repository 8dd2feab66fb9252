// sluice's entry point: configuration in, logging set up, one command run, every failure turned
// into one plain line on stderr (the connection, statement and server detail go to the log file,
// and with -v to stderr too), the --summary-json written, and an exit status (0 success, 1 failure,
// 2 bad usage or configuration, the distinct ones of config/run_config.h, 130 or 143 interrupted
// by SIGINT or SIGTERM; config::help_text lists them per command).
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <iostream>

#include "config/run_config.h"
#include "engine/log.h"
#include "engine/pg.h"
#include "engine/progress.h"
#include "engine/stop_signals.h"
#include "engine/text_wrap.h"
#include "stages/commands/check.h"
#include "stages/commands/common.h"
#include "stages/commands/housekeeping.h"
#include "stages/commands/migrate.h"
#include "stages/commands/preflight.h"
#include "stages/commands/run_summary.h"
#include "stages/commands/status.h"
#include "stages/commands/verify.h"
#include "stages/commands/verify_values.h"
#include "stages/shared/too_many_rejects.h"

namespace {

// What to do about a PostgreSQL error, when its SQLSTATE (or, for a failed connection, libpq's
// words) says more than its message; nothing when no hint is surely the right one.
const char* hint(const sluice::engine::PgError& e) {
    const std::string& sqlstate = e.sqlstate();
    auto says = [&](const char* text) { return e.message().find(text) != std::string::npos; };
    if (says("no password supplied"))
        return "the server wants a password: give it in the URL, in PGPASSWORD or in ~/.pgpass";
    if (sqlstate == "28P01") return "check the user and password in --db, DATABASE_URL, PGPASSWORD or ~/.pgpass";
    if (sqlstate == "28000" && says("pg_hba.conf"))
        return "the server's pg_hba.conf has no line that lets this user connect from here";
    if (sqlstate == "28000") return "check the user and password in --db, DATABASE_URL or PGUSER";
    if (sqlstate == "3D000") return "check the database name in --db, DATABASE_URL or PGDATABASE";
    if (says("could not translate host name")) return "check the host name in --db, DATABASE_URL or PGHOST";
    if (sqlstate == "57P01") return "the server ended the session (an admin or a reaper): run the same command again";
    if (sqlstate == "57P02" || sqlstate == "57P03")
        return "the server is shutting down or starting up: run the same command again once it is up";
    // Lost mid-run, the address was right: only a connection never made is about host and port.
    if (sqlstate == "08006" && e.message().rfind("cannot connect: ", 0) != 0)
        return "the connection to the server was lost: run the same command again to resume";
    if (sqlstate == "08001" || sqlstate == "08006") return "is the server running, and are host and port right?";
    if (sqlstate == "42501") return "the user needs to own chat_message or have CREATE on the schema";
    if (sqlstate == "53300" || says("too many clients") || says("too many connections") ||
        says("remaining connection slots"))
        return "the server's connection limits leave no room: lower --lanes and --index-connections, or raise them";
    if (sqlstate == "53100") return "the server's disk is full: free space, then run again to resume";
    return nullptr;
}

// How a command ended: its exit status, a word for the summary, the line the user was shown, and
// for a failure its class and SQLSTATE (for --summary-json).
struct Ending {
    int status;
    const char* outcome;
    std::string error;
    std::string error_class = {};
    std::string sqlstate = {};
};

// Everything a PostgreSQL error says, for the log file and -v: the connection it came from, the
// statement, SQLSTATE, DETAIL and CONTEXT.
std::string full_detail(const sluice::engine::PgError& e) {
    std::string text = std::string(e.what()) + " (SQLSTATE " + e.sqlstate() + ")";
    if (!e.detail().empty()) text += "; DETAIL: " + e.detail();
    if (!e.context().empty()) text += "; CONTEXT: " + e.context();
    return text;
}

Ending failed(int status, const char* outcome, const std::string& line, const std::string& detail = {},
              const std::string& sqlstate = {}) {
    sluice::engine::log::error(line, detail);
    return {status, outcome, line, outcome, sqlstate};
}

// A failed login, a server not reached, a database that does not exist: libpq's connection
// failures, which engine::Connection reports as "cannot connect: ...".
bool cannot_connect(const sluice::engine::PgError& e) {
    return e.message().rfind("cannot connect: ", 0) == 0;
}

Ending run_command(const sluice::config::RunConfig& cfg, const sluice::engine::StopOnSignals& signals,
                   sluice::stages::RunSummary& summary) {
    using namespace sluice;
    try {
        int status = 0;
        switch (cfg.command) {
            case config::Command::migrate:
                status = stages::migrate(cfg, signals.stop(), summary);
                break;
            case config::Command::check:
                status = stages::check(cfg, summary);
                break;
            case config::Command::verify:
                status = stages::runs_current_message(cfg) ? stages::verify_values(cfg, signals.stop(), summary)
                                                           : stages::verify(cfg, signals.stop(), summary);
                break;
            case config::Command::rejects:
                status = stages::export_rejects_command(cfg);
                break;
            case config::Command::cleanup:
                status = stages::cleanup(cfg);
                break;
            case config::Command::status:
                status = stages::status(cfg);
                break;
            default:
                break;
        }
        if (status == stages::kExitInterrupted) return {engine::StopOnSignals::interrupted_status(), "interrupted", ""};
        if (status == config::kExitNotReady) return {status, "not ready", "", "not ready"};
        if (status == config::kExitDisagrees) return {status, "disagrees", "", "disagrees"};
        return {status, status == 0 ? "done" : "failed", ""};
    } catch (const engine::PgError& e) {
        if (signals.stop().load() && e.sqlstate() == "57014")  // the stop request cancelled it
            return failed(engine::StopOnSignals::interrupted_status(), "interrupted",
                          "interrupted: " + e.message() + "; run the same command again", full_detail(e), e.sqlstate());
        // Settings libpq refuses before reaching a server (sslmode=bogus, port=54x3) are configuration.
        if (e.sqlstate() == engine::kBadConnectionSettings) {
            const std::string& why = e.message();  // "cannot connect: [connection to server ... failed: ]reason"
            const std::size_t at = why.find(" failed: ");
            return failed(2, "refused",
                          "bad connection settings: " +
                              (at == std::string::npos ? why.substr(why.find(": ") + 2) : why.substr(at + 9)) +
                              " (in --db, DATABASE_URL or libpq's PG* variables)",
                          full_detail(e), e.sqlstate());
        }
        const char* h = hint(e);
        const std::string line = e.message() + (h ? std::string(" (") + h + ")" : std::string());
        if (cannot_connect(e))
            return failed(config::kExitCannotConnect, "cannot connect", line, full_detail(e), e.sqlstate());
        return failed(1, "failed", line, full_detail(e), e.sqlstate());
    } catch (const stages::LockHeldError& e) {
        return failed(config::kExitLockHeld, "lock held", e.what());
    } catch (const stages::NotReadyError& e) {
        return failed(config::kExitNotReady, "refused", e.what());
    } catch (const stages::TooManyRejectsError& e) {
        return failed(config::kExitTooManyRejects, "too many rejects", e.what());
    } catch (const std::exception& e) {
        return failed(1, "failed", e.what());
    }
}

sluice::engine::log::Options log_options(const sluice::config::RunConfig& cfg) {
    using namespace sluice;
    engine::log::Options options;
    options.verbosity = cfg.verbose ? engine::log::Verbosity::verbose
                        : cfg.quiet ? engine::log::Verbosity::quiet
                                    : engine::log::Verbosity::normal;
    options.file = cfg.log_file;
    // Log mode (no terminal, or --progress log): every line of migrate's carries its time.
    const bool has_progress = cfg.command == config::Command::migrate || cfg.command == config::Command::verify;
    const bool log_mode = has_progress && stages::progress_style(cfg.progress) == engine::ProgressStyle::log;
    options.stderr_timestamps = log_mode;
    options.stdout_timestamps = log_mode && cfg.command == config::Command::migrate;
    return options;
}

void write_summary(const sluice::config::RunConfig& cfg, sluice::stages::RunSummary& summary, const Ending& ending,
                   double seconds) {
    using namespace sluice;
    if (cfg.summary_json.empty()) return;
    summary.command = config::command_name(cfg.command);
    summary.target = stages::target_of(cfg.db_url);
    summary.schema = cfg.schema;
    if (summary.reject_file.empty()) summary.reject_file = cfg.reject_file;  // migrate names the default one
    summary.seconds = seconds;
    summary.exit_status = ending.status;
    summary.outcome = ending.outcome;
    summary.error = ending.error;
    summary.error_class = ending.error_class;
    summary.sqlstate = ending.sqlstate;
    summary.warnings = engine::log::warnings();
    summary.peak_memory_bytes = engine::peak_rss_bytes();
    try {
        stages::write_summary_json(summary, cfg.summary_json);
    } catch (const std::exception& e) {
        engine::log::warn(std::string("warning: ") + e.what());
    }
}

}  // namespace

int main(int argc, char** argv) {
    using namespace sluice;
    // Batches are allocated on one thread and freed on another; glibc's default of eight
    // arenas per core then keeps freed batch memory in arenas that no longer need it.
    // Two arenas and a fixed mmap threshold keep peak RSS close to the in-flight budget.
    mallopt(M_ARENA_MAX, 2);
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    config::RunConfig cfg;
    try {
        cfg = config::parse(argc, argv, config::process_environment(), config::process_environment_names());
        config::check_output_files(cfg);  // a file that cannot be written: refused before any write
    } catch (const config::UsageError& e) {
        engine::log::error(e.what());
        return 2;
    }
    switch (cfg.command) {
        case config::Command::help:
            std::cout << config::help_text(cfg.help_topic, engine::report_width(STDOUT_FILENO));
            return 0;
        case config::Command::version:
            std::cout << config::version_text() << "\n";
            return 0;
        default:
            break;
    }
    try {
        engine::log::configure(log_options(cfg));
    } catch (const std::runtime_error& e) {
        engine::log::error(e.what());
        return 2;
    }
    const auto started = std::chrono::steady_clock::now();
    stages::RunSummary summary;
    summary.started_at = stages::utc_now();
    engine::StopOnSignals signals;
    const Ending ending = run_command(cfg, signals, summary);
    write_summary(cfg, summary, ending,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return ending.status;
}
