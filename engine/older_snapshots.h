// Waiting out the snapshots that still see rows a transaction deleted. A plain CREATE INDEX (or
// ADD PRIMARY KEY) indexes a deleted row while any transaction might still see it ("recently
// dead"), so a row moved out because no index entry can hold it fails the next build again until
// every snapshot older than the delete has gone: another index build, an autovacuum ANALYZE, any
// open transaction in the database. This waits for them, as CREATE INDEX CONCURRENTLY does for
// its own snapshots.
#pragma once

#include <chrono>
#include <string>

#include "engine/pg.h"

namespace sluice::engine {

// The id of the transaction open on `conn` (assigning one), to wait for once it has committed.
std::string current_transaction_id(Connection& conn);

// Returns once no session of this database (nor a replication slot, nor a prepared transaction)
// holds a snapshot or transaction from before `xid` committed, showing on the progress display
// whom it waits for. Throws std::runtime_error naming them when they are still there after
// `patience`. Sessions of other roles are seen only with pg_read_all_stats (or as a superuser);
// unseen ones are not waited for. A stop request cancels the wait (PgError 57014).
void wait_for_older_snapshots(Connection& conn, const std::string& xid, std::chrono::seconds patience);

}  // namespace sluice::engine
