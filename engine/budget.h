// The in-flight budget: what bounds sluice's memory. A batch takes its share when the reader
// reads it and gives it back when the writer has committed it, so batches and bytes of source
// data between the two are capped whatever the size of the database. Thread-safe; several
// readers (lanes) may share one budget. A record larger than the byte cap fits only when nothing
// else is in flight: while one waits, nobody else takes, so the budget drains and it gets in.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace sluice::engine {

class InflightBudget {
public:
    InflightBudget(std::size_t max_batches, std::size_t max_bytes);

    // Takes `bytes` (and a batch slot when `opens_batch`) if they fit now, and no record larger
    // than the cap waits for the budget to drain. Anything fits when nothing is in flight, so a
    // single record larger than the byte cap still goes through, alone.
    bool try_take(std::size_t bytes, bool opens_batch);
    // The same, waiting for room. False when cancelled.
    bool take(std::size_t bytes, bool opens_batch);
    // Called by the writer after a commit.
    void give_back(std::size_t batches, std::size_t bytes);
    // True when a take found no room since the last give_back, or a taker waits: a reader is held
    // up, so the writers should commit (and give back) now rather than at their next interval.
    bool wanted() const { return wanted_.load(std::memory_order_relaxed); }
    // Wakes every waiter for good: the run is stopping.
    void cancel();

private:
    bool fits(std::size_t bytes, bool opens_batch);  // notes a miss in wanted_
    void add(std::size_t bytes, bool opens_batch);

    const std::size_t max_batches_;
    const std::size_t max_bytes_;
    mutable std::mutex mutex_;
    std::condition_variable room_;
    std::size_t batches_ = 0;
    std::size_t bytes_ = 0;
    bool cancelled_ = false;
    std::size_t waiting_ = 0;        // takers waiting in take()
    std::size_t waiting_alone_ = 0;  // of them, those whose record is larger than the cap
    std::atomic<bool> wanted_{false};
};

}  // namespace sluice::engine
