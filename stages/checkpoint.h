// The backfill's checkpoint: one row in <schema>.sluice_checkpoint, written in the same
// transaction as the rows it covers, so after any crash it says exactly how far the committed
// rows go. A rerun resumes after `last_chat_id`; `complete` makes a rerun a no-op.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "engine/pg.h"
#include "stages/chat_transform.h"

namespace sluice::stages {

struct Checkpoint {
    std::optional<std::string> last_chat_id;  // every chat up to here is written
    std::uint64_t chats = 0;
    std::uint64_t messages = 0;
    std::uint64_t present = 0;
    std::uint64_t rejected = 0;
    std::array<std::uint64_t, kSkipRules> skipped{};
    std::uint64_t bytes = 0;
    bool complete = false;
};

void create_checkpoint_table(engine::Connection& conn, const std::string& schema);
// Empty when there is no checkpoint table or no row for the backfill.
std::optional<Checkpoint> load_checkpoint(engine::Connection& conn, const std::string& schema);
// Upserts the row; call inside the transaction that commits the rows it describes.
void save_checkpoint(engine::Connection& conn, const std::string& schema, const Checkpoint& cp);

}  // namespace sluice::stages
