// SIGINT and SIGTERM, as docker stop and Kubernetes send them. The first asks the run to stop:
// the stop flag is set, and a watcher thread cancels the statement every cancellable session
// runs (engine/sessions.h), so a long CREATE INDEX or lock wait ends within a second. A second
// signal ends the process at once, with the signal's exit status. One per process, in main.
#pragma once

#include <atomic>
#include <thread>

namespace sluice::engine {

class StopOnSignals {
public:
    StopOnSignals();   // installs the handlers and starts the watcher
    ~StopOnSignals();  // stops the watcher (the handlers stay: a late signal still ends the process)
    StopOnSignals(const StopOnSignals&) = delete;
    StopOnSignals& operator=(const StopOnSignals&) = delete;

    const std::atomic<bool>& stop() const;
    // The exit status for a run that stopped because it was asked to: 128 + the signal's number
    // (130 for SIGINT, 143 for SIGTERM).
    static int interrupted_status();

private:
    std::atomic<bool> done_{false};
    std::thread watcher_;
};

}  // namespace sluice::engine
