// Exporting the snapshot, and ending its transaction once it is imported.
#include "engine/shared_snapshot.h"

namespace sluice::engine {

SharedSnapshot::SharedSnapshot(const std::string& conninfo) : conn_(conninfo, "snapshot") {
    conn_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    Result r = conn_.exec("SELECT pg_export_snapshot()");
    name_ = PQgetvalue(r.get(), 0, 0);
}

void SharedSnapshot::release() {
    if (PQtransactionStatus(conn_.raw()) != PQTRANS_IDLE) conn_.exec("COMMIT");
}

}  // namespace sluice::engine
