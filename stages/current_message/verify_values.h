// The second job's verify, its logic: each chat the reader gives, decided by the rule (SPEC §6),
// against the value its column holds now. A chat agrees when there is nothing the job would write
// (the rule gives no value, an empty one, or the column's own) or the column holds one of the
// tied newest leaves (path A: upstream's rows come in no order, so any of them is its answer).
// A chat upstream would raise on is rejected: it agrees when the job's rejects know it.
// No database: the caller reads and decides; serial, one per verify.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "engine/words.h"
#include "stages/current_message/chat_keys_batch.h"

namespace sluice::stages::current_message {

struct ValueCheckTally {
    std::uint64_t chats = 0, agree = 0, rejected = 0;
    engine::Listed disagree;    // "id": the column's value and the rule's
    engine::Listed unrecorded;  // chats the rule rejects that the known rejects do not list
    bool agrees() const { return disagree.count == 0 && unrecorded.count == 0; }
};

class ValueCheck {
public:
    // `known_reject(chat_id)`: whether the job's rejects (the table or its export) list the chat.
    explicit ValueCheck(std::function<bool(std::string_view)> known_reject) : known_reject_(std::move(known_reject)) {}
    // Counts a decided batch's chats (its decisions, one per chat).
    void check(const ChatKeysBatch& batch);
    const ValueCheckTally& tally() const { return tally_; }

private:
    void check_chat(const ChatInput& chat, const Decision& decision);

    std::function<bool(std::string_view)> known_reject_;
    ValueCheckTally tally_;
};

}  // namespace sluice::stages::current_message
