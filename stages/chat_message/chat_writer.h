// The writer stage of one lane: the only stage that writes. It owns its write connection, writes
// each batch with IsolatingCopy, and commits every few seconds or megabytes, on a flush request
// (while its reader still waits for room), at the end of each range and at the end, each time
// with the range's checkpoint and the rejects of what it commits, in the same transaction, under
// the run's fence (engine/run_fence.h).
// Serial: the pipeline calls write() for one batch at a time, in its lane's reader order.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/defaults.h"
#include "engine/budget.h"
#include "engine/copy_writer.h"
#include "engine/progress.h"
#include "engine/reject_table.h"
#include "stages/chat_message/chat_batch.h"
#include "stages/chat_message/checkpoint.h"

namespace sluice::stages {

struct WriterSettings {
    std::string conninfo;
    std::string schema;
    std::string table;  // the target: chat_message, or the build table until publish
    std::chrono::milliseconds commit_every{config::defaults::kCommitEvery};
    std::size_t commit_bytes = config::defaults::kCommitBytes;
    std::string label = "writer";  // the connection's name ("writer 2" in lane 2)
    std::size_t lane = 0;          // its index in RunCounters::lane_rows
    // --resync: each chat read is derived completely: rows of its messages that changed are
    // updated, and rows of the range's chats (selected or not) that they no longer derive are deleted.
    bool resync = false;
    std::int64_t now = 0;  // the run's now: a timestamp that fell back to it is no change (--resync)
    // Its lane's reader's ChatReader::held_up(): a flush is committed only while that is set. None:
    // every flush is committed.
    const std::atomic<bool>* reader_held_up = nullptr;
    // Other lanes' readers take from the same budget: commit early whenever one of them waits for
    // room (the lane's own reader asks with a flush batch).
    bool shares_budget = false;
};

class ChatWriter {
public:
    // `limit` is shared by every lane's writer: --max-rejects holds for the run as a whole.
    ChatWriter(const WriterSettings& settings, engine::InflightBudget& budget, engine::RunCounters& counters,
               const engine::RejectTable& rejects, engine::RejectLimit& limit);

    void write(ChatBatch& batch);
    bool interrupted() const { return interrupted_; }
    // Rows this writer updated and removed (--resync), committed or about to be.
    std::uint64_t updated() const { return updated_; }
    std::uint64_t removed() const { return removed_; }

private:
    void adopt(const ChatRange& range);
    void begin();
    void flush();
    void write_rows(ChatBatch& batch);
    void end_range(const ChatRange& range);
    std::uint64_t remove_others(const std::optional<std::string>& upto, const engine::Rows& rows);
    void commit();

    WriterSettings settings_;
    engine::InflightBudget& budget_;
    engine::RunCounters& counters_;
    const engine::RejectTable& rejects_;
    engine::RejectLimit& limit_;
    engine::Connection conn_;
    engine::IsolatingCopy copy_;
    const ChatRange* range_ = nullptr;  // the range being written
    ChatRange pending_;                 // its checkpoint, with the batches of the open transaction
    bool committed_complete_ = false;   // the database has it as complete
    std::vector<engine::Reject> pending_rejects_;
    std::size_t pending_batches_ = 0;
    std::size_t pending_bytes_ = 0;
    bool in_transaction_ = false;
    bool interrupted_ = false;
    std::uint64_t updated_ = 0, removed_ = 0;
    std::chrono::steady_clock::time_point transaction_start_;
};

}  // namespace sluice::stages
