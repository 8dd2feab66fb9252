// sluice rejects and sluice cleanup.
#include "stages/commands/housekeeping.h"

#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/log.h"
#include "engine/run_lock.h"
#include "engine/words.h"
#include "stages/chat_message/checkpoint.h"
#include "stages/chat_message/target.h"
#include "stages/commands/common.h"
#include "stages/commands/preflight.h"
#include "stages/commands/reject_file_name.h"
#include "stages/current_message/value_writer.h"
#include "stages/openwebui.h"

namespace sluice::stages {

namespace {

// The rejects table of the job --revision names.
engine::RejectTable job_reject_table(const config::RunConfig& cfg) {
    return runs_current_message(cfg) ? current_message::reject_table(cfg.schema) : reject_table(cfg.schema);
}

// "sluice migrate", with the job's --revision when it is not the default one.
std::string job_migrate(const config::RunConfig& cfg) {
    return runs_current_message(cfg) ? "sluice migrate --revision " + cfg.revision : "sluice migrate";
}

}  // namespace

int export_rejects_command(const config::RunConfig& cfg) {
    engine::Connection conn(cfg.db_url, "rejects");
    const engine::RejectTable rejects = job_reject_table(cfg);
    if (!rejects.exists(conn)) {
        throw std::runtime_error("there is no table " + rejects.qualified_name() + ": " + job_migrate(cfg) +
                                 " has not run its backfill on this schema (or cleanup dropped it)");
    }
    std::uint64_t lines = rejects.export_to(conn, cfg.output);
    if (!cfg.output.empty()) std::cerr << "sluice rejects: " << lines << " rejects written to " << cfg.output << "\n";
    return 0;
}

namespace {

// A build table that was never published holds the backfill so far (hours on a large instance):
// dropped only when asked for by name. What the refusal says, or "" when cleanup may go on.
std::string unfinished_build(engine::Connection& conn, const config::RunConfig& cfg) {
    if (cfg.discard_unfinished_build || !relation_exists(conn, cfg.schema, kBuildTable)) return {};
    const std::optional<Checkpoint> cp = load_checkpoint(conn, cfg.schema);
    const std::string progress =
        cp && cp->describes(kBuildTable)
            ? " (its backfill: " + std::to_string(cp->ranges_complete) + " of " + engine::plural(cp->ranges, "range") +
                  " complete, " + std::to_string(cp->messages + cp->present) + " messages)"
            : "";
    return "not dropping anything: " + engine::qualified(cfg.schema, kBuildTable) +
           " is a migration that was never published" + progress +
           "; run sluice migrate to finish and publish it, or pass --discard-unfinished-build to drop it with "
           "sluice's other tables (the backfill it holds is lost: a later migrate starts over)";
}

}  // namespace

int cleanup(const config::RunConfig& cfg) {
    engine::RunLock lock(cfg.db_url, lock_key(cfg.schema));
    refuse_behind_pooler(cfg);  // before the lock is taken: it would stay behind in the pool
    if (std::optional<engine::LockHolder> holder = lock.try_acquire()) {
        throw LockHeldError("a sluice migrate is running on schema " + engine::quote_ident(cfg.schema) +
                            " (the lock is held by " + holder->describe() +
                            "): cleanup does not wait; run it again once that migrate has ended");
    }
    engine::Connection conn(cfg.db_url, "cleanup");
    if (std::string refused = unfinished_build(conn, cfg); !refused.empty()) {
        engine::log::error(refused);
        return config::kExitNotReady;
    }
    std::cout << "sluice cleanup: schema " << engine::quote_ident(cfg.schema) << "\n";
    const engine::RejectTable rejects = reject_table(cfg.schema);
    if (std::uint64_t n = rejects.count(conn); n > 0) {
        const std::string file = reject_file_for(conn, cfg);
        rejects.export_to(conn, file);  // the record goes to a file before its table goes
        std::cout << "  exported " << n << " rejects to " << file << "\n";
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
