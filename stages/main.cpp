// sluice's entry point: configuration in, one command run, every failure turned into one line
// on stderr and an exit status (0 success, 1 failure, 2 bad usage or configuration, 75 another
// sluice migrate holds the lock, 130 or 143 interrupted by SIGINT or SIGTERM; config::help_text
// lists them per command).
#include <malloc.h>

#include <iostream>

#include "config/run_config.h"
#include "engine/pg.h"
#include "engine/stop_signals.h"
#include "stages/check.h"
#include "stages/housekeeping.h"
#include "stages/migrate.h"
#include "stages/verify.h"

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
    if (sqlstate == "08001" || sqlstate == "08006") return "is the server running, and are host and port right?";
    if (sqlstate == "42501") return "the user needs to own chat_message or have CREATE on the schema";
    if (sqlstate == "53100") return "the server's disk is full: free space, then run again to resume";
    return nullptr;
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
    } catch (const config::UsageError& e) {
        std::cerr << "sluice: " << e.what() << "\n";
        return 2;
    }
    try {
        config::check_output_files(cfg);  // a reject file or --output that cannot be written: refused before any write
    } catch (const config::UsageError& e) {
        std::cerr << "sluice: " << e.what() << "\n";
        return 2;
    }
    switch (cfg.command) {
        case config::Command::help: std::cout << config::help_text(cfg.help_topic); return 0;
        case config::Command::version: std::cout << config::version_text() << "\n"; return 0;
        default: break;
    }
    engine::StopOnSignals signals;
    try {
        int status = 0;
        switch (cfg.command) {
            case config::Command::migrate: status = stages::migrate(cfg, signals.stop()); break;
            case config::Command::check: status = stages::check(cfg); break;
            case config::Command::verify: status = stages::verify(cfg, signals.stop()); break;
            case config::Command::rejects: status = stages::export_rejects_command(cfg); break;
            case config::Command::cleanup: status = stages::cleanup(cfg); break;
            default: break;
        }
        return status == stages::kExitInterrupted ? engine::StopOnSignals::interrupted_status() : status;
    } catch (const engine::PgError& e) {
        if (signals.stop().load() && e.sqlstate() == "57014") {  // the stop request cancelled it
            std::cerr << "sluice: interrupted: " << e.what() << "; run the same command again\n";
            return engine::StopOnSignals::interrupted_status();
        }
        // Settings libpq refuses before reaching a server (sslmode=bogus, port=54x3) are configuration.
        if (e.sqlstate() == engine::kBadConnectionSettings) {
            const std::string& why = e.message();  // "cannot connect: [connection to server ... failed: ]reason"
            const std::size_t failed = why.find(" failed: ");
            std::cerr << "sluice: bad connection settings: "
                      << (failed == std::string::npos ? why.substr(why.find(": ") + 2) : why.substr(failed + 9))
                      << " (in --db, DATABASE_URL or libpq's PG* variables)\n";
            return 2;
        }
        std::cerr << "sluice: " << e.what();
        if (const char* h = hint(e)) std::cerr << " (" << h << ")";
        std::cerr << "\n";
    } catch (const stages::LockHeldError& e) {
        std::cerr << "sluice: " << e.what() << "\n";
        return config::kExitLockHeld;
    } catch (const std::exception& e) {
        std::cerr << "sluice: " << e.what() << "\n";
    }
    return 1;
}
