// The fence: a random token per run, an upsert that waits for FOR SHARE row locks, and the check.
#include "engine/run_fence.h"

#include <cstdio>
#include <random>

namespace sluice::engine {

namespace {

std::atomic<RunFence*> g_current{nullptr};

constexpr const char* kUndefinedTable = "42P01";

// 128 random bits as hex: two runs never draw the same token.
std::string new_token() {
    std::random_device random;
    std::string out;
    for (int i = 0; i < 4; ++i) {
        char part[9];
        std::snprintf(part, sizeof part, "%08x", static_cast<unsigned>(random()));
        out += part;
    }
    return out;
}

}  // namespace

RunFence::RunFence(std::string schema, std::string table, std::string key)
    : table_(qualified(schema, table)),
      key_(std::move(key)),
      token_(new_token()),
      previous_(g_current.exchange(this)) {}

RunFence::~RunFence() {
    g_current.store(previous_);
}

RunFence* RunFence::current() {
    return g_current.load();
}

void RunFence::take(Connection& conn, const std::function<void()>& creating) {
    in_transaction(conn, [&] {
        // Only when absent: CREATE TABLE IF NOT EXISTS asks for CREATE on the schema even when it is there.
        Result absent = conn.exec("SELECT to_regclass($1) IS NULL", {table_});
        if (PQgetvalue(absent.get(), 0, 0)[0] == 't') {
            if (creating) creating();
            conn.exec("CREATE TABLE IF NOT EXISTS " + table_ +
                      " (key text PRIMARY KEY, token text NOT NULL, taken_at timestamptz NOT NULL DEFAULT now())");
        }
        // The UPDATE of an existing row waits for every transaction that holds it FOR SHARE.
        conn.exec("INSERT INTO " + table_ +
                      " (key, token) VALUES ($1, $2)"
                      " ON CONFLICT (key) DO UPDATE SET token = EXCLUDED.token, taken_at = now()",
                  {key_, token_});
    });
}

void RunFence::hold(Connection& conn) const {
    check();
    Result r;
    try {
        r = conn.exec("SELECT 1 FROM " + table_ + " WHERE key = $1 AND token = $2 FOR SHARE", {key_, token_});
    } catch (const PgError& e) {
        if (e.sqlstate() != kUndefinedTable) throw;
        throw RunTakenOver(table_ + " is gone (sluice cleanup ran meanwhile)");
    }
    if (PQntuples(r.get()) == 0) throw RunTakenOver("another run replaced this run's token in " + table_);
}

bool RunFence::ours(Connection& conn) const {
    try {
        Result r = conn.exec("SELECT 1 FROM " + table_ + " WHERE key = $1 AND token = $2", {key_, token_});
        return PQntuples(r.get()) == 1;
    } catch (const PgError& e) {
        if (e.sqlstate() != kUndefinedTable) throw;
        return false;
    }
}

void RunFence::lose(const std::string& why) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (lost_.load()) return;  // the first reason is the one that counts
    why_ = why;
    lost_.store(true);
}

void RunFence::check() const {
    if (!lost_.load()) return;
    std::lock_guard<std::mutex> lock(mutex_);
    throw RunTakenOver(why_);
}

void hold_fence(Connection& conn) {
    if (RunFence* fence = RunFence::current()) fence->hold(conn);
}

void check_fence() {
    if (RunFence* fence = RunFence::current()) fence->check();
}

}  // namespace sluice::engine
