// Ranges in, budgeted batches out.
#include "stages/current_message/range_reader.h"

namespace sluice::stages::current_message {

RangeReader::RangeReader(const ChatKeysSettings& settings, RangeQueue<ValueRange>& ranges,
                         engine::InflightBudget& budget, const std::atomic<bool>& stop)
    : keys_(settings), ranges_(ranges), budget_(budget), stop_(stop) {}

std::unique_ptr<ChatKeysBatch> RangeReader::next() {
    std::unique_ptr<ChatKeysBatch> batch = read();
    batch->seq = seq_++;  // numbered as sent: the lane's sequencer waits for every number
    return batch;
}

std::unique_ptr<ChatKeysBatch> RangeReader::marker(engine::BatchKind kind) {
    auto batch = std::make_unique<ChatKeysBatch>();
    batch->kind = kind;
    batch->range_no = range_ ? range_->no : -1;
    return batch;
}

std::unique_ptr<ChatKeysBatch> RangeReader::end(bool interrupted) {
    auto batch = marker(engine::BatchKind::end);
    batch->interrupted = interrupted;
    if (!interrupted) keys_.finish();  // read only: ends the snapshot
    return batch;
}

bool RangeReader::fill() {
    pending_ = std::make_unique<ChatKeysBatch>();
    pending_->range_no = range_->no;
    if (keys_.next(*pending_)) return true;
    pending_.reset();
    return false;
}

std::unique_ptr<ChatKeysBatch> RangeReader::read() {
    if (stop_.load()) return end(true);
    if (!pending_) {
        if (range_ && !fill()) {  // the range is read to its end: the writer commits it complete
            auto batch = marker(engine::BatchKind::range_end);
            range_ = nullptr;
            return batch;
        }
        if (!range_) {
            range_ = ranges_.next();
            if (!range_) return end(false);
            keys_.open({range_->resume_after(), range_->upper, /*after_lo=*/true, /*upto_hi=*/true});
            return read();
        }
    }
    // The batch is read before the budget is asked: memory is the budget plus one batch per lane.
    const std::size_t bytes = pending_->source_bytes;
    if (!budget_.try_take(bytes, true)) {
        if (!flushed_) {
            // The writer frees budget only by committing: ask it to, before waiting.
            flushed_ = true;
            return marker(engine::BatchKind::flush);
        }
        if (!budget_.take(bytes, true)) return end(true);  // cancelled: another stage failed
    }
    flushed_ = false;
    pending_->budget_bytes = bytes;
    return std::move(pending_);
}

}  // namespace sluice::stages::current_message
