// A batch of chats on its way from the reader to the writer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/pg.h"
#include "engine/pipeline.h"
#include "stages/chat_message/chat_transform.h"
#include "stages/chat_message/checkpoint.h"

namespace sluice::stages {

struct ChatBatch {
    engine::BatchKind kind = engine::BatchKind::data;
    std::uint64_t seq = 0;                    // in its lane's reader order
    const ChatRange* range = nullptr;         // the range it belongs to (data and range_end batches)
    std::string first_chat_id, last_chat_id;  // the range of chat ids this batch covers
    std::size_t chats = 0;
    std::size_t source_bytes = 0;        // chat JSON bytes: what the budget counts
    bool interrupted = false;            // an end batch sent because the run was asked to stop
    std::vector<engine::Result> source;  // one single-row result per chat, freed once parsed
    TransformOutput out;

    ChatBatch() = default;
    ChatBatch(const ChatBatch&) = delete;
    ChatBatch& operator=(const ChatBatch&) = delete;
    ~ChatBatch();  // gives the rows' buffer back for the next batch (see transform_batch)
};

// Runs the transform over the batch's chats, then frees their text: only the rows stay.
// `large_values_in_place`: values of 256 KiB or more stay in the chat's text (engine::Rows::
// outside), which the batch then keeps until it is dropped: a huge chat is held once, not once
// more in its rows. Only for rows that are sent as they are (the writer's), not read back.
void transform_batch(ChatBatch& batch, ChatTransform& transform, bool large_values_in_place = false);

}  // namespace sluice::stages
