// Indexes, constraint and publish phases, with the exact names upstream creates.
#include "stages/chat_message/phases.h"

#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "engine/log.h"
#include "engine/progress.h"
#include "engine/run_fence.h"
#include "engine/words.h"
#include "stages/chat_message/checkpoint.h"
#include "stages/chat_message/duplicate_ids.h"
#include "stages/chat_message/index_progress.h"
#include "stages/chat_message/unindexable_rows.h"
#include "stages/openwebui.h"
#include "stages/shared/catalog.h"

namespace sluice::stages {

namespace {

using openwebui::IndexSpec;
using openwebui::kAlembicVersion;
using openwebui::kForeignKey;
using openwebui::kIndexes;
using openwebui::kPrimaryKey;
using openwebui::kRevisionAfter;
using openwebui::kRevisionBefore;

enum class IndexState { missing, placeholder, invalid, valid };

// What the index's name stands for now. A relation of that name that is neither an index of the
// target nor sluice's placeholder is the operator's: say so rather than touch it.
IndexState index_state(engine::Connection& conn, const Target& t, const char* name) {
    engine::Result r = conn.exec(
        "SELECT c.relkind, i.indrelid = to_regclass($2), i.indisvalid,"
        " c.relkind = 'v' AND obj_description(c.oid, 'pg_class') LIKE 'sluice: %'"
        " FROM pg_class c LEFT JOIN pg_index i ON i.indexrelid = c.oid WHERE c.oid = to_regclass($1)",
        {engine::qualified(t.schema, name), t.qualified()});
    if (PQntuples(r.get()) == 0) return IndexState::missing;
    auto yes = [&](int column) { return PQgetvalue(r.get(), 0, column)[0] == 't'; };
    if (yes(3) && t.build()) return IndexState::placeholder;
    if (PQgetvalue(r.get(), 0, 0)[0] == 'i' && yes(1)) return yes(2) ? IndexState::valid : IndexState::invalid;
    throw std::runtime_error("a relation named " + engine::qualified(t.schema, name) +
                             " exists and is not an index of " + t.qualified() + ": rename it, then run sluice again");
}

void build_index(engine::Connection& conn, const Target& t, const IndexSpec& ix, IndexState state) {
    const std::string name = engine::qualified(t.schema, ix.name);
    const std::string create =
        "CREATE INDEX " + engine::quote_ident(ix.name) + " ON " + t.qualified() + " (" + ix.columns + ")";
    // An INVALID index is what a killed CREATE INDEX CONCURRENTLY or a failed build leaves: not built.
    if (state == IndexState::invalid) conn.exec("DROP INDEX " + name);
    if (state != IndexState::placeholder) {
        conn.exec(create);
        return;
    }
    // The name passes from the placeholder to the index in one transaction: never free.
    conn.exec("BEGIN");
    try {
        conn.exec("DROP VIEW " + name);
        conn.exec(create);
        conn.exec("COMMIT");
    } catch (...) {
        PQclear(PQexec(conn.raw(), "ROLLBACK"));
        throw;
    }
}

bool foreign_key_validated(engine::Connection& conn, const Target& t) {
    engine::Result fk = conn.exec(
        "SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2"
        " AND convalidated",
        {t.qualified(), std::string(kForeignKey)});
    return PQntuples(fk.get()) == 1;
}

std::optional<std::string> alembic_revision(engine::Connection& conn, const std::string& schema, bool for_update) {
    std::string table = engine::qualified(schema, kAlembicVersion);
    if (!relation_exists(conn, schema, kAlembicVersion)) {
        throw std::runtime_error("--stamp-alembic: there is no table " + table + "; nothing to stamp");
    }
    engine::Result v = conn.exec("SELECT version_num FROM " + table + (for_update ? " FOR UPDATE" : ""));
    if (PQntuples(v.get()) == 1) return std::string(PQgetvalue(v.get(), 0, 0));
    return std::nullopt;
}

// Inside publish's transaction: moves alembic_version from 374d2f66af06 to 8452d01d26d7 and says
// so in `what`; true when it moved it. Throws, naming what it found, on any other revision.
bool stamp_alembic(engine::Connection& conn, const std::string& schema, std::string& what) {
    std::optional<std::string> found = alembic_revision(conn, schema, true);
    if (found == kRevisionAfter) {
        what += "; alembic_version already holds " + std::string(kRevisionAfter);
        return false;
    }
    if (found != kRevisionBefore) check_alembic_revision(conn, schema);  // throws, naming what it found
    conn.exec("UPDATE " + engine::qualified(schema, kAlembicVersion) + " SET version_num = $1",
              {std::string(kRevisionAfter)});
    what += "; alembic_version moved from " + std::string(kRevisionBefore) + " to " + kRevisionAfter;
    return true;
}

// Inside publish's transaction, once chat_message is the target's name: the ranges that lack rows
// their checkpoint counts (publish then publishes nothing). Only when publish changes something: a
// table already in use loses rows with every chat a user deletes.
std::vector<RowShortfall> short_ranges(engine::Connection& conn, const Target& t, std::size_t& ranges) {
    // Renamed, the build table is locked against every other session; a table completed in place is
    // kept from changing while it is counted.
    if (!t.build()) conn.exec("LOCK TABLE " + t.qualified() + " IN SHARE MODE");
    engine::show_progress("counting the rows of each range of the backfill against its checkpoint");
    return rows_missing(conn, t.schema, kChatMessage, ranges);
}

// After publish's transaction was rolled back: the ranges that lack rows are to be read again
// (rows deleted with their chats since they were counted, once the foreign key cascades, or by
// hand), and the run stops with one line.
[[noreturn]] void refuse_short(engine::Connection& conn, const Target& t, const std::vector<RowShortfall>& short_of,
                               std::size_t ranges) {
    engine::in_transaction(conn, [&] { read_again(conn, t.schema, short_of); });
    const std::size_t more = short_of.size() - 1;
    throw std::runtime_error(
        "not publishing: " + short_of.front().describe(ranges) +
        (more ? " (and " + engine::plural(more, "more range") + (more == 1 ? " lacks" : " lack") + " rows)" : "") +
        ": rows were deleted since (with chats deleted meanwhile, or by hand); nothing was published, and sluice "
        "reads " +
        (more ? "those ranges" : (ranges == 1 ? "every chat" : "that range")) +
        " again: run sluice migrate again, with every phase, which adds what is missing");
}

}  // namespace

std::string build_indexes(const std::string& conninfo, const Target& target, unsigned connections,
                          std::optional<std::uint64_t> max_rejects, const std::atomic<bool>& stop) {
    engine::Connection probe(conninfo, "indexes");
    std::vector<std::pair<const IndexSpec*, IndexState>> todo;
    for (const IndexSpec& ix : kIndexes) {
        IndexState state = index_state(probe, target, ix.name);
        if (state != IndexState::valid) todo.emplace_back(&ix, state);
    }
    if (todo.empty()) return "all 7 indexes already exist";
    // Each index build is one backend's work: several connections build several at once.
    std::atomic<std::size_t> next{0};
    std::mutex mutex;                // guards first_error, and lets one worker at a time move unindexable rows
    std::exception_ptr first_error;  // kept whole: a lost connection (a PgError) is retried by the caller
    std::uint64_t rejected = 0;
    std::atomic<std::size_t> built{0};
    IndexProgress progress(conninfo, todo.size());
    auto worker = [&](unsigned n) {
        try {
            engine::Connection conn(conninfo, "index connection " + std::to_string(n));
            const int pid = PQbackendPID(conn.raw());
            for (std::size_t i; !stop.load() && (i = next++) < todo.size();) {
                const IndexSpec& ix = *todo[i].first;
                engine::log::debug(conn.label() + " (pid " + std::to_string(pid) + "): building " + ix.name + " (" +
                                   ix.columns + ")");
                progress.started(pid, ix.name);
                for (int attempt = 1;; ++attempt) {
                    try {
                        build_index(conn, target, ix,
                                    attempt == 1 ? todo[i].second : index_state(conn, target, ix.name));
                        engine::mark_progress();
                        progress.built(pid);
                        engine::log::debug(conn.label() + ": built " + ix.name);
                        ++built;
                        break;
                    } catch (const engine::PgError& e) {
                        // A value too large for an index entry: those rows become rejects, then build
                        // again (twice more at most: another connection may be moving the same rows).
                        // One connection at a time, and the mover waits out the snapshots that still
                        // see them before it lets go: a build retried after that no longer meets them.
                        if (e.sqlstate() != "54000" || attempt == 3) throw;
                        std::lock_guard<std::mutex> lock(mutex);
                        rejected += reject_unindexable_rows(conn, target, ix.columns, max_rejects);
                    }
                }
            }
        } catch (...) {
            std::lock_guard<std::mutex> lock(mutex);
            if (!first_error) first_error = std::current_exception();
        }
    };
    std::vector<std::thread> threads;
    unsigned n = std::max(1u, std::min<unsigned>(connections, static_cast<unsigned>(todo.size())));
    for (unsigned i = 0; i < n; ++i)
        threads.emplace_back(worker, i + 1);
    for (auto& t : threads)
        t.join();
    if (first_error) std::rethrow_exception(first_error);
    std::string what = "built " + std::to_string(built.load()) + " of the " +
                       engine::plural(todo.size(), "missing index", "missing indexes") + " over " +
                       engine::plural(n, "connection");
    if (built.load() < todo.size()) what += "; stopped before the others (a rerun builds them)";
    if (rejected > 0) {
        what += "; " + engine::plural(rejected, "row") + (rejected == 1 ? " holds" : " held") +
                " values too large for an index entry and " + (rejected == 1 ? "was" : "were") +
                " moved to the rejects";
    }
    return what;
}

std::string ensure_primary_key(engine::Connection& conn, const Target& t, std::optional<std::uint64_t> max_rejects) {
    if (has_primary_key(conn, t)) return {};
    std::uint64_t rejected = 0, duplicates = 0;
    // One statement that reads and sorts the whole table: minutes on a big one, so it is named.
    engine::show_progress("adding the primary key on id to " + t.qualified() + " (one pass over the table)");
    for (int attempt = 1;; ++attempt) {
        try {
            conn.exec("ALTER TABLE " + t.qualified() + " ADD CONSTRAINT " + engine::quote_ident(kPrimaryKey) +
                      " PRIMARY KEY (id)");
            break;
        } catch (const engine::PgError& e) {
            // Two chats' messages with one id (SPEC §4): the chat that sorts first keeps it. Looked
            // for only now: the key refusing is the cheap test. (A deleted duplicate is no obstacle:
            // a unique build leaves rows that are no longer live out of its check.)
            if (e.sqlstate() == "23505" && attempt < 3) {
                if (std::uint64_t moved = reject_duplicate_ids(conn, t, max_rejects); moved > 0) {
                    duplicates += moved;
                    continue;
                }
            }
            if (e.sqlstate() == "23505") {
                throw std::runtime_error(t.qualified() + " holds one message id twice for one chat (" + e.detail() +
                                         "), which sluice's checkpoints should make impossible: please report this; "
                                         "sluice cleanup, then sluice migrate, starts the build over");
            }
            // An id too large for an index entry: that row becomes a reject, then build again.
            if (e.sqlstate() != "54000" || attempt == 3) throw;
            rejected += reject_unindexable_rows(conn, t, "id", max_rejects);
        }
    }
    engine::show_progress("");
    engine::mark_progress();
    std::string what = "added the primary key " + std::string(kPrimaryKey);
    if (rejected > 0)
        what += "; " + std::to_string(rejected) + " rows had ids too large for it and were moved to the rejects";
    if (duplicates > 0) {
        what += "; " + engine::plural(duplicates, "message") +
                " had the id of a message of a chat whose id sorts "
                "first and " +
                (duplicates == 1 ? "was" : "were") + " moved to the rejects";
    }
    return what;
}

std::string ensure_chat_id_index(engine::Connection& conn, const Target& t) {
    const IndexSpec& ix = kIndexes[0];  // ix_chat_message_chat_id
    const IndexState state = index_state(conn, t, ix.name);
    if (state == IndexState::valid) return {};
    engine::show_progress(std::string("building ") + ix.name + " first: --resync looks up each chat's rows by it");
    build_index(conn, t, ix, state);
    engine::mark_progress();
    return std::string("built ") + ix.name + " first (--resync looks up each chat's rows by it)";
}

std::string ensure_foreign_key(engine::Connection& conn, const Target& t) {
    if (foreign_key_validated(conn, t)) return "the foreign key already exists";
    engine::Result fk = conn.exec("SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2",
                                  {t.qualified(), std::string(kForeignKey)});
    if (PQntuples(fk.get()) == 0) {
        // NOT VALID: added at once, without a scan; rows written from here on are checked.
        engine::show_progress("adding " + std::string(kForeignKey) + " NOT VALID");
        conn.exec("ALTER TABLE " + t.qualified() + " ADD CONSTRAINT " + engine::quote_ident(kForeignKey) +
                  " FOREIGN KEY (chat_id) REFERENCES " + engine::qualified(t.schema, openwebui::kChat) +
                  " (id) ON DELETE CASCADE NOT VALID");
    }
    engine::show_progress("deleting the rows whose chat no longer exists");
    // Counted in the checkpoint, so that publish still finds every other row the checkpoint counts.
    std::uint64_t orphans = 0;
    engine::in_transaction(conn, [&] {
        orphans = delete_counted(conn, t.schema, t.table,
                                 "NOT EXISTS (SELECT 1 FROM " + engine::qualified(t.schema, openwebui::kChat) +
                                     " c WHERE c.id = m.chat_id)");
    });
    engine::show_progress("validating " + std::string(kForeignKey) + ": every row's chat, looked up in chat");
    conn.exec("ALTER TABLE " + t.qualified() + " VALIDATE CONSTRAINT " + engine::quote_ident(kForeignKey));
    engine::mark_progress();
    return "added and validated the foreign key; deleted " + engine::plural(orphans, "row") +
           " whose chat no longer exists";
}

std::string unfinished_work(engine::Connection& conn, const Target& t, std::optional<std::uint64_t> max_rejects) {
    if (!has_primary_key(conn, t)) return std::string("the primary key ") + kPrimaryKey + " is missing";
    for (const IndexSpec& ix : kIndexes) {
        IndexState state = index_state(conn, t, ix.name);
        if (state == IndexState::missing || state == IndexState::placeholder)
            return std::string("index ") + ix.name + " is missing";
        if (state == IndexState::invalid)
            return std::string("index ") + ix.name + " is INVALID (a build was interrupted)";
    }
    if (!foreign_key_validated(conn, t)) return "the foreign key is missing or not validated";
    std::optional<Checkpoint> cp = load_checkpoint(conn, t.schema);
    if (!cp || cp->target != t.table) return "the backfill has not run";
    if (!cp->describes(t.table)) {
        return "the backfill's checkpoint describes another table than " + t.qualified() +
               " (was it dropped and created again?)";
    }
    if (!cp->complete) return "the backfill is not complete";
    if (max_rejects && cp->rejected > *max_rejects) {
        return std::to_string(cp->rejected) + " messages were rejected, more than --max-rejects " +
               std::to_string(*max_rejects) + " allows";
    }
    return {};
}

void check_alembic_revision(engine::Connection& conn, const std::string& schema) {
    std::optional<std::string> found = alembic_revision(conn, schema, false);
    if (found == kRevisionBefore || found == kRevisionAfter) return;
    throw std::runtime_error("--stamp-alembic: alembic_version holds " +
                             (found ? "'" + *found + "'" : std::string("no single row")) + ", not " + kRevisionBefore +
                             " (the revision before chat_message); sluice has written nothing: let Open "
                             "WebUI's own migrations bring it there, or run without --stamp-alembic");
}

std::string publish(engine::Connection& conn, const Target& t, bool stamp, std::optional<std::uint64_t> max_rejects) {
    engine::show_progress("checking that every phase is done, then renaming, in one transaction");
    conn.exec("BEGIN");
    try {
        std::string what;
        if (std::string missing = unfinished_work(conn, t, max_rejects); !missing.empty()) {
            throw std::runtime_error("not publishing: " + missing + "; run sluice migrate with every phase");
        }
        engine::hold_fence(conn);
        bool publishes = t.build();  // a rename, or a stamp, shows the table to Open WebUI as migrated
        if (t.build()) {
            // In this transaction chat_message cannot appear unseen: the rename would fail on its name.
            conn.exec("ALTER TABLE " + t.qualified() + " RENAME TO " + engine::quote_ident(kChatMessage));
            retarget_checkpoint(conn, t.schema, kChatMessage);
            what = "renamed " + t.qualified() + " to " + engine::qualified(t.schema, kChatMessage);
        } else {
            what = engine::qualified(t.schema, kChatMessage) + " was completed in place; nothing to rename";
        }
        if (stamp) publishes = stamp_alembic(conn, t.schema, what) || publishes;
        std::size_t ranges = 0;
        const std::vector<RowShortfall> short_of =
            publishes ? short_ranges(conn, t, ranges) : std::vector<RowShortfall>{};
        if (!short_of.empty()) {
            conn.exec("ROLLBACK");
            refuse_short(conn, t, short_of, ranges);
        }
        conn.exec("COMMIT");
        return what;
    } catch (...) {
        if (PQtransactionStatus(conn.raw()) != PQTRANS_IDLE) PQclear(PQexec(conn.raw(), "ROLLBACK"));
        throw;
    }
}

}  // namespace sluice::stages
