// sluice rejects and sluice cleanup.
#include "stages/housekeeping.h"

#include <iostream>
#include <stdexcept>

#include "engine/run_lock.h"
#include "stages/check.h"
#include "stages/checkpoint.h"
#include "stages/migrate.h"
#include "stages/target.h"

namespace sluice::stages {

int export_rejects_command(const config::RunConfig& cfg) {
    engine::Connection conn(cfg.db_url, "rejects");
    const engine::RejectTable rejects = reject_table(cfg.schema);
    if (!rejects.exists(conn)) {
        throw std::runtime_error("there is no table " + rejects.qualified_name() +
                                 ": sluice migrate has not run its backfill on this schema (or cleanup dropped it)");
    }
    std::uint64_t lines = rejects.export_to(conn, cfg.output);
    if (!cfg.output.empty()) std::cerr << "sluice rejects: " << lines << " rejects written to " << cfg.output << "\n";
    return 0;
}

int cleanup(const config::RunConfig& cfg) {
    engine::RunLock lock(cfg.db_url, lock_key(cfg.schema));
    refuse_behind_pooler(cfg);  // before the lock is taken: it would stay behind in the pool
    if (std::optional<engine::LockHolder> holder = lock.try_acquire()) {
        throw LockHeldError("a sluice migrate is running on schema " + engine::quote_ident(cfg.schema) +
                                 " (the lock is held by " + holder->describe() + "): cleanup waits for it to end");
    }
    engine::Connection conn(cfg.db_url, "cleanup");
    std::cout << "sluice cleanup: schema " << engine::quote_ident(cfg.schema) << "\n";
    const engine::RejectTable rejects = reject_table(cfg.schema);
    bool any = false;
    if (std::uint64_t n = rejects.count(conn); n > 0) {
        rejects.export_to(conn, cfg.reject_file);  // the record goes to a file before its table goes
        std::cout << "  exported " << n << " rejects to " << cfg.reject_file << "\n";
    }
    if (relation_exists(conn, cfg.schema, kBuildTable)) {
        std::cout << "  note: " << engine::qualified(cfg.schema, kBuildTable)
                  << " was never published (the migration did not finish); a later migrate starts over\n";
    }
    if (std::string dropped = drop_build_table(conn, cfg.schema); !dropped.empty()) {
        std::cout << "  dropped " << dropped << "\n";
        any = true;
    }
    for (const char* table : {"sluice_reject", "sluice_checkpoint"}) {
        if (!relation_exists(conn, cfg.schema, table)) continue;
        conn.exec("DROP TABLE " + engine::qualified(cfg.schema, table));
        std::cout << "  dropped " << engine::qualified(cfg.schema, table) << "\n";
        any = true;
    }
    std::cout << "sluice cleanup: " << (any ? "done" : "nothing of sluice's was there") << "\n";
    return 0;
}

}  // namespace sluice::stages
