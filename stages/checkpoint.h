// The backfill's checkpoint: one row in <schema>.sluice_checkpoint, written in the same
// transaction as the rows it covers, so after any crash it says exactly how far the committed
// rows go. A rerun resumes after `last_chat_id`; `complete` makes a rerun a no-op.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "engine/pg.h"
#include "engine/reject_table.h"
#include "stages/chat_transform.h"

namespace sluice::stages {

struct Checkpoint {
    std::string target = "chat_message";      // the table the rows went into (the build table until publish)
    std::optional<std::string> last_chat_id;  // every chat up to here is written
    std::uint64_t chats = 0;
    std::uint64_t messages = 0;
    std::uint64_t present = 0;
    std::uint64_t rejected = 0;
    std::array<std::uint64_t, kSkipRules> skipped{};
    std::uint64_t bytes = 0;
    bool complete = false;
};

// The job's state tables: this checkpoint row and the rejects table (sluice_reject).
void create_checkpoint_table(engine::Connection& conn, const std::string& schema);
engine::RejectTable reject_table(const std::string& schema);
// Forgets the backfill's progress and its rejects, in one transaction: every chat is derived again
// (--resync, or a checkpoint that belongs to another table).
void reset_backfill(engine::Connection& conn, const std::string& schema);
// Counts `rows` written messages as rejected instead; inside the transaction that moves them.
void count_moved_to_rejects(engine::Connection& conn, const std::string& schema, std::uint64_t rows);
// Points the checkpoint at the table's new name; inside the transaction that renames it.
void retarget_checkpoint(engine::Connection& conn, const std::string& schema, const std::string& table);
// Empty when there is no checkpoint table or no row for the backfill.
std::optional<Checkpoint> load_checkpoint(engine::Connection& conn, const std::string& schema);
// Upserts the row; call inside the transaction that commits the rows it describes.
void save_checkpoint(engine::Connection& conn, const std::string& schema, const Checkpoint& cp);

}  // namespace sluice::stages
