// The phases around the backfill (SPEC §3): the seven indexes, the foreign key, and the publish
// that renames the build table to chat_message. Each is idempotent and says what it found: a
// second run finds the work done and says so. (The schema phase is in stages/chat_message/target.h.)
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "engine/pg.h"
#include "stages/chat_message/target.h"

namespace sluice::stages {

// Builds the indexes that are missing or INVALID, `connections` at a time, each on its own
// connection, with upstream's names. The placeholder view gives its name up in the transaction
// that builds the real index. Rows whose values are too large for an index entry (SQLSTATE
// 54000) are moved to the rejects, within --max-rejects, and the index built again.
// A stop request keeps workers from starting another index (the one running is cancelled).
std::string build_indexes(const std::string& conninfo, const Target& target, unsigned connections,
                          std::optional<std::uint64_t> max_rejects, const std::atomic<bool>& stop);

// Adds chat_message_pkey to a target that lacks it: the build table, loaded without it, when its
// backfill is complete. Rows whose id is too large for an index entry, and the messages whose id a
// chat that sorts first also gives (stages/chat_message/duplicate_ids.h), are moved to the rejects, within
// --max-rejects, and the key built again; one chat's message twice cannot arise (each range's
// rows commit with its checkpoint) and fails loudly. Empty when the key was there.
std::string ensure_primary_key(engine::Connection& conn, const Target& target,
                               std::optional<std::uint64_t> max_rejects);

// --resync deletes, range by range, the rows of chats that no longer derive them: an index on
// chat_id makes each of those deletes a lookup. Builds ix_chat_message_chat_id now when it is
// missing (the indexes phase then finds it built); empty when it was there.
std::string ensure_chat_id_index(engine::Connection& conn, const Target& target);

// Adds chat_message_chat_id_fkey NOT VALID, deletes rows whose chat is gone (counted in the
// checkpoint as removed), validates.
std::string ensure_foreign_key(engine::Connection& conn, const Target& target);

// What is still missing before the target can be called migrated (the primary key, the seven valid indexes, the
// validated foreign key, a complete backfill of this table within --max-rejects); empty when
// nothing is.
std::string unfinished_work(engine::Connection& conn, const Target& target, std::optional<std::uint64_t> max_rejects);

// Refuses, before anything is written, an alembic_version that --stamp-alembic would not move:
// anything but 374d2f66af06 (or 8452d01d26d7, already stamped).
void check_alembic_revision(engine::Connection& conn, const std::string& schema);

// The publish phase: in one transaction, after a final check of unfinished_work(), renames the
// build table to chat_message and, with `stamp`, moves alembic_version from 374d2f66af06 to
// 8452d01d26d7. On a table completed in place only the stamp is left to do. When it renames or
// stamps, it first counts the table's rows range by range against the checkpoint (one pass over
// the table); when a range lacks rows it publishes nothing, marks those ranges to be read again
// (stages/chat_message/checkpoint.h, read_again) and throws.
std::string publish(engine::Connection& conn, const Target& target, bool stamp,
                    std::optional<std::uint64_t> max_rejects);

}  // namespace sluice::stages
