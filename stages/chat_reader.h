// The reader stage: one connection, one REPEATABLE READ READ ONLY snapshot, one server-side
// cursor over `chat` in id order, read in single-row mode so that no chat is held before the
// in-flight budget admits it. Serial: the pipeline's input node alone calls next().
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "engine/budget.h"
#include "engine/pg.h"
#include "stages/chat_batch.h"

namespace sluice::stages {

struct ReaderSettings {
    std::string conninfo;
    std::string schema;
    std::size_t fetch_rows = 1000;
    std::size_t batch_rows = 1000;
    std::size_t batch_bytes = std::size_t{4} << 20;
    std::optional<std::string> after_chat_id;  // resume: only chats with a greater id
};

class ChatReader {
public:
    // Opens the snapshot and the cursor; throws PgError when the source cannot be read.
    ChatReader(const ReaderSettings& settings, engine::InflightBudget& budget, const std::atomic<bool>& stop);

    std::unique_ptr<ChatBatch> next();
    // Chats the cursor will return, counted in the reader's snapshot (for progress and ETA).
    std::uint64_t chats_to_read() const { return chats_to_read_; }
    // The source database is not UTF-8: its chats may hold bytes that are not, and the
    // transform must check every value it stores (ChatTransform's validate_utf8).
    bool validate_utf8() const { return validate_utf8_; }

private:
    engine::Result pull();

    ReaderSettings settings_;
    engine::InflightBudget& budget_;
    const std::atomic<bool>& stop_;
    engine::Connection conn_;
    std::uint64_t chats_to_read_ = 0;
    bool validate_utf8_ = false;
    std::uint64_t seq_ = 0;
    bool fetching_ = false;        // a FETCH is under way
    std::size_t fetched_ = 0;      // rows it has returned so far
    bool exhausted_ = false;
    bool flushed_ = false;         // a flush batch went out since the budget last had room
    engine::Result pending_;       // read, but not yet admitted by the budget
};

}  // namespace sluice::stages
