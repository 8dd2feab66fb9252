// Whether a connection string leads through a pooler that gives a client's transactions to
// whichever server session is free (PgBouncer, Supavisor or CloudNativePG's Pooler in transaction
// or statement mode). Such a pooler breaks what lives in a session and outlasts a transaction: a
// session-level advisory lock (left behind on a pooled server session, held for no one), an
// exported snapshot, SET. Found before any of them is used, by asking the server which backend
// serves each transaction: a session of its own always has the same one, and never one that
// another live session has.
#pragma once

#include <optional>
#include <string>

namespace sluice::engine {

class Connection;

// Runs four one-statement transactions on two connections in turn (the first, the second twice,
// the first again), each asking pg_backend_pid(). The first is `first` when given (a session the
// caller has just opened and keeps, such as its lock's, not in a transaction), else a connection
// of its own ("pooler probe 1"); the second is always its own ("pooler probe 2"); it closes its
// own. A pooler that reuses its last free server session first (PgBouncer's default) gives the
// second connection the first one's backend; one that takes the longest-free first
// (server_round_robin) gives the second connection another backend on its second transaction.
// Returns what betrays the pooling, as a phrase ("the same connection was served by backend 123,
// then by 456"); nothing when each connection kept a backend of its own. Throws PgError when it
// cannot connect or a statement fails.
std::optional<std::string> transaction_pooling(const std::string& conninfo, Connection* first = nullptr);

}  // namespace sluice::engine
