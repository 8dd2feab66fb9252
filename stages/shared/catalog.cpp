// The catalog's answers, each in one or two queries on the caller's session.
#include "stages/shared/catalog.h"

#include "stages/openwebui.h"

namespace sluice::stages {

bool relation_exists(engine::Connection& conn, const std::string& schema, const std::string& name) {
    engine::Result r = conn.exec("SELECT to_regclass($1) IS NOT NULL", {engine::qualified(schema, name)});
    return PQgetvalue(r.get(), 0, 0)[0] == 't';
}

std::optional<std::string> alembic_revision(engine::Connection& conn, const std::string& schema) {
    const std::string table = engine::qualified(schema, openwebui::kAlembicVersion);
    engine::Result readable =
        conn.exec("SELECT to_regclass($1) IS NOT NULL AND has_table_privilege(to_regclass($1), 'SELECT')", {table});
    if (PQgetvalue(readable.get(), 0, 0)[0] != 't') return std::nullopt;
    engine::Result r = conn.exec("SELECT version_num FROM " + table + " LIMIT 2");
    if (PQntuples(r.get()) != 1) return std::nullopt;
    return std::string(PQgetvalue(r.get(), 0, 0));
}

}  // namespace sluice::stages
