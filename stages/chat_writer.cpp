// The writer: transactions, checkpoints, rejects and the budget given back after each commit.
#include "stages/chat_writer.h"

#include <stdexcept>

#include "engine/sessions.h"

namespace sluice::stages {

namespace {
// PostgreSQL keeps 64 subtransactions per transaction in its cache; commit well before that.
constexpr std::size_t kMaxSavepointsPerTransaction = 48;
}

ChatWriter::ChatWriter(const WriterSettings& settings, engine::InflightBudget& budget, engine::RunCounters& counters,
                       const engine::RejectTable& rejects, const Checkpoint& start)
    : settings_(settings), budget_(budget), counters_(counters), rejects_(rejects),
      conn_(settings.conninfo, "writer"),
      copy_(conn_, {settings.schema, settings.table, chat_message_columns()}),
      committed_(start), pending_(start) {
    // Losing the last few commits to a server crash is safe: the checkpoint goes with them.
    conn_.exec("SET synchronous_commit = off");
    // A stop request lets the writer commit what it holds: it must not be cancelled mid-COPY.
    engine::sessions::set_cancellable(conn_.raw(), false);
}

void ChatWriter::write(ChatBatch& batch) {
    switch (batch.kind) {
        case engine::BatchKind::data: return write_rows(batch);
        case engine::BatchKind::flush: return commit(false);
        case engine::BatchKind::end:
            interrupted_ = batch.interrupted;
            return commit(true);
    }
}

void ChatWriter::write_rows(ChatBatch& batch) {
    if (!in_transaction_) {
        conn_.exec("BEGIN");
        in_transaction_ = true;
        transaction_start_ = std::chrono::steady_clock::now();
    }
    engine::WriteOutcome outcome;
    copy_.write(batch.out.rows, outcome);

    pending_.last_chat_id = batch.last_chat_id;
    pending_.chats += batch.chats;
    pending_.bytes += batch.source_bytes;
    pending_.messages += outcome.written;
    pending_.present += outcome.present;
    pending_.rejected += batch.out.rejects.size() + outcome.rejects.size();
    for (std::size_t i = 0; i < kSkipRules; ++i) pending_.skipped[i] += batch.out.skipped[i];
    for (auto& r : batch.out.rejects) pending_rejects_.push_back(std::move(r));
    for (auto& r : outcome.rejects) pending_rejects_.push_back(std::move(r));
    ++pending_batches_;
    pending_bytes_ += batch.source_bytes;

    counters_.rows_written += outcome.written;

    // Also commit when the reader waits for budget: only a commit gives it back.
    bool due = std::chrono::steady_clock::now() - transaction_start_ >= settings_.commit_every ||
               pending_bytes_ >= settings_.commit_bytes || copy_.savepoints() >= kMaxSavepointsPerTransaction ||
               budget_.wanted();
    if (due) commit(false);
}

void ChatWriter::commit(bool final) {
    if (!in_transaction_ && !final) return;
    if (!in_transaction_) conn_.exec("BEGIN");
    // Checked before the commit that would pass the limit: the checkpoint never records more,
    // so a rerun meets the same rows and fails the same way.
    if (settings_.max_rejects && pending_.rejected > *settings_.max_rejects) {
        conn_.exec("ROLLBACK");
        in_transaction_ = false;
        throw std::runtime_error(std::to_string(pending_.rejected) + " messages rejected, more than --max-rejects " +
                                 std::to_string(*settings_.max_rejects) + " allows; the batch that passed it was "
                                 "not committed (the rejects so far are in " + rejects_.qualified_name() + ")");
    }
    // The rejects commit with the rows and the checkpoint that covers them: none is lost or doubled.
    rejects_.insert(conn_, pending_rejects_);
    pending_.complete = final && !interrupted_;
    pending_.target = settings_.table;
    save_checkpoint(conn_, settings_.schema, pending_);
    conn_.exec("COMMIT");
    engine::mark_progress();
    in_transaction_ = false;
    copy_.committed();
    committed_ = pending_;
    pending_rejects_.clear();
    budget_.give_back(pending_batches_, pending_bytes_);
    pending_batches_ = 0;
    pending_bytes_ = 0;
}

}  // namespace sluice::stages
