// The parse stage's work on one batch: every chat row through the transform.
#include "stages/chat_batch.h"

namespace sluice::stages {

void transform_batch(ChatBatch& batch, ChatTransform& transform) {
    for (const engine::Result& row : batch.source) {
        auto text = [&](int column) {
            return std::string_view(PQgetvalue(row.get(), 0, column),
                                    static_cast<std::size_t>(PQgetlength(row.get(), 0, column)));
        };
        ChatRow chat{text(0), text(1), std::nullopt};
        if (!PQgetisnull(row.get(), 0, 2)) chat.chat = text(2);
        transform.run(chat, batch.out);
    }
    batch.source.clear();  // the rows are encoded: free the chat text now
}

}  // namespace sluice::stages
