// The reader stage of one lane: one connection, one REPEATABLE READ READ ONLY snapshot (its own,
// or the run's exported one that every lane shares), and a server-side cursor over one range of
// `chat` at a time, in id order, read in single-row mode so that no chat is held before the
// in-flight budget admits it. When a range is read to its end the reader says so in a batch of
// its own and takes the next range from the queue. Serial: the lane's input node alone calls next().
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "config/defaults.h"
#include "engine/budget.h"
#include "engine/cursor.h"
#include "engine/pg.h"
#include "stages/chat_message/chat_batch.h"
#include "stages/chat_message/checkpoint.h"
#include "stages/shared/backfill_plan.h"

namespace sluice::stages {

struct ReaderSettings {
    std::string conninfo;
    std::string schema;
    std::size_t fetch_rows = config::defaults::kFetchRows;
    std::size_t batch_rows = config::defaults::kBatchRows;
    std::size_t batch_bytes = config::defaults::kBatchBytes;
    std::optional<std::string> snapshot;  // pg_export_snapshot()'s name: read in that snapshot
    std::string label = "reader";         // the connection's name ("reader 2" in lane 2)
};

class ChatReader {
public:
    // Opens the snapshot; throws PgError when the source cannot be read.
    ChatReader(const ReaderSettings& settings, RangeQueue<ChatRange>& ranges, engine::InflightBudget& budget,
               const std::atomic<bool>& stop);

    std::unique_ptr<ChatBatch> next();
    // The source database is not UTF-8: its chats may hold bytes that are not, and the
    // transform must check every value it stores (ChatTransform's validate_utf8).
    bool validate_utf8() const { return validate_utf8_; }
    // True from a flush batch this reader sends until it has room again: whether that flush still
    // has to be committed when the writer gets to it (a commit since may have let the reader on).
    const std::atomic<bool>& held_up() const { return held_up_; }

private:
    std::unique_ptr<ChatBatch> read();  // the next batch, not yet numbered
    void open(const ChatRange& range);
    std::unique_ptr<ChatBatch> end(bool interrupted);

    ReaderSettings settings_;
    RangeQueue<ChatRange>& ranges_;
    engine::InflightBudget& budget_;
    const std::atomic<bool>& stop_;
    engine::Connection conn_;
    engine::Cursor cursor_;  // over the range being read
    bool validate_utf8_ = false;
    std::uint64_t seq_ = 0;
    const ChatRange* range_ = nullptr;  // the range the open cursor reads
    bool ended_ = false;                // every range is read, or the run stops
    bool range_read_ = false;           // the cursor is at its end: the range's end batch is next
    bool flushed_ = false;              // a flush batch went out since the budget last had room
    std::atomic<bool> held_up_{false};  // read by the lane's writer (held_up())
    engine::Result pending_;            // read, but not yet admitted by the budget
};

}  // namespace sluice::stages
