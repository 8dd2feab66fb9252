// A batch of the second job: chats of one id range as the reader gives them (each chat's id,
// column value, blob and chat_message keys), the rule's decision for each once the transform has
// run, and the batch's identity. The texts the inputs view live in the batch itself.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "engine/lane.h"
#include "engine/pg.h"
#include "stages/current_message/rule.h"

namespace sluice::stages::current_message {

struct ChatKeysBatch {
    engine::BatchKind kind = engine::BatchKind::data;
    std::uint64_t seq = 0;
    std::string first_chat_id, last_chat_id;
    std::size_t source_bytes = 0;  // the chats' blobs and keys as read
    std::size_t budget_bytes = 0;  // what the batch took from the in-flight budget (migrate's lanes)
    int range_no = -1;             // the plan's range it belongs to (migrate's lanes)
    bool interrupted = false;      // an end batch: the run stops before its ranges are read

    std::vector<engine::Result> source;  // one row each (single-row mode): the texts `chats` view
    std::deque<std::string> keys_json;   // each chat's keys, parsed in place: the texts `rows` view
    std::vector<ChatInput> chats;        // in id order
    std::vector<Decision> decisions;     // the transform's, one per chat (empty until it has run)

    std::size_t count() const { return chats.size(); }
};

// The transform: the rule's decision for each of the batch's chats.
inline void decide_all(ChatKeysBatch& batch, Rule& rule) {
    batch.decisions.resize(batch.count());
    for (std::size_t i = 0; i < batch.count(); ++i)
        rule.decide(batch.chats[i], batch.decisions[i]);
}

}  // namespace sluice::stages::current_message
