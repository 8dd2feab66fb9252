// The signal handlers touch only lock-free atomics and _exit; the watcher thread does the rest.
#include "engine/stop_signals.h"

#include <unistd.h>

#include <chrono>
#include <csignal>

#include "engine/sessions.h"

namespace sluice::engine {

namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};

extern "C" void on_signal(int sig) {
    if (g_stop.exchange(true)) _exit(128 + sig);  // the second signal: the operator means it
    g_signal.store(sig);
}

}  // namespace

StopOnSignals::StopOnSignals() {
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    watcher_ = std::thread([this] {
        while (!done_.load() && !g_stop.load())
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (g_stop.load()) sessions::cancel_all();
    });
}

StopOnSignals::~StopOnSignals() {
    done_.store(true);
    watcher_.join();
}

const std::atomic<bool>& StopOnSignals::stop() const {
    return g_stop;
}

int StopOnSignals::interrupted_status() {
    int sig = g_signal.load();
    return 128 + (sig ? sig : SIGINT);
}

}  // namespace sluice::engine
