// Rows taken out of the target after they were written: a value too large for an index entry
// (stages/chat_message/unindexable_rows.h), an id another chat's message holds (stages/chat_message/duplicate_ids.h).
// Each becomes a reject like any row the writer could not store, and its range's checkpoint counts it as rejected
// instead of written, in the same transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/pg.h"
#include "stages/chat_message/target.h"

namespace sluice::stages {

struct RowToReject {
    std::string ctid;  // where it is: ids need not be unique yet (a table without its key)
    std::string chat_id;
    std::string sqlstate;
    std::string message;
};

// In the caller's transaction: each row, whole, into the rejects table, then out of the target,
// then counted by count_moved_to_rejects. Refuses (throws, moving nothing) when the checkpoint's
// rejects and these would pass --max-rejects; `what` says what the rows hold, for that line
// ("rows hold values too large for an index entry").
void move_to_rejects(engine::Connection& conn, const Target& target, const std::vector<RowToReject>& rows,
                     std::optional<std::uint64_t> max_rejects, const std::string& what);

}  // namespace sluice::stages
