// Keeps the run's lock while the run lasts. The lock's session (engine/run_lock.h) is idle all
// run long, and an idle-connection reaper, a DBA's pg_terminate_backend or a proxy may end it: the
// server then releases the lock, and a run that waits for it takes it. A LockKeeper asks every
// half second whether the lock is still held, and when it is not, takes it again at once. When
// another run holds it by then, or has taken this run's fence meanwhile (engine/run_fence.h),
// this run has been taken over: the keeper loses the fence, so that no writer commits again, and
// cancels the statement of every cancellable session (an index build, a validation, a lock wait),
// so that the run stops promptly.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "engine/run_fence.h"
#include "engine/run_lock.h"

namespace sluice::engine {

class LockKeeper {
public:
    // `lock` is held and `fence` taken; from now on only the keeper uses `lock`. `say` gets one
    // line when the lock was lost and taken again (on the keeper's thread).
    LockKeeper(RunLock& lock, RunFence& fence, std::function<void(const std::string&)> say,
               std::chrono::milliseconds every = std::chrono::milliseconds(500));
    ~LockKeeper();
    LockKeeper(const LockKeeper&) = delete;
    LockKeeper& operator=(const LockKeeper&) = delete;

    // The same look, now, on the caller's thread (between phases, and when a step failed: was it
    // taken over?). Throws RunTakenOver when the run has been taken over, and PgError when the
    // lock was lost and the server cannot be reached to take it again.
    void keep();

private:
    void look();  // with mutex_ held
    void run();

    RunLock& lock_;
    RunFence& fence_;
    std::function<void(const std::string&)> say_;
    std::chrono::milliseconds every_;
    std::mutex mutex_;  // one look at a time: RunLock is not thread-safe
    std::condition_variable wake_;
    bool done_ = false;
    std::thread thread_;
};

}  // namespace sluice::engine
