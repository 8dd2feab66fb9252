// The checks of `sluice check` about the server rather than Open WebUI's tables: that it takes
// writes (a primary, not read-only), that --db does not lead through a pooler of transactions,
// and that the role's, the database's and the server's connection limits leave room for the
// connections the run opens. stages/commands/check.cpp runs them with the others.
#pragma once

#include "config/run_config.h"
#include "engine/pg.h"
#include "stages/commands/check_result.h"

namespace sluice::stages {

// "server": a hot standby (pg_is_in_recovery()) or a session whose transactions are read-only
// (default_transaction_read_only, from the server's configuration, the database, the role or the
// connection string) fails: nothing could be written there. Call it before the check's own
// session is made read-only.
CheckResult check_writable(engine::Connection& conn);

// "pooler": fails when --db leads through a pooler in transaction or statement mode
// (engine/pooling.h), which would leave the run's lock behind in the pool; on `first` (a session
// just opened, not in a transaction) and a connection of its own, or on two of its own.
CheckResult check_pooling(const config::RunConfig& config, engine::Connection* first = nullptr);

// The most connections a migrate of `config` holds at once with `lanes` lanes and
// `index_connections` index connections.
unsigned connections_needed(const config::RunConfig& config, unsigned lanes, unsigned index_connections);

// "connections": the room the limits leave (counting this process's own sessions as the run's),
// against connections_needed(). Enough: ok, and `fit` gets the configured lanes and index
// connections; too little for them: a warning, and `fit` gets them lowered to fit; too little for
// one lane and one index connection: failed, saying which limit to raise.
CheckResult check_connections(engine::Connection& conn, const config::RunConfig& config, ConnectionFit& fit);

}  // namespace sluice::stages
