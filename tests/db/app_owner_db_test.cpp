// Whose the tables sluice creates are, on a real PostgreSQL with a real low-privilege role as
// Open WebUI's: run as the postgres superuser (as most operators do), resumed as the app's role
// and the other way round, what is published is the app's, and the app's later migrations'
// kinds of statements succeed as that role; a user that may not act as the app's role is
// refused before anything is written, with the GRANT that fixes it.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "db_fixture.h"

using namespace sluice::testing;

namespace {

constexpr const char* kApp = "sluice_owner_app";
constexpr const char* kOutsider = "sluice_owner_outsider";

// A login role, dropped with what it owns when the case ends.
struct Role {
    TestDatabase& db;
    std::string name;
    Role(TestDatabase& d, std::string role) : db(d), name(std::move(role)) {
        db.sql().exec("DROP ROLE IF EXISTS " + name);
        db.sql().exec("CREATE ROLE " + name + " LOGIN");
    }
    ~Role() {
        try {
            db.sql().exec("DROP OWNED BY " + name);
            db.sql().exec("DROP ROLE " + name);
        } catch (...) {
        }
    }
    std::string conninfo() const { return db.conninfo() + " user=" + name; }
};

// Open WebUI's tables owned by the app's role, which may create in the schema (as the app, which
// runs its own migrations, must), and nothing more: it is no superuser and no member of any role.
void give_chat_to(TestDatabase& db, const Role& app) {
    db.sql().exec("ALTER TABLE chat OWNER TO " + app.name);
    db.sql().exec("ALTER TABLE alembic_version OWNER TO " + app.name);
    db.sql().exec("GRANT CREATE ON SCHEMA public TO " + app.name);
}

bool mentions(const Run& run, const std::string& text) {
    return run.said().find(text) != std::string::npos;
}

Run migrate_as(const std::string& conninfo, const std::string& reject_file, const std::vector<std::string>& more = {}) {
    return run_sluice(with({"migrate", "--db", conninfo, "--progress", "none", "--reject-file", reject_file}, more));
}

// Every relation in the schema with its owner, "name owner", but Open WebUI's own.
std::vector<std::string> owners(TestDatabase& db) {
    return rows(db.sql(),
                "SELECT relname, pg_get_userbyid(relowner) FROM pg_class WHERE relnamespace ="
                " 'public'::regnamespace AND relname NOT LIKE 'chat\\_%' AND relname NOT IN"
                " ('chat', 'alembic_version', 'alembic_version_pkc') ORDER BY relname");
}

// The kinds of statement Open WebUI's migrations after 8452d01d26d7 run on chat_message
// (c1d2e3f4a5b6 deletes rows, 4c5ce3d2f27f and 856c5b02fb54 add columns, d4c1a8e37b62 and
// e2b7a4c91f05 create and drop indexes), as the app's role: each must succeed.
void run_later_migrations_as(const Role& app) {
    Connection conn(app.conninfo(), "open webui");
    const char* statements[] = {
        "DELETE FROM chat_message WHERE id IN (SELECT id FROM chat_message ORDER BY id LIMIT 3)",
        "ALTER TABLE chat_message ADD COLUMN meta JSON",
        "ALTER TABLE chat_message ADD COLUMN context_summary TEXT",
        "CREATE INDEX chat_message_meta_test_idx ON chat_message (chat_id, created_at)",
        "DROP INDEX ix_chat_message_model_id",
        "DROP INDEX chat_message_meta_test_idx",
    };
    for (const char* sql : statements) {
        try {
            conn.exec(sql);
        } catch (const sluice::engine::PgError& e) {
            FAIL_CHECK("as the app's role, " << std::string(sql) << " failed: " << std::string(e.what()));
        }
    }
}

void check_published_as_apps(TestDatabase& db, const Role& app) {
    CHECK_MESSAGE(
        scalar(db.sql(), "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'chat_message'::regclass") ==
            app.name,
        "chat_message is not the app's");
    CHECK_MESSAGE(number(db.sql(),
                         "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE"
                         " i.indrelid = 'chat_message'::regclass AND c.relowner = $1::regrole",
                         {app.name}) == 8,
                  "the key and the seven indexes are not all the app's");
    for (const std::string& row : owners(db))
        CHECK_MESSAGE(row.substr(row.find(' ') + 1) == app.name, "sluice's " << row << " is not the app's");
}

}  // namespace

TEST_CASE(
    "a run as postgres, resumed as the app's role, publishes a chat_message the app's later migrations can alter") {
    TestDatabase db;
    load_corpus(db);
    Role app(db, kApp);
    give_chat_to(db, app);
    TempDir tmp;
    Run first = migrate(db, tmp.file("r.jsonl"), {"--phases", "schema,backfill"});
    REQUIRE_MESSAGE(first.status == 0, first.said());
    CHECK_MESSAGE(says(first, "as \"" + std::string(kApp) + "\""),
                  "the check does not say whose the tables will be: " << first.said());
    Run resumed = migrate_as(app.conninfo(), tmp.file("r.jsonl"), {"--stamp-alembic"});
    REQUIRE_MESSAGE(resumed.status == 0, "the app's role could not go on with what postgres began: " << resumed.said());
    check_published_as_apps(db, app);
    run_later_migrations_as(app);
    Run cleanup = run_sluice({"cleanup", "--db", app.conninfo(), "--reject-file", tmp.file("r.jsonl")});
    CHECK_MESSAGE(cleanup.status == 0, "the app's role could not drop sluice's tables: " << cleanup.said());
}

TEST_CASE("a run as the app's role, resumed as postgres, leaves everything the app's, even tables left another's") {
    TestDatabase db;
    load_corpus(db);
    Role app(db, kApp);
    give_chat_to(db, app);
    TempDir tmp;
    Run first = migrate_as(app.conninfo(), tmp.file("r.jsonl"), {"--phases", "schema,backfill,indexes"});
    REQUIRE_MESSAGE(first.status == 0, first.said());
    // As an older sluice run as postgres would have left them: the schema phase gives them back.
    db.sql().exec("ALTER TABLE sluice_chat_message OWNER TO postgres");
    db.sql().exec("ALTER TABLE sluice_checkpoint OWNER TO postgres");
    db.sql().exec("ALTER TABLE sluice_run OWNER TO postgres");
    db.sql().exec("DROP TABLE sluice_reject");  // made again by the superuser's run: as the app's, too
    Run resumed = migrate(db, tmp.file("r.jsonl"), {"--resync"});
    REQUIRE_MESSAGE(resumed.status == 0, resumed.said());
    check_published_as_apps(db, app);
    run_later_migrations_as(app);
}

TEST_CASE("a user that may not act as the app's role is refused before anything is written, with the GRANT to run") {
    TestDatabase db;
    load_corpus(db);
    Role app(db, kApp);
    give_chat_to(db, app);
    Role outsider(db, kOutsider);  // all it needs but membership of the app's role
    db.sql().exec("GRANT CREATE ON SCHEMA public TO " + outsider.name);
    db.sql().exec("GRANT SELECT, REFERENCES ON chat TO " + outsider.name);
    const std::string grant = "GRANT \"" + app.name + "\" TO \"" + outsider.name + "\"";
    const std::string before = joined(rows(db.sql(), "SELECT relname, relowner FROM pg_class ORDER BY oid"));

    Run check = run_sluice({"check", "--db", outsider.conninfo()});
    CHECK_MESSAGE(check.status == 4, check.said());
    CHECK_MESSAGE(says(check, "privileges    FAILED"), check.said());
    CHECK_MESSAGE(says(check, grant), "the fix is not given: " << check.said());
    TempDir tmp;
    Run refused = migrate_as(outsider.conninfo(), tmp.file("r.jsonl"));
    CHECK_MESSAGE(refused.status == 4, refused.said());
    CHECK_MESSAGE(mentions(refused, "not starting, nothing was written: privileges:"), refused.said());
    CHECK_MESSAGE(mentions(refused, grant), refused.said());
    CHECK_MESSAGE(joined(rows(db.sql(), "SELECT relname, relowner FROM pg_class ORDER BY oid")) == before,
                  "the refused run changed the database");

    db.sql().exec(grant);  // the fix it gave
    Run granted = migrate_as(outsider.conninfo(), tmp.file("r.jsonl"));
    REQUIRE_MESSAGE(granted.status == 0, granted.said());
    check_published_as_apps(db, app);
    run_later_migrations_as(app);
}
