// The backfill's checkpoint: one row per range of chat ids in <schema>.sluice_checkpoint. The
// plan (the ranges) is written when a backfill starts; then each range's row is written in the
// same transaction as the rows it covers, so after any crash it says exactly how far that range's
// committed rows go. A rerun resumes each range after its `last_chat_id`; when every range is
// complete, a rerun is a no-op.
//
// The plan is bound to its table by oid, not by name: a rename (the publish) keeps it, while a
// table dropped and created again under the same name is another table, which a new plan fills.
// Every write of the checkpoint holds the run's fence (engine/run_fence.h): a run that another
// run has taken over commits nothing more.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/pg.h"
#include "engine/reject_table.h"
#include "stages/chat_message/chat_transform.h"
#include "stages/shared/backfill_plan.h"

namespace sluice::stages {

// What a range, or the whole backfill, has committed.
struct BackfillTally {
    std::uint64_t chats = 0;
    std::uint64_t messages = 0;
    std::uint64_t present = 0;
    std::uint64_t rejected = 0;
    std::array<std::uint64_t, kSkipRules> skipped{};
    std::uint64_t bytes = 0;
    std::uint64_t removed = 0;  // written rows deleted since: their chat was gone (the constraints phase)

    void add(const BackfillTally& other);
};

// One range of the plan (stages/shared/backfill_plan.h) and what its committed rows count.
struct ChatRange : PlannedRange, BackfillTally {};

// The whole backfill: every range summed.
struct Checkpoint : BackfillTally {
    std::string target = "chat_message";  // the table the rows went into (the build table until publish)
    bool bound = false;                   // the table of that name is the one the plan was made for (its oid)
    std::size_t ranges = 0;
    std::size_t ranges_complete = 0;
    bool complete = false;  // every range is complete

    // Whether it describes `table` (a name in its schema) as that table is now.
    bool describes(const std::string& table) const { return bound && target == table; }
};

// The job's state tables: the checkpoint table and the rejects table (sluice_reject). A checkpoint
// table of an earlier layout (one row, no ranges) is brought to this one: its row is range 0, the
// whole table; a plan of a layout without its table's oid describes no table (a new plan is made).
void create_checkpoint_table(engine::Connection& conn, const std::string& schema);
engine::RejectTable reject_table(const std::string& schema);
// The job's fence in the fence table (stages/shared/run_table.h, engine/run_fence.h).
std::string fence_key();
// Forgets the backfill's plan, progress and rejects, in one transaction: every chat is derived
// again (--resync, or a checkpoint that belongs to another table).
void reset_backfill(engine::Connection& conn, const std::string& schema);
// Stores a new plan for `target` (a table in `schema`, bound by its oid): the ranges, none of them
// started. In one transaction.
void save_plan(engine::Connection& conn, const std::string& schema, const std::string& target,
               const std::vector<ChatRange>& ranges);
// The plan's ranges with their progress, in id order; empty when there is none. Writes nothing
// (check and verify call it), whatever the checkpoint table's layout.
std::vector<ChatRange> load_ranges(engine::Connection& conn, const std::string& schema);
// Counts the written messages of the given chats (one entry per message) as rejected instead, in
// the ranges that hold them; inside the transaction that moves them.
void count_moved_to_rejects(engine::Connection& conn, const std::string& schema,
                            const std::vector<std::string>& chat_ids);
// The reverse: a rejected message of each chat is written after all (a duplicate id settled in
// its chat's favour, stages/chat_message/duplicate_ids.h); inside the transaction that writes it.
void count_restored_from_rejects(engine::Connection& conn, const std::string& schema,
                                 const std::vector<std::string>& chat_ids);
// Points the checkpoint at the table's new name; inside the transaction that renames it.
void retarget_checkpoint(engine::Connection& conn, const std::string& schema, const std::string& table);
// Deletes the rows of `table` (a table in `schema`) that `condition` selects (SQL about the row,
// alias m) and counts them as removed in the ranges that hold their chats, in one statement; inside
// the caller's transaction. Returns how many it deleted.
std::uint64_t delete_counted(engine::Connection& conn, const std::string& schema, const std::string& table,
                             const std::string& condition);
// A range of the plan whose rows the table lacks: what its checkpoint counts (written + already
// present - removed) and what the table holds in that range of chat ids.
struct RowShortfall {
    int range_no = 0;
    std::optional<std::string> lower, upper;
    std::uint64_t expected = 0, held = 0;

    // One clause for a line; the range named when the plan has more than one (`ranges`).
    std::string describe(std::size_t ranges) const;
};
// Compares, range by range, what the checkpoint counts with the rows `table` (in `schema`) holds,
// in one pass over the table. Returns the ranges that lack rows, in range order, and sets `ranges`
// to the plan's number of ranges when there are any.
std::vector<RowShortfall> rows_missing(engine::Connection& conn, const std::string& schema, const std::string& table,
                                       std::size_t& ranges);
// Marks those ranges to be read again from their start, their counts and rejects forgotten, in
// the caller's transaction: the next backfill derives their chats again, finds the rows still
// there present and adds the missing ones.
void read_again(engine::Connection& conn, const std::string& schema, const std::vector<RowShortfall>& ranges);
// The sum over every range; empty when there is no checkpoint table or no plan.
std::optional<Checkpoint> load_checkpoint(engine::Connection& conn, const std::string& schema);
// The checkpoint and its ranges, from one reading of the table; empty as load_checkpoint().
struct SavedPlan {
    Checkpoint total;
    std::vector<ChatRange> ranges;
};
std::optional<SavedPlan> load_saved_plan(engine::Connection& conn, const std::string& schema);
// The sum of `ranges` (their tallies, how many there are and are complete), for table `target`.
Checkpoint sum_of(const std::vector<ChatRange>& ranges, const std::string& target, bool bound);
// Whether the checkpoint table exists and this user may read it (verify and status need only SELECT).
bool checkpoint_readable(engine::Connection& conn, const std::string& schema);
// Writes one range's progress; call inside the transaction that commits the rows it describes.
// Throws when the range's row is gone or describes another table than `target`.
void save_range(engine::Connection& conn, const std::string& schema, const std::string& target, const ChatRange& range);

}  // namespace sluice::stages
