// The in-flight budget: a mutex, a condition variable and two counters.
#include "engine/budget.h"

#include <algorithm>

namespace sluice::engine {

InflightBudget::InflightBudget(std::size_t max_batches, std::size_t max_bytes)
    : max_batches_(std::max<std::size_t>(1, max_batches)), max_bytes_(std::max<std::size_t>(1, max_bytes)) {}

bool InflightBudget::fits(std::size_t bytes, bool opens_batch) {
    bool room =
        (batches_ == 0 && bytes_ == 0) || ((!opens_batch || batches_ < max_batches_) && bytes_ + bytes <= max_bytes_);
    if (!room) wanted_.store(true, std::memory_order_relaxed);
    return room;
}

void InflightBudget::add(std::size_t bytes, bool opens_batch) {
    batches_ += opens_batch ? 1 : 0;
    bytes_ += bytes;
}

bool InflightBudget::try_take(std::size_t bytes, bool opens_batch) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cancelled_ || waiting_alone_ > 0 || !fits(bytes, opens_batch)) return false;
    add(bytes, opens_batch);
    return true;
}

bool InflightBudget::take(std::size_t bytes, bool opens_batch) {
    std::unique_lock<std::mutex> lock(mutex_);
    const bool alone = bytes > max_bytes_;  // fits only when nothing else is in flight
    ++waiting_;
    waiting_alone_ += alone ? 1 : 0;
    room_.wait(lock, [&] { return cancelled_ || ((alone || waiting_alone_ == 0) && fits(bytes, opens_batch)); });
    --waiting_;
    waiting_alone_ -= alone ? 1 : 0;
    if (cancelled_) return false;
    add(bytes, opens_batch);
    if (alone) room_.notify_all();  // those it held back may go on once it is committed
    return true;
}

void InflightBudget::give_back(std::size_t batches, std::size_t bytes) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        batches_ -= std::min(batches, batches_);
        bytes_ -= std::min(bytes, bytes_);
        wanted_.store(waiting_ > 0, std::memory_order_relaxed);
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
