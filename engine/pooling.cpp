// The pooling probe: pg_backend_pid() per transaction on two connections (see pooling.h).
#include "engine/pooling.h"

#include <cstdlib>
#include <optional>

#include "engine/pg.h"

namespace sluice::engine {

namespace {

// The backend that serves this one-statement transaction.
int backend(Connection& conn) {
    Result r = conn.exec("SELECT pg_backend_pid()");
    return std::atoi(PQgetvalue(r.get(), 0, 0));
}

}  // namespace

std::optional<std::string> transaction_pooling(const std::string& conninfo, Connection* given) {
    // Both stay open throughout: a pooler in session mode could otherwise give the second the
    // first one's server session once the first had closed, which is no pooling of transactions.
    std::optional<Connection> own;
    Connection& first = given ? *given : own.emplace(conninfo, "pooler probe 1");
    Connection second(conninfo, "pooler probe 2");
    const int a = backend(first), b = backend(second);
    if (a == b) return "two connections open at once were both served by backend " + std::to_string(a);
    if (const int b2 = backend(second); b2 != b)
        return "one connection was served by backend " + std::to_string(b) + ", then by " + std::to_string(b2);
    if (const int a2 = backend(first); a2 != a)
        return "one connection was served by backend " + std::to_string(a) + ", then by " + std::to_string(a2);
    return std::nullopt;
}

}  // namespace sluice::engine
