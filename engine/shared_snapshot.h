// One snapshot for several readers: a REPEATABLE READ READ ONLY transaction on a connection of
// its own exports its snapshot (pg_export_snapshot); each reader's transaction imports it (SET
// TRANSACTION SNAPSHOT) and so sees exactly the same rows. The exporting transaction must stay
// open until every reader has imported the snapshot; after that release() may end it.
#pragma once

#include <string>

#include "engine/pg.h"

namespace sluice::engine {

class SharedSnapshot {
public:
    explicit SharedSnapshot(const std::string& conninfo);
    const std::string& name() const { return name_; }
    void release();  // every reader has imported it

    // Makes the transaction just begun on `conn` (REPEATABLE READ) see the snapshot `name`.
    // Throws when the name is not one pg_export_snapshot() gives (it is spliced into the SQL).
    static void import(Connection& conn, const std::string& name);

private:
    Connection conn_;
    std::string name_;
};

}  // namespace sluice::engine
