// The in-flight budget: what bounds sluice's memory. A batch takes its share when the reader
// reads it and gives it back when the writer has committed it, so batches and bytes of source
// data between the two are capped whatever the size of the database. Thread-safe; several
// readers (lanes) may share one budget: those that wait are served in the order they came, and
// while one waits no other takes past it, so a record that needs the whole budget gets it.
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

    // Takes `bytes` (and a batch slot when `opens_batch`) if they fit now and nobody waits.
    // Anything fits when nothing is in flight, so a single record larger than the byte cap still
    // goes through, alone.
    bool try_take(std::size_t bytes, bool opens_batch);
    // The same, waiting for room, after those that waited first. False when cancelled.
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
    std::uint64_t next_ticket_ = 0;  // waiters in take() hold tickets and are served in order
    std::uint64_t serving_ = 0;      // the ticket whose holder may take next; == next_ticket_: none waits
    std::atomic<bool> wanted_{false};
};

}  // namespace sluice::engine
