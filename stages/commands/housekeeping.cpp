// sluice rejects and sluice cleanup.
#include "stages/commands/housekeeping.h"

#include <functional>
#include <initializer_list>
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
#include "stages/current_message/checkpoint.h"
#include "stages/current_message/value_writer.h"
#include "stages/shared/catalog.h"
#include "stages/shared/run_table.h"

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
    const std::string progress = cp && cp->describes(kBuildTable)
                                     ? " (its backfill: " + std::to_string(cp->ranges_complete) + " of " +
                                           engine::plural(cp->ranges, "range") + " complete, " +
                                           std::to_string(cp->messages + cp->present) + " messages)"
                                     : "";
    return "not dropping anything: " + engine::qualified(cfg.schema, kBuildTable) +
           " is a migration that was never published" + progress +
           "; run sluice migrate to finish and publish it, or pass --discard-unfinished-build to drop it with "
           "sluice's other tables (the backfill it holds is lost: a later migrate starts over)";
}

// The second job's checkpoint with ranges not complete: its state is how a rerun resumes.
std::string unfinished_values(engine::Connection& conn, const config::RunConfig& cfg) {
    if (cfg.discard_unfinished_build) return {};
    const std::optional<current_message::Progress> p = current_message::load_progress(conn, cfg.schema);
    if (!p || p->complete()) return {};
    return "not dropping anything: " + job_migrate(cfg) + " has not finished (" + std::to_string(p->ranges_complete) +
           " of " + engine::plural(p->ranges, "range") +
           " complete); run it again to finish, or pass --discard-unfinished-build to drop its state (the values "
           "it wrote stay; a later migrate reads every chat again)";
}

// Each of `tables` that exists, dropped; its name added to `dropped`.
void drop_tables(engine::Connection& conn, const std::string& schema, std::initializer_list<const char*> tables,
                 std::vector<std::string>& dropped) {
    for (const char* table : tables) {
        if (!relation_exists(conn, schema, table)) continue;
        conn.exec("DROP TABLE " + engine::qualified(schema, table));
        dropped.push_back(engine::qualified(schema, table));
    }
}

// What cleanup does for the job --revision names: its rejects, why it refuses ("" when it may go
// on), what it drops (inside cleanup's transaction), and a note for after.
struct JobCleanup {
    engine::RejectTable rejects;
    std::string refused;
    std::function<void(std::vector<std::string>& dropped)> drop;
    std::string note;
};

JobCleanup chat_message_cleanup(engine::Connection& conn, const config::RunConfig& cfg) {
    const std::string build = engine::qualified(cfg.schema, kBuildTable);
    return {reject_table(cfg.schema), unfinished_build(conn, cfg),
            [&conn, &cfg](std::vector<std::string>& dropped) {
                if (std::string build = drop_build_table(conn, cfg.schema); !build.empty()) dropped.push_back(build);
                drop_tables(conn, cfg.schema, {"sluice_reject", "sluice_checkpoint", kRunTable}, dropped);
            },
            relation_exists(conn, cfg.schema, kBuildTable)
                ? build + " was never published (the migration did not finish); a later migrate starts over"
                : ""};
}

JobCleanup current_message_cleanup(engine::Connection& conn, const config::RunConfig& cfg) {
    return {
        current_message::reject_table(cfg.schema), unfinished_values(conn, cfg),
        [&conn, &cfg](std::vector<std::string>& dropped) {
            drop_tables(conn, cfg.schema, {current_message::kRejectTable, current_message::kCheckpointTable}, dropped);
            // The fence table is both jobs' (one run at a time): it goes with the first job's state.
            if (!relation_exists(conn, cfg.schema, "sluice_checkpoint") &&
                !relation_exists(conn, cfg.schema, kBuildTable))
                drop_tables(conn, cfg.schema, {kRunTable}, dropped);
        },
        ""};
}

}  // namespace

int cleanup(const config::RunConfig& cfg) {
    engine::RunLock lock(cfg.db_url, lock_key(cfg.schema));
    refuse_behind_pooler(cfg, lock);  // before the lock is taken: it would stay behind in the pool
    if (std::optional<engine::LockHolder> holder = lock.try_acquire()) {
        throw LockHeldError("a sluice migrate is running on schema " + engine::quote_ident(cfg.schema) +
                            " (the lock is held by " + holder->describe() +
                            "): cleanup does not wait; run it again once that migrate has ended");
    }
    engine::Connection conn(cfg.db_url, "cleanup");
    const JobCleanup job =
        runs_current_message(cfg) ? current_message_cleanup(conn, cfg) : chat_message_cleanup(conn, cfg);
    if (!job.refused.empty()) {
        engine::log::error(job.refused);
        return config::kExitNotReady;
    }
    std::cout << "sluice cleanup: schema " << engine::quote_ident(cfg.schema) << "\n";
    if (std::uint64_t n = job.rejects.count(conn); n > 0) {
        const std::string file = reject_file_for(conn, cfg);
        job.rejects.export_to(conn, file);  // the record goes to a file before its table goes
        std::cout << "  exported " << n << " rejects to " << file << "\n";
    }
    // One transaction: interrupted anywhere (Ctrl-C while a DROP waits behind a reader), it drops
    // nothing, and never leaves a checkpoint without the table it describes.
    std::vector<std::string> dropped;
    engine::in_transaction(conn, [&] { job.drop(dropped); });
    if (!job.note.empty()) std::cout << "  note: " << job.note << "\n";
    for (const std::string& what : dropped)
        std::cout << "  dropped " << what << "\n";
    const bool any = !dropped.empty();
    std::cout << "sluice cleanup: " << (any ? "done" : "nothing of sluice's was there") << "\n";
    return 0;
}

}  // namespace sluice::stages
