// Two messages that give one id (SPEC §4): chat "a-b" message "c" and chat "a" message "b-c" both
// give "a-b-c" (only non-UUID chat ids, from imports, can meet so). The row of the chat whose id
// sorts first in byte order is stored and the other is a reject (SQLSTATE 23505, naming the chat
// that keeps the id), whatever the lanes, the order their ranges committed in, and on every rerun.
//
// The writers settle what they meet in one write and otherwise keep whichever row came first,
// rejecting the other (engine/copy_writer.h); once every range is complete, and no writer runs,
// these settle the rest, the checkpoint's counts with them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "engine/pg.h"
#include "stages/chat_message/target.h"

namespace sluice::stages {

// A build table loaded without its key holds both rows: moves every row whose id a chat that
// sorts first also holds to the rejects, within --max-rejects, in one transaction. Rows of one
// chat that hold one id twice are no collision and are left for the key to refuse. Returns the
// rows moved.
std::uint64_t reject_duplicate_ids(engine::Connection& conn, const Target& target,
                                   std::optional<std::uint64_t> max_rejects);

// A table with its key: where a chat's row was rejected as a duplicate id while the id is stored
// for a chat that sorts after it, the stored row becomes the reject and the rejected chat's row,
// derived again from `chat` (`now` for the timestamp rule, as the run's), takes its place; one
// transaction per id. Returns a sentence for the summary, empty when there was nothing to settle.
std::string settle_duplicate_ids(engine::Connection& conn, const Target& target, std::int64_t now);

}  // namespace sluice::stages
