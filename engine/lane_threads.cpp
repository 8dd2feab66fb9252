// The run's first error: a mutex, the exception, and the budget it cancels.
#include "engine/lane_threads.h"

namespace sluice::engine {

void RunEnd::record(std::exception_ptr error) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::move(error);
    }
    budget_.cancel();
    changed_.notify_all();
}

void RunEnd::lane_ended() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ++ended_;
    }
    changed_.notify_all();
}

void RunEnd::wait_for(std::size_t lanes) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return error_ || ended_ >= lanes; });
}

void RunEnd::rethrow() {
    std::exception_ptr error;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        error = error_;
    }
    if (error) std::rethrow_exception(error);
}

}  // namespace sluice::engine
