// Lock waits made visible: while it lives, a LockWatch looks every half second (from a moment
// before the first wait could be due) at this process's sessions (engine/sessions.h) and reports
// each one that has waited for a lock longer than a few seconds, naming the session that blocks
// it (pid, application, query), again every few seconds while the wait lasts. A stop request
// cancels the waiting statement like any other.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace sluice::engine {

class Connection;

// Another session that holds, or waits for, an ACCESS EXCLUSIVE lock on `relation` (a name as
// to_regclass() takes it): any read of the relation would wait behind it. Described as "pid 123
// (psql, running: LOCK TABLE chat ...)"; empty when there is none. Asking takes no lock itself.
std::optional<std::string> exclusive_locker(Connection& conn, const std::string& relation);

class LockWatch {
public:
    // `say` gets one line per report; it is called on the watcher's own thread. The watcher has
    // a connection of its own; when it cannot connect it watches nothing, silently: the run is
    // what matters, not its reports.
    LockWatch(std::string conninfo, std::function<void(const std::string&)> say,
              std::chrono::seconds after = std::chrono::seconds(5),
              std::chrono::seconds every = std::chrono::seconds(10));
    ~LockWatch();
    LockWatch(const LockWatch&) = delete;
    LockWatch& operator=(const LockWatch&) = delete;

private:
    void run();

    std::string conninfo_;
    std::function<void(const std::string&)> say_;
    std::chrono::seconds after_, every_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool done_ = false;
    std::thread thread_;
};

}  // namespace sluice::engine
