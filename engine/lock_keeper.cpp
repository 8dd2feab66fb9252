// The lock's keeper: RunLock::held() every half second, reacquire() when it is lost, the fence's
// token read to tell a lock that nobody took from a run that came and went meanwhile.
#include "engine/lock_keeper.h"

#include "engine/sessions.h"

namespace sluice::engine {

namespace {

constexpr const char* kEnded = "this run's lock session was ended (an idle-connection reaper, a DBA, a proxy?)";

}  // namespace

LockKeeper::LockKeeper(RunLock& lock, RunFence& fence, std::function<void(const std::string&)> say,
                       std::chrono::milliseconds every)
    : lock_(lock), fence_(fence), say_(std::move(say)), every_(every), thread_([this] { run(); }) {}

LockKeeper::~LockKeeper() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        done_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void LockKeeper::keep() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        look();
    }
    fence_.check();
}

void LockKeeper::look() {
    if (fence_.lost() || lock_.held()) return;
    // Throws PgError when the server cannot be reached: the caller tries again later.
    std::optional<LockHolder> holder = lock_.reacquire();
    std::string why;
    if (holder) {
        why = std::string(kEnded) + ", and " + holder->describe() + " holds the lock now";
    } else if (!fence_.ours(*lock_.connection())) {
        // Nobody holds the lock, but a run held it meanwhile: it replaced this run's token.
        why = std::string(kEnded) + ", and another run held the lock meanwhile (it replaced this run's token in " +
              fence_.qualified_name() + ")";
    } else {
        say_(std::string(kEnded) + ": took the lock again; the run goes on");
        return;
    }
    fence_.lose(why);
    sessions::cancel_all();
}

void LockKeeper::run() {
    for (std::unique_lock<std::mutex> lock(mutex_); !done_;) {
        if (wake_.wait_for(lock, every_, [this] { return done_; })) break;
        try {
            look();
        } catch (const std::exception&) {
            // The server cannot be reached just now: the run's own steps meet that and retry; so do we.
        }
    }
}

}  // namespace sluice::engine
