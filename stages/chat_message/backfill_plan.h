// The backfill's plan: `chat` split into contiguous ranges of chat ids holding about equal bytes
// of chat JSON, handed out to the lanes one at a time. Most of a chat's bytes live in TOAST, and
// chats differ in size by 1000x, so the weight is each chat's stored size (pg_column_size, read
// from the TOAST pointer without fetching the value), not its row or its heap page.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/pg.h"
#include "stages/chat_message/checkpoint.h"
#include "stages/openwebui.h"

namespace sluice::stages {

// Splits the selected chats into at most `count` ranges of about equal stored bytes, in id order,
// covering every possible id (the first has no lower bound, the last no upper one). One range is
// the whole table, counted but not weighed. `where` selects the chats (appended after FROM chat)
// and `id` is the ordering of ids the bounds follow (the second job: every chat, `id COLLATE "C"`).
std::vector<ChatRange> plan_ranges(engine::Connection& conn, const std::string& schema, unsigned count,
                                   const std::string& where = openwebui::kSelectedChats, const std::string& id = "id");

// The ranges still to do, for the lanes' readers: a lane that finishes one takes the next.
// Thread-safe; the ranges themselves are read-only once the queue is made.
class RangeQueue {
public:
    explicit RangeQueue(const std::vector<ChatRange>& plan);  // complete ranges are left out

    const ChatRange* next();  // nullptr when every range has been handed out
    std::size_t size() const { return ranges_.size(); }
    // Chats still to read, as the plan counted them (an estimate for the ETA: chats may have come
    // or gone since the plan was made).
    std::uint64_t chats_left() const;

private:
    std::vector<ChatRange> ranges_;
    std::atomic<std::size_t> next_{0};
};

}  // namespace sluice::stages
