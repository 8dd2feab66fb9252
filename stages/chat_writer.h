// The writer stage: the only stage that writes. It owns the write connection, writes each
// batch with IsolatingCopy, and commits every few seconds or megabytes, on a flush request,
// and at the end, each time with the checkpoint and the rejects of what it commits, in the
// same transaction. Serial: the pipeline calls write() for one batch at a time, in reader order.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "engine/budget.h"
#include "engine/copy_writer.h"
#include "engine/progress.h"
#include "engine/reject_table.h"
#include "stages/chat_batch.h"
#include "stages/checkpoint.h"

namespace sluice::stages {

struct WriterSettings {
    std::string conninfo;
    std::string schema;
    std::string table;  // the target: chat_message, or the build table until publish
    std::chrono::milliseconds commit_every{5000};
    std::size_t commit_bytes = std::size_t{8} << 20;
    std::optional<std::uint64_t> max_rejects;
};

class ChatWriter {
public:
    ChatWriter(const WriterSettings& settings, engine::InflightBudget& budget, engine::RunCounters& counters,
               const engine::RejectTable& rejects, const Checkpoint& start);

    void write(ChatBatch& batch);
    const Checkpoint& committed() const { return committed_; }
    bool interrupted() const { return interrupted_; }

private:
    void write_rows(ChatBatch& batch);
    void commit(bool final);

    WriterSettings settings_;
    engine::InflightBudget& budget_;
    engine::RunCounters& counters_;
    const engine::RejectTable& rejects_;
    engine::Connection conn_;
    engine::IsolatingCopy copy_;
    Checkpoint committed_;  // what the database holds
    Checkpoint pending_;    // committed_ plus the batches of the open transaction
    std::vector<engine::Reject> pending_rejects_;
    std::size_t pending_batches_ = 0;
    std::size_t pending_bytes_ = 0;
    bool in_transaction_ = false;
    bool interrupted_ = false;
    std::chrono::steady_clock::time_point transaction_start_;
};

}  // namespace sluice::stages
