// COPY into the work table, then the rejects, the UPDATE and the checkpoint, in one transaction.
#include "stages/current_message/value_writer.h"

#include <cstdlib>

#include "engine/copy_binary.h"

namespace sluice::stages::current_message {

namespace {
constexpr const char* kWork = "sluice_current_message_work";
// The rule's rejects are Python's exceptions, not PostgreSQL's: class 22, the data is at fault.
constexpr const char* kRejectState = "22000";

std::uint64_t affected(const engine::Result& r) {
    return std::strtoull(PQcmdTuples(r.get()), nullptr, 10);
}
}  // namespace

engine::RejectTable reject_table(const std::string& schema) {
    return engine::RejectTable(schema, kRejectTable, "chat_id", "current_message_id");
}

void ValueTally::add(const ValueTally& other) {
    chats += other.chats;
    updated += other.updated;
    rejected += other.rejected;
}

ValueWriter::ValueWriter(engine::Connection& conn, std::string schema)
    : conn_(conn), schema_(std::move(schema)), rejects_(reject_table(schema_)) {}

ValueWriter::~ValueWriter() {
    if (open_ && PQtransactionStatus(conn_.raw()) != PQTRANS_IDLE) PQclear(PQexec(conn_.raw(), "ROLLBACK"));
}

// Not engine::in_transaction: the transaction spans the add() calls of several batches.
void ValueWriter::begin() {
    conn_.exec("BEGIN");
    open_ = true;
    chats_ = 0;
    // Made in the transaction, not once per session: behind a pooler the next transaction may
    // run in another server session.
    conn_.exec("CREATE TEMPORARY TABLE IF NOT EXISTS " + engine::quote_ident(kWork) +
               " (id text NOT NULL, value text, current text, reject text) ON COMMIT DELETE ROWS");
}

void ValueWriter::add(const ChatKeysBatch& batch) {
    if (batch.count() == 0) return;
    try {
        if (!open_) {
            begin();
            first_ = batch.first_chat_id;
        }
        last_ = batch.last_chat_id;
        chats_ += batch.count();
        tuples_.clear();
        engine::TupleEncoder enc(tuples_);
        for (std::size_t i = 0; i < batch.count(); ++i) {
            const ChatInput& chat = batch.chats[i];
            const Decision& d = batch.decisions[i];
            std::optional<std::string_view> value = d.reject.empty() ? d.write(chat.current) : std::nullopt;
            if (!value && d.reject.empty()) continue;  // nothing to write, nothing to say
            enc.begin_row(4);
            enc.bytes(chat.id);
            value ? enc.bytes(*value) : enc.null();
            chat.current ? enc.bytes(*chat.current) : enc.null();
            d.reject.empty() ? enc.null() : enc.bytes(engine::RejectTable::key_text(d.reject));
        }
        if (!tuples_.empty())
            conn_.copy_binary("COPY " + engine::quote_ident(kWork) + " FROM STDIN (FORMAT binary)", {tuples_});
    } catch (...) {
        rollback();
        throw;
    }
}

// The rejects of the chats committed are replaced (a chat committed again is judged again),
// then the values that differ are written.
void ValueWriter::apply(ValueTally& tally) {
    const std::string work = engine::quote_ident(kWork);
    const std::string& table = rejects_.qualified_name();
    conn_.exec("DELETE FROM " + table + " WHERE chat_id COLLATE \"C\" >= $1 AND chat_id COLLATE \"C\" <= $2",
               {first_, last_});
    engine::Result rejected = conn_.exec("INSERT INTO " + table +
                                         " (chat_id, current_message_id, sqlstate, message, found_by)"
                                         " SELECT id, current, '" +
                                         kRejectState + "', reject, 'transform' FROM " + work +
                                         " WHERE reject IS NOT NULL ORDER BY id COLLATE \"C\"");
    // The work table's statistics first: without them the planner takes it for a thousand rows or
    // more and scans all of chat for every commit (4.2 s of a 10 s run at 20,000 chats), where its
    // hundred or so chats are found through chat's key.
    conn_.exec("ANALYZE " + work);
    engine::Result updated =
        conn_.exec("UPDATE " + engine::qualified(schema_, "chat") + " c SET current_message_id = w.value FROM " + work +
                   " w WHERE w.value IS NOT NULL AND c.id = w.id AND c.current_message_id IS DISTINCT FROM w.value");
    tally.updated = affected(updated);
    tally.rejected = affected(rejected);
}

ValueTally ValueWriter::commit(const std::function<void(engine::Connection&, const ValueTally&)>& checkpoint) {
    ValueTally tally;
    try {
        if (!open_) begin();  // nothing added: the checkpoint alone
        if (chats_ > 0) apply(tally);
        tally.chats = chats_;
        checkpoint(conn_, tally);
        conn_.exec("COMMIT");
        open_ = false;
    } catch (...) {
        rollback();
        throw;
    }
    return tally;
}

void ValueWriter::rollback() {
    if (PQtransactionStatus(conn_.raw()) != PQTRANS_IDLE) PQclear(PQexec(conn_.raw(), "ROLLBACK"));
    open_ = false;
}

}  // namespace sluice::stages::current_message
