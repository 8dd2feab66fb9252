// Rows an index cannot hold. A btree entry holds at most about 2.7 kB (after compression), so a
// 3 kB random message key, model or parentId fails the index build with SQLSTATE 54000 and would
// fail it on every retry. Upstream, whose indexes exist before its inserts, fails exactly those
// rows; sluice rejects them like any other unstorable row and builds the index again.
#pragma once

#include <cstdint>
#include <optional>

#include "engine/pg.h"
#include "stages/chat_message/target.h"

namespace sluice::stages {

// Finds the rows whose `columns` (an index's column list) an index entry cannot hold, by
// inserting each row with large enough values into an indexed probe table, then moves them to
// the rejects table and deletes them from the target, with the checkpoint's counts, in one
// transaction; refuses (throws) when that would pass --max-rejects. Then waits until no snapshot
// from before the move remains (engine/older_snapshots.h): until then a build still meets the
// deleted rows. Returns the number of rows moved: 0 when none is too large (any more).
std::uint64_t reject_unindexable_rows(engine::Connection& conn, const Target& target, const char* columns,
                                      std::optional<std::uint64_t> max_rejects);

}  // namespace sluice::stages
