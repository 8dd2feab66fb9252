// The preflight of `sluice check` and of `migrate` before it writes anything: one read-only
// session asks the server whether the run the configuration describes can go through (a primary
// that takes writes, no pooler of transactions in between, the chat table, the shape of an
// existing chat_message, the privileges each phase needs and whose its tables will be, the alembic
// revision, sessions that look like Open WebUI's, room for its connections, another run's lock)
// and estimates the disk space and time it needs. It writes nothing: its session is read-only.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "engine/pg.h"
#include "engine/run_lock.h"
#include "stages/commands/check_result.h"
#include "stages/commands/common.h"

namespace sluice::stages {

// Runs every check for the run `config` describes (its phases, --stamp-alembic, --wait-for-lock,
// --ignore-sessions, --lanes, --index-connections), in the order `sluice check` prints them. A
// check that cannot be decided because an earlier one failed (no chat table) is skipped. Sessions
// of this process (a lock the caller already holds) count as neither another run nor the app, and
// as the run's own connections. `fit`, when given, gets the lanes and index connections the
// connection limits leave room for. Throws engine::PgError when it cannot connect or loses the
// connection, or when a stop request cancels a query (SQLSTATE 57014); every other problem is a
// failed check. Call it from the main thread.
std::vector<CheckResult> preflight(const config::RunConfig& config, ConnectionFit* fit = nullptr);
// The same on `conn`, a new session of the caller's, which it leaves read-only when the pooler
// check passes (else as it was).
std::vector<CheckResult> preflight(const config::RunConfig& config, engine::Connection& conn, ConnectionFit* fit);

// For migrate and cleanup, before they take the run's lock: throws NotReadyError when --db leads
// through a pooler in transaction or statement mode, where that lock would be left behind in the
// pool (the "pooler" check), asked on the lock's own connection and one more. Throws
// engine::PgError when it cannot connect.
void refuse_behind_pooler(const config::RunConfig& config, engine::RunLock& lock);

// "  privileges    FAILED   user \"u\" lacks ..." : the line `sluice check` prints.
std::string describe(const CheckResult& result);

// A check failed, and migrate refuses to start: what() names every failed check, in one line.
struct NotReadyError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// For migrate, before it writes: returns when no check failed; else throws LockHeldError when the
// lock check failed (another run is at it: the rest does not matter now), or NotReadyError
// naming every failed check, in one line, and saying that nothing was written.
void refuse_unless_ready(const std::vector<CheckResult>& results);

}  // namespace sluice::stages
