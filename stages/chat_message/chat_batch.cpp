// The parse stage's work on one batch: every chat row through the transform.
#include "stages/chat_message/chat_batch.h"

#include "engine/buffer_pool.h"

namespace sluice::stages {

namespace {
// The rows' buffers of batches that are done, for the next ones: a few, as many as are in flight
// at once in the usual run, none larger than a big batch's rows. One for the process: batches
// are made and dropped on different threads, and every lane's are alike.
engine::BufferPool& row_buffers() {
    static engine::BufferPool pool(4, std::size_t{8} << 20);
    return pool;
}
}  // namespace

ChatBatch::~ChatBatch() {
    row_buffers().give(std::move(out.rows.tuples));
}

void transform_batch(ChatBatch& batch, ChatTransform& transform, bool large_values_in_place) {
    if (large_values_in_place) batch.out.outside_from = std::size_t{256} << 10;
    // The rows take about half the chat JSON, rarely more: room for all of it at once spares the
    // copies of a growing buffer (pages reserved but never written cost no memory), and the
    // quarter more lets the next batches, a little larger or smaller, reuse the buffer as it is.
    std::string& tuples = batch.out.rows.tuples;
    if (tuples.empty()) tuples = row_buffers().take();
    if (tuples.capacity() < batch.source_bytes) tuples.reserve(batch.source_bytes + batch.source_bytes / 4);
    for (const engine::Result& row : batch.source) {
        auto text = [&](int column) {
            return std::string_view(PQgetvalue(row.get(), 0, column),
                                    static_cast<std::size_t>(PQgetlength(row.get(), 0, column)));
        };
        ChatRow chat{text(0), text(1), std::nullopt};
        if (!PQgetisnull(row.get(), 0, 2)) chat.chat = text(2);
        transform.run(chat, batch.out);
    }
    if (batch.out.rows.outside.empty()) batch.source.clear();  // the rows are encoded: free the chat text now
}

}  // namespace sluice::stages
