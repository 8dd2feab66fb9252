// The session registry: one mutex, a map from libpq handle to its cancel object and label.
#include "engine/sessions.h"

#include <deque>
#include <map>
#include <mutex>

namespace sluice::engine::sessions {

namespace {

struct Entry {
    PGcancel* cancel = nullptr;
    std::string label;
    int pid = 0;
    bool cancellable = true;
};

std::mutex g_mutex;
std::map<PGconn*, Entry>& registry() {
    static std::map<PGconn*, Entry> sessions;
    return sessions;
}

// More than a run closes in the moment its backends take to exit.
constexpr std::size_t kClosedKept = 64;
std::deque<int>& closed_pids() {
    static std::deque<int> pids;
    return pids;
}

}  // namespace

void add(PGconn* conn, const std::string& label, int pid) {
    std::lock_guard<std::mutex> lock(g_mutex);
    registry()[conn] = Entry{PQgetCancel(conn), label, pid, true};
}

void remove(PGconn* conn) {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = registry().find(conn);
    if (it == registry().end()) return;
    if (it->second.cancel) PQfreeCancel(it->second.cancel);
    closed_pids().push_back(it->second.pid);
    if (closed_pids().size() > kClosedKept) closed_pids().pop_front();
    registry().erase(it);
}

void set_cancellable(PGconn* conn, bool cancellable) {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = registry().find(conn);
    if (it != registry().end()) it->second.cancellable = cancellable;
}

unsigned cancel_all() {
    std::lock_guard<std::mutex> lock(g_mutex);
    unsigned sent = 0;
    for (auto& [conn, entry] : registry()) {
        char error[256];
        // A session that runs nothing ignores the request; one whose server is gone fails it: both fine.
        if (entry.cancellable && entry.cancel && PQcancel(entry.cancel, error, sizeof error) == 1) ++sent;
    }
    return sent;
}

std::vector<int> closed() {
    std::lock_guard<std::mutex> lock(g_mutex);
    return {closed_pids().begin(), closed_pids().end()};
}

std::vector<Session> all() {
    std::lock_guard<std::mutex> lock(g_mutex);
    std::vector<Session> out;
    for (const auto& [conn, entry] : registry())
        out.push_back({entry.pid, entry.label});
    return out;
}

}  // namespace sluice::engine::sessions
