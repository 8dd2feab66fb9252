// The cursor reader: snapshot, DECLARE, FETCH in single-row mode, batches cut by rows and bytes.
#include "stages/chat_reader.h"

#include "engine/sessions.h"

namespace sluice::stages {

namespace {
constexpr const char* kCursor = "sluice_chats";
}

ChatReader::ChatReader(const ReaderSettings& settings, engine::InflightBudget& budget, const std::atomic<bool>& stop)
    : settings_(settings), budget_(budget), stop_(stop), conn_(settings.conninfo, "reader") {
    // A database that is not UTF-8 can hold bytes our tuples must not pass on unchecked.
    engine::Result enc = conn_.exec("SHOW server_encoding");
    std::string encoding = PQgetvalue(enc.get(), 0, 0);
    validate_utf8_ = encoding != "UTF8";
    // SQL_ASCII stores any bytes and converts nothing, yet checks what it sends as the client
    // encoding: as UTF8, one chat with a byte that is not UTF-8 fails the whole FETCH. As
    // SQL_ASCII the bytes come as stored, and the transform rejects the messages they reach.
    // Other encodings are converted to UTF8 by the server, as they should be.
    if (encoding == "SQL_ASCII") conn_.exec("SET client_encoding = 'SQL_ASCII'");

    conn_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    std::string table = engine::qualified(settings_.schema, "chat");
    std::string where = " WHERE NOT (user_id LIKE 'shared-%')";  // also leaves out NULL user_id
    std::vector<std::optional<std::string>> params;
    if (settings_.after_chat_id) {
        where += " AND id > $1";
        params.push_back(settings_.after_chat_id);
    }
    engine::Result count = conn_.exec("SELECT count(*) FROM " + table + where, params);
    chats_to_read_ = std::strtoull(PQgetvalue(count.get(), 0, 0), nullptr, 10);
    conn_.exec("DECLARE " + std::string(kCursor) + " NO SCROLL CURSOR FOR SELECT id, user_id, chat::text FROM " +
                   table + where + " ORDER BY id",
               params);
    // From here on a stop request ends the stream at a batch boundary (next()); cancelling a
    // FETCH would only turn that clean end into an error. The count above stays cancellable.
    engine::sessions::set_cancellable(conn_.raw(), false);
}

engine::Result ChatReader::pull() {
    if (exhausted_) return nullptr;
    if (!fetching_) {
        conn_.send_single_row_query("FETCH FORWARD " + std::to_string(settings_.fetch_rows) + " FROM " + kCursor);
        fetching_ = true;
        fetched_ = 0;
    }
    if (engine::Result row = conn_.next_row()) {
        ++fetched_;
        return row;
    }
    fetching_ = false;
    if (fetched_ < settings_.fetch_rows) {  // a short FETCH: the cursor is at its end
        exhausted_ = true;
        conn_.exec("COMMIT");  // read only: ends the snapshot and closes the cursor
        return nullptr;
    }
    return pull();
}

std::unique_ptr<ChatBatch> ChatReader::next() {
    auto batch = std::make_unique<ChatBatch>();
    batch->seq = seq_++;
    if (stop_.load()) {
        batch->kind = engine::BatchKind::end;
        batch->interrupted = true;
        return batch;
    }
    while (batch->chats < settings_.batch_rows && batch->source_bytes < settings_.batch_bytes) {
        if (!pending_) pending_ = pull();
        if (!pending_) break;
        std::size_t bytes = static_cast<std::size_t>(PQgetlength(pending_.get(), 0, 2));
        bool opens = batch->chats == 0;
        if (!budget_.try_take(bytes, opens)) {
            if (!opens) break;  // send what we have; this chat opens the next batch
            if (!flushed_) {
                // The writer frees budget only by committing: ask it to, before waiting.
                flushed_ = true;
                batch->kind = engine::BatchKind::flush;
                return batch;
            }
            if (!budget_.take(bytes, opens)) {  // cancelled: another stage failed
                batch->kind = engine::BatchKind::end;
                batch->interrupted = true;
                return batch;
            }
        }
        flushed_ = false;
        if (opens) batch->first_chat_id = PQgetvalue(pending_.get(), 0, 0);
        batch->source_bytes += bytes;
        ++batch->chats;
        batch->source.push_back(std::move(pending_));
    }
    if (batch->chats == 0) batch->kind = engine::BatchKind::end;
    else batch->last_chat_id = PQgetvalue(batch->source.back().get(), 0, 0);
    return batch;
}

}  // namespace sluice::stages
