// The second job's checkpoint: one row per range of chat ids in <schema>.sluice_current_message_checkpoint.
// The plan (its ranges, bounds in byte order) is written when the job first runs; then each range's
// row moves in the same transaction as the values it covers (ValueWriter::commit's callback), so
// after any kill it says exactly how far that range's committed values go: a rerun resumes each
// range after its last chat id, and a complete plan is a no-op. Every write holds the run's fence
// (engine/run_fence.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/pg.h"
#include "stages/current_message/value_writer.h"
#include "stages/shared/backfill_plan.h"

namespace sluice::stages::current_message {

inline constexpr const char* kCheckpointTable = "sluice_current_message_checkpoint";

// One range of the plan (stages/shared/backfill_plan.h) and what its committed values count.
struct ValueRange : PlannedRange {
    std::uint64_t chats = 0;
    std::uint64_t rejected = 0;
};

// The whole job, every range summed.
struct Progress {
    ValueTally tally;
    std::size_t ranges = 0, ranges_complete = 0;
    bool complete() const { return ranges > 0 && ranges_complete == ranges; }
};

// The job's state tables (the checkpoint and rejects tables), made as the app's role; in one transaction.
void create_state_tables(engine::Connection& conn, const std::string& schema);
// Stores a new plan, none of its ranges started. In one transaction, under the fence.
void save_plan(engine::Connection& conn, const std::string& schema, const std::vector<ValueRange>& ranges);
// The plan's ranges with their progress (chats and rejected), in range order; empty when there is none.
std::vector<ValueRange> load_plan(engine::Connection& conn, const std::string& schema);
// The sum over every range; empty when there is no checkpoint table or no plan. Writes nothing.
std::optional<Progress> load_progress(engine::Connection& conn, const std::string& schema);
// Adds one commit's tally to range `no`, moves its last chat id and marks it complete when asked;
// inside the transaction that commits the values. Throws when the range's row is gone.
void save_commit(engine::Connection& conn, const std::string& schema, int no,
                 const std::optional<std::string>& last_chat_id, bool complete, const ValueTally& tally);

}  // namespace sluice::stages::current_message
