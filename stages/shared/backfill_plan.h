// The backfill's plan, for both jobs: `chat` split into contiguous ranges of chat ids holding about
// equal bytes of chat JSON, handed out to the lanes one at a time. Most of a chat's bytes live in
// TOAST, and chats differ in size by 1000x, so the weight is each chat's stored size
// (pg_column_size, read from the TOAST pointer without fetching the value), not its row or its
// heap page.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/pg.h"
#include "stages/openwebui.h"

namespace sluice::stages {

// One contiguous range of chat ids, (lower, upper] in the ordering the plan followed, and how far
// its committed rows go. Each job's range derives from it and adds what its checkpoint counts
// (at least `chats`, the chats committed, which the queue's estimate needs).
struct PlannedRange {
    int no = 0;
    std::optional<std::string> lower;         // exclusive; none: from the first chat
    std::optional<std::string> upper;         // inclusive; none: to the last chat
    std::optional<std::string> last_chat_id;  // every chat of the range up to here is written
    std::uint64_t planned_chats = 0;          // chats in the range when the plan was made (for the ETA)
    bool complete = false;

    // Where the range's reader starts: after its checkpoint, else after its lower bound.
    const std::optional<std::string>& resume_after() const { return last_chat_id ? last_chat_id : lower; }
};

// Splits the selected chats into at most `count` ranges of about equal stored bytes, in id order,
// covering every possible id (the first has no lower bound, the last no upper one). One range is
// the whole table, counted but not weighed: `counted`, when given, is that count, already made
// (the chats `where` selects). `where` selects the chats (appended after FROM chat) and `id` is
// the ordering of ids the bounds follow (the second job: every chat, `id COLLATE "C"`).
std::vector<PlannedRange> plan_id_ranges(engine::Connection& conn, const std::string& schema, unsigned count,
                                         const std::string& where = openwebui::kSelectedChats,
                                         const std::string& id = "id",
                                         std::optional<std::uint64_t> counted = std::nullopt);

// The same plan as a job's ranges (`Range` derives from PlannedRange), nothing committed yet.
template <class Range>
std::vector<Range> plan_ranges(engine::Connection& conn, const std::string& schema, unsigned count,
                               const std::string& where = openwebui::kSelectedChats, const std::string& id = "id",
                               std::optional<std::uint64_t> counted = std::nullopt) {
    std::vector<Range> ranges;
    for (PlannedRange& planned : plan_id_ranges(conn, schema, count, where, id, counted))
        static_cast<PlannedRange&>(ranges.emplace_back()) = std::move(planned);
    return ranges;
}

// The ranges still to do, for the lanes' readers: a lane that finishes one takes the next.
// Thread-safe; the ranges themselves are read-only once the queue is made. `Range` is a job's
// range: a PlannedRange with `chats`, the chats its checkpoint counts.
template <class Range>
class RangeQueue {
public:
    explicit RangeQueue(const std::vector<Range>& plan) {  // complete ranges are left out
        for (const Range& r : plan)
            if (!r.complete) ranges_.push_back(r);
    }

    // nullptr when every range has been handed out
    const Range* next() {
        std::size_t i = next_.fetch_add(1);
        return i < ranges_.size() ? &ranges_[i] : nullptr;
    }
    std::size_t size() const { return ranges_.size(); }
    // The lanes to read it with: as many as `wanted`, no more than the ranges, at least one.
    unsigned lanes_for(unsigned wanted) const {
        return std::max(1u, std::min<unsigned>(wanted, static_cast<unsigned>(ranges_.size())));
    }
    // Chats still to read, as the plan counted them (an estimate for the ETA: chats may have come
    // or gone since the plan was made).
    std::uint64_t chats_left() const {
        std::uint64_t left = 0;
        for (const Range& r : ranges_)
            left += r.planned_chats > r.chats ? r.planned_chats - r.chats : 0;
        return left;
    }

private:
    std::vector<Range> ranges_;
    std::atomic<std::size_t> next_{0};
};

}  // namespace sluice::stages
