// sluice rejects and sluice cleanup.
#include "stages/commands/housekeeping.h"

#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/run_lock.h"
#include "stages/chat_message/checkpoint.h"
#include "stages/chat_message/target.h"
#include "stages/commands/common.h"
#include "stages/commands/preflight.h"

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
    if (std::uint64_t n = rejects.count(conn); n > 0) {
        rejects.export_to(conn, cfg.reject_file);  // the record goes to a file before its table goes
        std::cout << "  exported " << n << " rejects to " << cfg.reject_file << "\n";
    }
    const bool unpublished = relation_exists(conn, cfg.schema, kBuildTable);
    // One transaction: interrupted anywhere (Ctrl-C while a DROP waits behind a reader), it drops
    // nothing, and never leaves a checkpoint without the table it describes.
    std::vector<std::string> dropped;
    engine::in_transaction(conn, [&] {
        if (std::string build = drop_build_table(conn, cfg.schema); !build.empty()) dropped.push_back(build);
        for (const char* table : {"sluice_reject", "sluice_checkpoint", kRunTable}) {
            if (!relation_exists(conn, cfg.schema, table)) continue;
            conn.exec("DROP TABLE " + engine::qualified(cfg.schema, table));
            dropped.push_back(engine::qualified(cfg.schema, table));
        }
    });
    if (unpublished) {
        std::cout << "  note: " << engine::qualified(cfg.schema, kBuildTable)
                  << " was never published (the migration did not finish); a later migrate starts over\n";
    }
    for (const std::string& what : dropped)
        std::cout << "  dropped " << what << "\n";
    const bool any = !dropped.empty();
    std::cout << "sluice cleanup: " << (any ? "done" : "nothing of sluice's was there") << "\n";
    return 0;
}

}  // namespace sluice::stages
