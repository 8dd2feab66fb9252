// The cursor reader: snapshot, one cursor per range (engine::Cursor), batches cut by
// rows and bytes, a range_end batch after each range and an end batch after the last.
#include "stages/chat_message/chat_reader.h"

#include "engine/sessions.h"
#include "engine/shared_snapshot.h"
#include "stages/openwebui.h"

namespace sluice::stages {

namespace {
constexpr const char* kCursor = "sluice_chats";
}  // namespace

ChatReader::ChatReader(const ReaderSettings& settings, RangeQueue<ChatRange>& ranges, engine::InflightBudget& budget,
                       const std::atomic<bool>& stop)
    : settings_(settings),
      ranges_(ranges),
      budget_(budget),
      stop_(stop),
      conn_(settings.conninfo, settings.label),
      cursor_(conn_, kCursor, settings.fetch_rows) {
    // A stop request ends the stream at a batch boundary (next()); cancelling a FETCH would only
    // turn that clean end into an error.
    engine::sessions::set_cancellable(conn_.raw(), false);
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
    if (settings_.snapshot) engine::SharedSnapshot::import(conn_, *settings_.snapshot);
}

void ChatReader::open(const ChatRange& range) {
    std::string where = openwebui::kSelectedChats;  // also leaves out NULL user_id
    std::vector<std::optional<std::string>> params;
    if (range.resume_after()) {
        params.push_back(range.resume_after());
        where += " AND id > $" + std::to_string(params.size());
    }
    if (range.upper) {
        params.push_back(range.upper);
        where += " AND id <= $" + std::to_string(params.size());
    }
    const std::string chats = engine::qualified(settings_.schema, openwebui::kChat);
    // `chat` as its type's text output: the very bytes `chat::text` gives (that cast is the same
    // output function, then a copy into a text value), for about 40% less of the server's CPU
    // (measured on json); the reader's backend is a third of the server's work in a backfill.
    cursor_.open("SELECT id, user_id, chat FROM " + chats + where + " ORDER BY id", params);
    range_ = &range;
}

std::unique_ptr<ChatBatch> ChatReader::end(bool interrupted) {
    auto batch = std::make_unique<ChatBatch>();
    batch->kind = engine::BatchKind::end;
    batch->interrupted = interrupted;
    if (!interrupted) conn_.exec("COMMIT");  // read only: ends the snapshot
    return batch;
}

std::unique_ptr<ChatBatch> ChatReader::next() {
    std::unique_ptr<ChatBatch> batch = read();
    batch->seq = seq_++;  // numbered as sent: the lane's sequencer waits for every number
    return batch;
}

std::unique_ptr<ChatBatch> ChatReader::read() {
    if (stop_.load()) return end(true);
    if (range_read_) {  // after the range's last rows, its end
        auto batch = std::make_unique<ChatBatch>();
        batch->kind = engine::BatchKind::range_end;
        batch->range = range_;
        range_read_ = false;
        range_ = nullptr;
        return batch;
    }
    if (!range_) {
        const ChatRange* range = ranges_.next();
        if (!range) return end(false);
        open(*range);
    }
    auto batch = std::make_unique<ChatBatch>();
    batch->range = range_;
    while (batch->chats < settings_.batch_rows && batch->source_bytes < settings_.batch_bytes) {
        if (!pending_) pending_ = cursor_.next();
        if (!pending_) {
            range_read_ = true;
            break;
        }
        std::size_t bytes = static_cast<std::size_t>(PQgetlength(pending_.get(), 0, 2));
        bool opens = batch->chats == 0;
        if (!budget_.try_take(bytes, opens)) {
            if (!opens) break;  // send what we have; this chat opens the next batch
            if (!flushed_) {
                // The writer frees budget only by committing: ask it to, before waiting.
                flushed_ = true;
                held_up_.store(true);  // before the flush leaves: the writer must not find it unset
                batch->kind = engine::BatchKind::flush;
                return batch;
            }
            if (!budget_.take(bytes, opens)) return end(true);  // cancelled: another stage failed
        }
        flushed_ = false;
        held_up_.store(false);
        if (opens) batch->first_chat_id = PQgetvalue(pending_.get(), 0, 0);
        batch->source_bytes += bytes;
        ++batch->chats;
        batch->source.push_back(std::move(pending_));
    }
    if (batch->chats == 0) return read();  // the range had nothing more: its end batch
    batch->last_chat_id = PQgetvalue(batch->source.back().get(), 0, 0);
    return batch;
}

}  // namespace sluice::stages
