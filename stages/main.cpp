// sluice's entry point: configuration in, one command run, every failure turned into one line
// on stderr and an exit status (0 success, 1 failure, 2 bad usage, 130 interrupted).
#include <malloc.h>

#include <atomic>
#include <csignal>
#include <iostream>

#include "config/run_config.h"
#include "engine/pg.h"
#include "stages/housekeeping.h"
#include "stages/migrate.h"
#include "stages/verify.h"

namespace {

std::atomic<bool> g_stop{false};

extern "C" void request_stop(int) { g_stop.store(true); }

// What to do about a PostgreSQL error, when its SQLSTATE says more than its message.
const char* hint(const std::string& sqlstate) {
    if (sqlstate == "28P01" || sqlstate == "28000") return "check the user and password in --db or DATABASE_URL";
    if (sqlstate == "3D000") return "check the database name in --db or DATABASE_URL";
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
    switch (cfg.command) {
        case config::Command::help: std::cout << config::help_text(); return 0;
        case config::Command::version: std::cout << config::version_text() << "\n"; return 0;
        default: break;
    }
    std::signal(SIGINT, request_stop);
    std::signal(SIGTERM, request_stop);
    try {
        switch (cfg.command) {
            case config::Command::migrate: return stages::migrate(cfg, g_stop);
            case config::Command::rejects: return stages::export_rejects_command(cfg);
            case config::Command::cleanup: return stages::cleanup(cfg);
            default: return stages::verify(cfg, g_stop);
        }
    } catch (const engine::PgError& e) {
        std::cerr << "sluice: " << e.what();
        if (const char* h = hint(e.sqlstate())) std::cerr << " (" << h << ")";
        std::cerr << "\n";
    } catch (const std::exception& e) {
        std::cerr << "sluice: " << e.what() << "\n";
    }
    return 1;
}
