// The session registry: one mutex, a map from libpq handle to its cancel object and label.
#include "engine/sessions.h"

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

}  // namespace

void add(PGconn* conn, const std::string& label) {
    std::lock_guard<std::mutex> lock(g_mutex);
    registry()[conn] = Entry{PQgetCancel(conn), label, PQbackendPID(conn), true};
}

void remove(PGconn* conn) {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = registry().find(conn);
    if (it == registry().end()) return;
    if (it->second.cancel) PQfreeCancel(it->second.cancel);
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

std::vector<Session> all() {
    std::lock_guard<std::mutex> lock(g_mutex);
    std::vector<Session> out;
    for (const auto& [conn, entry] : registry()) out.push_back({entry.pid, entry.label});
    return out;
}

}  // namespace sluice::engine::sessions
