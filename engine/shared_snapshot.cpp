// Exporting the snapshot, and ending its transaction once it is imported.
#include "engine/shared_snapshot.h"

#include <cctype>
#include <stdexcept>

namespace sluice::engine {

SharedSnapshot::SharedSnapshot(const std::string& conninfo) : conn_(conninfo, "snapshot") {
    conn_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    Result r = conn_.exec("SELECT pg_export_snapshot()");
    name_ = PQgetvalue(r.get(), 0, 0);
}

void SharedSnapshot::release() {
    if (PQtransactionStatus(conn_.raw()) != PQTRANS_IDLE) conn_.exec("COMMIT");
}

void SharedSnapshot::import(Connection& conn, const std::string& name) {
    // e.g. 00000003-0000001B-1: SET TRANSACTION SNAPSHOT takes no parameter.
    for (char c : name) {
        if (!std::isxdigit(static_cast<unsigned char>(c)) && c != '-')
            throw std::runtime_error("unexpected snapshot name '" + name + "' from pg_export_snapshot()");
    }
    conn.exec("SET TRANSACTION SNAPSHOT '" + name + "'");
}

}  // namespace sluice::engine
