// The table the phases work on, and the schema phase that chooses it (SPEC §3).
//
// When chat_message does not exist, sluice builds it under a name of its own (the build table)
// and publishes it as chat_message only when it is complete, so Open WebUI, whose migration
// skips itself once chat_message exists, never sees a partial table. Until the indexes phase
// builds the real index, a placeholder view holds the name ix_chat_message_chat_id: upstream's
// migration, started meanwhile, creates its own chat_message and then fails on that index name,
// so its one transaction rolls back and alembic_version stays where it was. (Its primary key
// would not clash: PostgreSQL renames an implicitly named key that is taken, and the build table
// has no key of its own until its backfill is complete.)
//
// When chat_message exists (upstream's interrupted run, a restore, an earlier publish), sluice
// completes it in place.
#pragma once

#include <optional>
#include <string>

#include "engine/pg.h"
#include "stages/openwebui.h"

namespace sluice::stages {

using openwebui::kChatMessage;
using openwebui::kReservedIndex;
inline constexpr const char* kBuildTable = "sluice_chat_message";

struct Target {
    std::string schema;
    std::string table;  // kChatMessage, or kBuildTable until publish
    bool build() const { return table == kBuildTable; }
    std::string qualified() const { return engine::qualified(schema, table); }
};

// Checks that <schema>.chat exists, then: chat_message exists → it is the target (its shape
// checked; a build table beside it is dropped, with the backfill state that went with it);
// else the build table, created (without its primary key) with the placeholder when absent. Throws
// std::runtime_error with what differs and what to do. `what` gets a sentence for the log.
Target prepare_target(engine::Connection& conn, const std::string& schema, std::string& what);

// The target for the phases after schema. Throws one line when there is none yet (run the
// schema phase), when its shape is not upstream's, or when chat_message appeared beside
// sluice's build table while sluice worked (stop before publishing; a rerun completes it).
Target current_target(engine::Connection& conn, const std::string& schema);

// How the table differs from upstream's chat_message (columns by name and type, the primary key
// on id; the build table gets its key only at the end of the backfill), or that Open WebUI's
// later migrations have changed it, as one line saying what to do; empty when it is upstream's.
std::string shape_problem(engine::Connection& conn, const Target& target);

// Whether the table is upstream's chat_message, or that table as Open WebUI's later migrations
// changed it (their columns added): what an app that has migrated the database itself has.
bool migrated_shape(engine::Connection& conn, const Target& target);

// Whether the table has its primary key (openwebui::kPrimaryKey).
bool has_primary_key(engine::Connection& conn, const Target& target);

// Drops sluice's build table and its placeholder view, if they are there, inside the caller's
// transaction; says what it dropped.
std::string drop_build_table(engine::Connection& conn, const std::string& schema);

}  // namespace sluice::stages
