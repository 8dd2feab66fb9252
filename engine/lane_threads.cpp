// The run's first error: a mutex, the exception, and the budget it cancels.
#include "engine/lane_threads.h"

namespace sluice::engine {

void FirstError::record(std::exception_ptr error) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::move(error);
    }
    budget_.cancel();
}

void FirstError::rethrow() {
    std::exception_ptr error;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        error = error_;
    }
    if (error) std::rethrow_exception(error);
}

}  // namespace sluice::engine
