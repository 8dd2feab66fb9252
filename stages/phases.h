// The phases around the backfill (SPEC §3): the table, the seven indexes, the foreign key.
// Each is idempotent and says what it found: a second run finds the work done and says so.
#pragma once

#include <string>

#include "engine/pg.h"

namespace sluice::stages {

// Checks that <schema>.chat exists, then creates chat_message with its primary key only, or
// checks that an existing one has upstream's columns and types. Throws std::runtime_error with
// what differs and what to do. Returns a sentence for the log.
std::string ensure_schema(engine::Connection& conn, const std::string& schema);

// Builds the indexes that are missing, `connections` at a time, each on its own connection.
std::string build_indexes(const std::string& conninfo, const std::string& schema, unsigned connections);

// Adds chat_message_chat_id_fkey NOT VALID, deletes rows whose chat is gone, validates.
std::string ensure_foreign_key(engine::Connection& conn, const std::string& schema);

// Moves alembic_version from 374d2f66af06 to 8452d01d26d7, in one transaction with a final
// check that the table, its seven indexes, the validated foreign key and a complete backfill
// are all there, so Open WebUI's next start skips the migration. Refuses, with what it found
// and what to do, anything else.
std::string stamp_alembic(engine::Connection& conn, const std::string& schema);

// Whether <schema>.chat_message exists.
bool chat_message_exists(engine::Connection& conn, const std::string& schema);

}  // namespace sluice::stages
