// The lane's writer: transactions of several batches, each committed with its range's checkpoint.
#include "stages/current_message/range_writer.h"

#include <stdexcept>

#include "engine/run_fence.h"
#include "engine/sessions.h"
#include "stages/current_message/checkpoint.h"
#include "stages/shared/too_many_rejects.h"

namespace sluice::stages::current_message {

RangeWriter::RangeWriter(const RangeWriterSettings& settings, engine::InflightBudget& budget,
                         engine::RunCounters& counters, engine::RejectLimit& limit)
    : settings_(settings),
      budget_(budget),
      counters_(counters),
      limit_(limit),
      conn_(settings.conninfo, settings.label),
      values_(conn_, settings.schema) {
    // Losing the last few commits to a server crash is safe: the checkpoint goes with them.
    conn_.exec("SET synchronous_commit = off");
    // A stop request lets the writer commit what it holds: it must not be cancelled mid-COPY.
    engine::sessions::set_cancellable(conn_.raw(), false);
}

void RangeWriter::write(ChatKeysBatch& batch) {
    engine::check_fence();  // another run took over: write nothing more
    switch (batch.kind) {
        case engine::BatchKind::data:
            return add(batch);
        case engine::BatchKind::flush:
            return commit();
        case engine::BatchKind::range_end:
            range_no_ = batch.range_no;
            completes_ = true;
            return commit();
        case engine::BatchKind::end:
            interrupted_ = batch.interrupted;
            return commit();
    }
}

void RangeWriter::add(const ChatKeysBatch& batch) {
    // The reader ends a range before it reads the next, so a transaction never holds two.
    if (values_.pending() && range_no_ != batch.range_no)
        throw std::logic_error("writer: chats of a new range before the last one was committed");
    if (!values_.pending()) started_ = std::chrono::steady_clock::now();
    range_no_ = batch.range_no;
    values_.add(batch);
    last_ = batch.last_chat_id;
    for (const Decision& d : batch.decisions)
        rejects_ += d.reject.empty() ? 0 : 1;
    ++batches_;
    bytes_ += batch.budget_bytes;
    // Also commit when a reader waits for budget: only a commit gives it back.
    if (std::chrono::steady_clock::now() - started_ >= settings_.commit_every || bytes_ >= settings_.commit_bytes ||
        budget_.wanted())
        commit();
}

void RangeWriter::commit() {
    if (!values_.pending() && !completes_) return;
    // Checked before the commit that would pass the limit: the checkpoint never records more,
    // so a rerun meets the same chats and stops the same way.
    std::uint64_t total = 0;
    if (!limit_.reserve(rejects_, total)) {
        values_.rollback();
        throw TooManyRejectsError(std::to_string(total) + " chats rejected, more than --max-rejects " +
                                  std::to_string(*limit_.limit()) +
                                  " allows; the batch that passed it was not "
                                  "committed (the rejects so far are in " +
                                  reject_table(settings_.schema).qualified_name() + ")");
    }
    ValueTally tally;
    try {
        tally = values_.commit([&](engine::Connection& conn, const ValueTally& done) {
            save_commit(conn, settings_.schema, range_no_, last_, completes_, done);
        });
    } catch (...) {
        limit_.release(rejects_);
        throw;
    }
    engine::mark_progress();
    counters_.rows_written += tally.updated;
    if (settings_.lane < counters_.lane_rows.size()) counters_.lane_rows[settings_.lane] += tally.updated;
    budget_.give_back(batches_, bytes_);
    batches_ = bytes_ = 0;
    rejects_ = 0;
    last_.reset();
    completes_ = false;
}

}  // namespace sluice::stages::current_message
