// The reader stage of one of migrate's lanes for the second job: takes ranges of the plan from the
// queue, reads each with a ChatKeysReader (after its checkpoint when resumed), and hands out its
// batches once the in-flight budget admits them, a range_end batch after each range and an end
// batch after the last (or when the run stops). Serial: the lane's reader thread alone calls next().
#pragma once

#include <atomic>
#include <memory>

#include "engine/budget.h"
#include "stages/current_message/chat_keys_reader.h"
#include "stages/current_message/checkpoint.h"
#include "stages/shared/backfill_plan.h"

namespace sluice::stages::current_message {

class RangeReader {
public:
    // Opens the snapshot (`settings.snapshot`, when the lanes share one); throws PgError.
    RangeReader(const ChatKeysSettings& settings, RangeQueue<ValueRange>& ranges, engine::InflightBudget& budget,
                const std::atomic<bool>& stop);

    std::unique_ptr<ChatKeysBatch> next();

private:
    std::unique_ptr<ChatKeysBatch> read();  // the next batch, not yet numbered
    std::unique_ptr<ChatKeysBatch> marker(engine::BatchKind kind);
    std::unique_ptr<ChatKeysBatch> end(bool interrupted);
    bool fill();  // reads the open range's next batch into pending_; false at the range's end

    ChatKeysReader keys_;
    RangeQueue<ValueRange>& ranges_;
    engine::InflightBudget& budget_;
    const std::atomic<bool>& stop_;
    std::uint64_t seq_ = 0;
    const ValueRange* range_ = nullptr;       // the range being read
    bool flushed_ = false;                    // a flush batch went out since the budget last had room
    std::unique_ptr<ChatKeysBatch> pending_;  // read, not yet admitted by the budget
};

}  // namespace sluice::stages::current_message
