// Whose the tables sluice creates are: Open WebUI's role, the owner of <schema>.chat. The app's
// later migrations alter chat_message, add columns, create and drop its indexes, which only its
// owner may do; a chat_message owned by whoever ran sluice (often the postgres superuser) fails
// them with "permission denied". So sluice creates its tables (the build table that becomes
// chat_message, its placeholder view, the checkpoint and rejects tables) as that role, under SET
// LOCAL ROLE in the transaction that creates them: its indexes and constraints follow the table,
// and a run resumed as the app's role, or as postgres, may use every one of them.
#pragma once

#include <optional>
#include <string>

#include "engine/pg.h"

namespace sluice::stages {

struct AppOwner {
    std::string role;         // the owner of <schema>.chat
    bool is_user = false;     // the user sluice connects as is that role
    bool superuser = false;   // that role is a superuser: it may alter whatever the user creates
    bool can_act = false;     // the user may SET ROLE to it and has its privileges (a superuser may, as may a
                              // member that inherits them)
    bool may_create = false;  // that role has CREATE on the schema, as creating as it needs

    // Whether sluice creates as that role: it is another role, and the user may act as it.
    bool acts() const { return !is_user && can_act; }
    // Whether what the user creates is of use to the app: made as its role, or the app's role is a superuser.
    bool serves_app() const { return is_user || can_act || superuser; }
};

// Open WebUI's role; nothing when <schema>.chat does not exist. Reads the catalog only.
std::optional<AppOwner> app_owner(engine::Connection& conn, const std::string& schema);

// Inside a transaction, before it creates sluice's tables: SET LOCAL ROLE to the app's role when
// sluice creates as it (AppOwner::acts()); what the transaction creates is then that role's. The
// role goes back to the user's at the end of the transaction. Returns the role, quoted, or "" when
// it stayed the user's.
std::string create_as_app_owner(engine::Connection& conn, const std::string& schema);

// Gives `relation` (schema-qualified), one of sluice's own, to the app's role when another role
// owns it and the user may (tables that a run of an older sluice created as itself); says what it
// did, or "" when it changed nothing.
std::string give_to_app_owner(engine::Connection& conn, const std::string& schema, const std::string& relation);

}  // namespace sluice::stages
