// The app's role from the catalog: chat's owner, and what the user may do as it.
#include "stages/shared/app_owner.h"

#include "stages/openwebui.h"

namespace sluice::stages {

namespace {

bool yes(const PGresult* r, int column) {
    return PQgetvalue(r, 0, column)[0] == 't';
}

}  // namespace

std::optional<AppOwner> app_owner(engine::Connection& conn, const std::string& schema) {
    // SET ROLE needs membership (PostgreSQL 16: the SET option of it); using what the role owns
    // without SET ROLE needs its privileges, inherited (pg_has_role's USAGE). A superuser has both.
    const char* set = PQserverVersion(conn.raw()) >= 160000 ? "SET" : "MEMBER";
    engine::Result r = conn.exec(std::string("SELECT o.rolname, o.rolname = current_user, o.rolsuper,"
                                             " pg_has_role(o.oid, 'USAGE') AND pg_has_role(o.oid, '") +
                                     set +
                                     "'), has_schema_privilege(o.oid, $2, 'CREATE')"
                                     " FROM pg_class c JOIN pg_roles o ON o.oid = c.relowner"
                                     " WHERE c.oid = to_regclass($1)",
                                 {engine::qualified(schema, openwebui::kChat), schema});
    if (PQntuples(r.get()) == 0) return std::nullopt;
    AppOwner owner;
    owner.role = PQgetvalue(r.get(), 0, 0);
    owner.is_user = yes(r.get(), 1);
    owner.superuser = yes(r.get(), 2);
    owner.can_act = yes(r.get(), 3);
    owner.may_create = yes(r.get(), 4);
    return owner;
}

std::string create_as_app_owner(engine::Connection& conn, const std::string& schema) {
    const std::optional<AppOwner> owner = app_owner(conn, schema);
    if (!owner || !owner->acts()) return {};
    const std::string role = engine::quote_ident(owner->role);
    conn.exec("SET LOCAL ROLE " + role);
    return role;
}

std::string give_to_app_owner(engine::Connection& conn, const std::string& schema, const std::string& relation) {
    const std::optional<AppOwner> owner = app_owner(conn, schema);
    if (!owner || !owner->can_act || !owner->may_create) return {};
    // ALTER ... OWNER TO needs the present owner's privileges too.
    engine::Result r = conn.exec(
        "SELECT c.relkind, pg_get_userbyid(c.relowner), pg_has_role(c.relowner, 'USAGE')"
        " FROM pg_class c WHERE c.oid = to_regclass($1)",
        {relation});
    if (PQntuples(r.get()) == 0 || owner->role == PQgetvalue(r.get(), 0, 1) || !yes(r.get(), 2)) return {};
    const std::string was = PQgetvalue(r.get(), 0, 1);
    // A table's indexes, constraints and identity sequence follow it.
    conn.exec(std::string(PQgetvalue(r.get(), 0, 0)[0] == 'v' ? "ALTER VIEW " : "ALTER TABLE ") + relation +
              " OWNER TO " + engine::quote_ident(owner->role));
    return "gave " + relation + " to " + engine::quote_ident(owner->role) + " (it was " + engine::quote_ident(was) +
           "'s)";
}

}  // namespace sluice::stages
