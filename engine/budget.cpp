// The in-flight budget: a mutex, a condition variable and two counters.
#include "engine/budget.h"

#include <algorithm>

namespace sluice::engine {

InflightBudget::InflightBudget(std::size_t max_batches, std::size_t max_bytes)
    : max_batches_(std::max<std::size_t>(1, max_batches)), max_bytes_(std::max<std::size_t>(1, max_bytes)) {}

bool InflightBudget::fits(std::size_t bytes, bool opens_batch) {
    bool room = (batches_ == 0 && bytes_ == 0) ||
                ((!opens_batch || batches_ < max_batches_) && bytes_ + bytes <= max_bytes_);
    if (!room) wanted_.store(true, std::memory_order_relaxed);
    return room;
}

void InflightBudget::add(std::size_t bytes, bool opens_batch) {
    batches_ += opens_batch ? 1 : 0;
    bytes_ += bytes;
}

bool InflightBudget::try_take(std::size_t bytes, bool opens_batch) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cancelled_ || serving_ != next_ticket_ || !fits(bytes, opens_batch)) return false;
    add(bytes, opens_batch);
    return true;
}

bool InflightBudget::take(std::size_t bytes, bool opens_batch) {
    std::unique_lock<std::mutex> lock(mutex_);
    const std::uint64_t ticket = next_ticket_++;
    room_.wait(lock, [&] { return cancelled_ || (serving_ == ticket && fits(bytes, opens_batch)); });
    if (cancelled_) return false;
    add(bytes, opens_batch);
    ++serving_;
    lock.unlock();
    room_.notify_all();  // the next in line may fit too
    return true;
}

void InflightBudget::give_back(std::size_t batches, std::size_t bytes) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        batches_ -= std::min(batches, batches_);
        bytes_ -= std::min(bytes, bytes_);
        wanted_.store(serving_ != next_ticket_, std::memory_order_relaxed);
    }
    room_.notify_all();
}

void InflightBudget::cancel() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        cancelled_ = true;
    }
    room_.notify_all();
}

}  // namespace sluice::engine
