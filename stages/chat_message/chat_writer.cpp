// The writer: transactions, range checkpoints, rejects and the budget given back after each commit.
#include "stages/chat_message/chat_writer.h"

#include <stdexcept>

#include "engine/run_fence.h"
#include "engine/sessions.h"
#include "stages/openwebui.h"
#include "stages/shared/too_many_rejects.h"

namespace sluice::stages {

namespace {
// PostgreSQL keeps 64 subtransactions per transaction in its cache; commit well before that.
constexpr std::size_t kMaxSavepointsPerTransaction = 48;
}  // namespace

ChatWriter::ChatWriter(const WriterSettings& settings, engine::InflightBudget& budget, engine::RunCounters& counters,
                       const engine::RejectTable& rejects, engine::RejectLimit& limit)
    : settings_(settings),
      budget_(budget),
      counters_(counters),
      rejects_(rejects),
      limit_(limit),
      conn_(settings.conninfo, settings.label),
      copy_(conn_, {settings.schema, settings.table, chat_message_columns(), settings.resync, settings.now}) {
    // Losing the last few commits to a server crash is safe: the checkpoint goes with them.
    conn_.exec("SET synchronous_commit = off");
    // A stop request lets the writer commit what it holds: it must not be cancelled mid-COPY.
    engine::sessions::set_cancellable(conn_.raw(), false);
}

void ChatWriter::write(ChatBatch& batch) {
    engine::check_fence();  // another run took over: write nothing more (its commit would be refused anyway)
    switch (batch.kind) {
        case engine::BatchKind::data:
            adopt(*batch.range);
            return write_rows(batch);
        case engine::BatchKind::flush:
            return flush();
        case engine::BatchKind::range_end:
            return end_range(*batch.range);
        case engine::BatchKind::end:
            interrupted_ = batch.interrupted;
            return commit();
    }
}

// A flush is sent when the reader found no room in the budget; by the time it comes here, a
// commit (every few MB) may have given the reader room again. Committing again then would only
// double the commits of a writer that the reader keeps ahead of (the usual case with one lane).
void ChatWriter::flush() {
    if (settings_.reader_held_up && !settings_.reader_held_up->load()) return;
    commit();
}

// The reader ends a range (and the writer commits it) before it reads the next one, so a
// transaction never holds the rows of two ranges.
void ChatWriter::adopt(const ChatRange& range) {
    if (range_ == &range) return;
    if (in_transaction_) throw std::logic_error("writer: rows of a new range before the last one was committed");
    range_ = &range;
    pending_ = range;
    committed_complete_ = range.complete;
}

// The BEGIN goes with the transaction's first COPY (engine/copy_writer.h), or before any other
// statement of it (begin_if_due()).
void ChatWriter::begin() {
    if (in_transaction_) return;
    copy_.begin_with_next();
    in_transaction_ = true;
    transaction_start_ = std::chrono::steady_clock::now();
}

void ChatWriter::end_range(const ChatRange& range) {
    adopt(range);
    if (settings_.resync && !committed_complete_) {
        // The chats after the last one read, up to the range's end, derive no rows (none selected).
        begin();
        removed_ += remove_others(range.upper, engine::Rows{});
    }
    pending_.complete = true;
    commit();
}

// The chats after the last one written, up to `upto`, in `chat`'s own order (the reader's: no
// other collation decides which chats these are), the ones the reader leaves out included: their
// rows are now `rows`, and no others.
std::uint64_t ChatWriter::remove_others(const std::optional<std::string>& upto, const engine::Rows& rows) {
    copy_.begin_if_due();
    std::string sql = "SELECT id FROM " + engine::qualified(settings_.schema, openwebui::kChat) + " WHERE true";
    std::vector<std::optional<std::string>> params;
    for (const auto& [bound, op] : {std::pair{pending_.resume_after(), " > "}, std::pair{upto, " <= "}}) {
        if (!bound) continue;
        params.push_back(bound);
        sql += std::string(" AND id") + op + "$" + std::to_string(params.size());
    }
    engine::Result chats = conn_.exec(sql, params);
    std::vector<std::string> ids;
    for (int i = 0; i < PQntuples(chats.get()); ++i)
        ids.emplace_back(PQgetvalue(chats.get(), i, 0));
    return copy_.remove_others(ids, rows);
}

void ChatWriter::write_rows(ChatBatch& batch) {
    begin();
    engine::WriteOutcome outcome;
    // The batch holds every chat after the last one read up to its own last: their rows are these.
    if (settings_.resync) outcome.removed = remove_others(batch.last_chat_id, batch.out.rows);
    copy_.write(batch.out.rows, outcome);

    pending_.last_chat_id = batch.last_chat_id;
    pending_.chats += batch.chats;
    pending_.bytes += batch.source_bytes;
    pending_.messages += outcome.written + outcome.updated;  // an updated row is written anew
    pending_.present += outcome.present;
    pending_.rejected += batch.out.rejects.size() + outcome.rejects.size();
    for (std::size_t i = 0; i < kSkipRules; ++i)
        pending_.skipped[i] += batch.out.skipped[i];
    for (auto& r : batch.out.rejects)
        pending_rejects_.push_back(std::move(r));
    for (auto& r : outcome.rejects)
        pending_rejects_.push_back(std::move(r));
    ++pending_batches_;
    pending_bytes_ += batch.source_bytes;

    updated_ += outcome.updated;
    removed_ += outcome.removed;
    counters_.rows_written += outcome.written + outcome.updated;
    if (settings_.lane < counters_.lane_rows.size())
        counters_.lane_rows[settings_.lane] += outcome.written + outcome.updated;

    // Also commit when another lane's reader waits for budget: only a commit gives it back.
    bool due = std::chrono::steady_clock::now() - transaction_start_ >= settings_.commit_every ||
               pending_bytes_ >= settings_.commit_bytes || copy_.savepoints() >= kMaxSavepointsPerTransaction ||
               (settings_.shares_budget && budget_.wanted());
    if (due) commit();
}

void ChatWriter::commit() {
    const bool completes = range_ && pending_.complete && !committed_complete_;
    if (!in_transaction_ && !completes) return;
    if (!in_transaction_) conn_.exec("BEGIN");
    copy_.begin_if_due();  // a transaction whose batches held no rows sent no COPY
    // Checked before the commit that would pass the limit: the checkpoint never records more,
    // so a rerun meets the same rows and fails the same way.
    const std::uint64_t adding = pending_rejects_.size();
    std::uint64_t total = 0;
    if (!limit_.reserve(adding, total)) {
        conn_.exec("ROLLBACK");
        in_transaction_ = false;
        throw TooManyRejectsError(std::to_string(total) + " messages rejected, more than --max-rejects " +
                                  std::to_string(*limit_.limit()) +
                                  " allows; the batch that passed it was "
                                  "not committed (the rejects so far are in " +
                                  rejects_.qualified_name() + ")");
    }
    try {
        // The rejects commit with the rows and the checkpoint that covers them: none is lost or doubled.
        rejects_.insert(conn_, pending_rejects_);
        save_range(conn_, settings_.schema, settings_.table, pending_);
        conn_.exec("COMMIT");
    } catch (...) {
        limit_.release(adding);
        throw;
    }
    engine::mark_progress();
    in_transaction_ = false;
    copy_.committed();
    committed_complete_ = pending_.complete;
    pending_rejects_.clear();
    budget_.give_back(pending_batches_, pending_bytes_);
    pending_batches_ = 0;
    pending_bytes_ = 0;
}

}  // namespace sluice::stages
