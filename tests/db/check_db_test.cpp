// `sluice check` on a real PostgreSQL: a fresh Open WebUI database passes and is left as it was;
// each thing that would stop a migrate (a missing privilege, another alembic revision, a session
// that looks like Open WebUI's, another run's lock, a chat_message of another shape) fails its
// one check, and the check exits 1.
#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "db_fixture.h"

using namespace sluice::testing;

namespace {

constexpr const char* kRole = "sluice_check_limited";

Run check(const TestDatabase& db, const std::vector<std::string>& more = {}, const std::string& conninfo_extra = "") {
    std::vector<std::string> args{"check", "--db", db.conninfo() + conninfo_extra};
    args.insert(args.end(), more.begin(), more.end());
    return run_sluice(args);
}

// The check lines ("  name  verdict  detail") whose verdict is `verdict`.
std::vector<std::string> lines_with(const Run& run, const std::string& verdict) {
    std::vector<std::string> found;
    std::istringstream in(run.out);
    for (std::string line; std::getline(in, line);)
        if (line.size() > 16 && line.rfind("  ", 0) == 0 && line.compare(16, verdict.size() + 1, verdict + " ") == 0)
            found.push_back(line);
    return found;
}

// The one line the check failed with, which must be `name`'s; "" (and a failed case) otherwise.
std::string the_failure(const Run& run, const std::string& name) {
    const std::vector<std::string> failed = lines_with(run, "FAILED");
    CHECK_MESSAGE(run.status == 4, "a failed check must exit 4: " << run.said());
    REQUIRE_MESSAGE(failed.size() == 1, "expected one failed check, " << name << ": " << run.said());
    CHECK_MESSAGE(failed[0].rfind("  " + name + " ", 0) == 0, "another check failed: " << failed[0]);
    CHECK_MESSAGE(says(run, "not ready: 1 check failed (" + name + ")"), "no verdict naming it: " << run.said());
    return failed[0];
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// What a write would change: the relations (with owners), the revision and the rows of chat.
std::string database_state(TestDatabase& db) {
    return joined(rows(db.sql(),
                       "SELECT c.oid, c.relname, c.relkind, c.relowner, c.relfilenode FROM pg_class c"
                       " ORDER BY c.oid")) +
           scalar(db.sql(), "SELECT version_num FROM alembic_version") +
           scalar(db.sql(),
                  "SELECT count(*) || ' ' || md5(string_agg(id || coalesce(chat::text, ''), '' ORDER BY id))"
                  " FROM chat");
}

// A login role that may read chat and nothing more, dropped with what it owns when the case ends.
struct LimitedRole {
    TestDatabase& db;
    explicit LimitedRole(TestDatabase& d) : db(d) {
        db.sql().exec(std::string("DROP ROLE IF EXISTS ") + kRole);
        db.sql().exec(std::string("CREATE ROLE ") + kRole + " LOGIN");
        db.sql().exec(std::string("GRANT SELECT ON chat TO ") + kRole);
        db.sql().exec("REVOKE CREATE ON SCHEMA public FROM PUBLIC");
    }
    ~LimitedRole() {
        try {
            db.sql().exec(std::string("DROP OWNED BY ") + kRole);
            db.sql().exec(std::string("DROP ROLE ") + kRole);
        } catch (...) {
        }
    }
    std::string user() const { return std::string(" user=") + kRole; }
};

}  // namespace

TEST_CASE("check on a fresh Open WebUI database passes, says so in one line per check, and writes nothing") {
    TestDatabase db;
    load_corpus(db);
    const std::string before = database_state(db);
    Run run = check(db);
    CHECK_MESSAGE(run.status == 0, run.said());
    CHECK_MESSAGE(lines_with(run, "FAILED").empty(), run.said());
    CHECK_MESSAGE(lines_with(run, "WARNING").empty(), "warnings on a fresh database: " << run.said());
    for (const std::string name :
         {"connection", "chat", "chat_message", "privileges", "alembic", "sessions", "lock", "space", "time"})
        CHECK_MESSAGE(says(run, "\n  " + name + " "), "no line for " << name << ": " << run.said());
    CHECK_MESSAGE(says(run, "ready: migrate can start"), run.said());
    CHECK_MESSAGE(says(run, "for chat_message and its indexes"), "no space estimate: " << run.said());
    CHECK_MESSAGE(database_state(db) == before, "check changed the database");

    Run stamped = check(db, {"--stamp-alembic"});
    CHECK_MESSAGE(stamped.status == 0, stamped.said());
    CHECK_MESSAGE(says(stamped, "alembic_version holds 374d2f66af06"), stamped.said());
    CHECK_MESSAGE(database_state(db) == before, "check --stamp-alembic changed the database");
}

TEST_CASE("check after a complete migrate passes and says there is nothing left to write") {
    TestDatabase db;
    load_corpus(db);
    TempDir tmp;
    REQUIRE_MESSAGE(migrate(db, tmp.file("r.jsonl")).status == 0, "the migration itself failed");
    const std::string before = database_state(db);
    Run run = check(db);
    CHECK_MESSAGE(run.status == 0, run.said());
    CHECK_MESSAGE(says(run, "already migrated (alembic 374d2f66af06, "), run.said());
    CHECK_MESSAGE(says(run, "migrate has nothing to do"), run.said());
    // A stamp still to do is something to write: then the checks run.
    Run stamp = check(db, {"--stamp-alembic"});
    CHECK_MESSAGE(stamp.status == 0, stamp.said());
    CHECK_MESSAGE(says(stamp, "has upstream's shape: it is completed in place"), stamp.said());
    CHECK_MESSAGE(says(stamp, "the backfill is complete"), stamp.said());
    CHECK_MESSAGE(database_state(db) == before, "check changed a migrated database");
}

TEST_CASE("check fails on a user without CREATE on the schema, naming the privilege") {
    TestDatabase db;
    load_corpus(db);
    LimitedRole role(db);
    const std::string line = the_failure(check(db, {}, role.user()), "privileges");
    CHECK_MESSAGE(contains(line, "CREATE on schema \"public\""), line);
    CHECK_MESSAGE(contains(line, kRole), "the user is not named: " << line);
}

TEST_CASE("check asks for ownership of an existing chat_message only where a phase needs it") {
    TestDatabase db;
    load_corpus(db);
    LimitedRole role(db);
    create_upstream_chat_message(db.sql(), "public", /*indexes=*/false);
    db.sql().exec(std::string("GRANT CREATE ON SCHEMA public TO ") + kRole);
    db.sql().exec(std::string("GRANT SELECT, INSERT ON chat_message TO ") + kRole);
    const std::string line = the_failure(check(db, {}, role.user()), "privileges");
    CHECK_MESSAGE(contains(line, "ownership of \"public\".\"chat_message\""), line);
    CHECK_MESSAGE(contains(line, "indexes"), "does not say which phase needs it: " << line);

    // Once the indexes and the foreign key are there, the phases that need ownership have nothing to do.
    db.sql().exec("DROP TABLE chat_message");
    create_upstream_chat_message(db.sql(), "public", /*indexes=*/true);
    db.sql().exec(std::string("GRANT SELECT, INSERT ON chat_message TO ") + kRole);
    Run run = check(db, {}, role.user());
    CHECK_MESSAGE(run.status == 0, "a run that needs no ownership was refused: " << run.said());
}

TEST_CASE("check --stamp-alembic fails on another alembic revision, naming it") {
    TestDatabase db;
    load_corpus(db);
    db.sql().exec("UPDATE alembic_version SET version_num = 'c0ffee000000'");
    const std::string line = the_failure(check(db, {"--stamp-alembic"}), "alembic");
    CHECK_MESSAGE(contains(line, "'c0ffee000000'"), line);
    // Without --stamp-alembic too: no run starts from a revision neither before nor past chat_message.
    const std::string unstamped = the_failure(check(db), "alembic");
    CHECK_MESSAGE(contains(unstamped, "alembic upgrade 374d2f66af06"), "it does not say what to do: " << unstamped);
    CHECK_MESSAGE(scalar(db.sql(), "SELECT version_num FROM alembic_version") == "c0ffee000000", "the revision moved");
}

TEST_CASE("a session that looks like Open WebUI's fails check; --ignore-sessions makes it a warning") {
    TestDatabase db;
    load_corpus(db);
    // psycopg2, as Open WebUI uses it, sets no application_name; a name like the app's counts too.
    for (const std::string name : {"", "open-webui", "uvicorn"}) {
        Connection app(db.conninfo(), "app");
        app.exec("SET application_name = '" + name + "'");
        const std::string pid = scalar(app, "SELECT pg_backend_pid()");
        const std::string line = the_failure(check(db), "sessions");
        CHECK_MESSAGE(contains(line, "pid " + pid), "'" << name << "': the session is not named: " << line);
        CHECK_MESSAGE(contains(line, "--ignore-sessions"), line);
        Run ignored = check(db, {"--ignore-sessions"});
        CHECK_MESSAGE(ignored.status == 0, ignored.said());
        CHECK_MESSAGE(lines_with(ignored, "WARNING").size() == 1, ignored.said());
    }
    // A closed session's backend lingers a moment; then psql, other named tools and sluice's own
    // sessions (this test's connection) are not the app.
    for (int i = 0; i < 250 && number(db.sql(),
                                      "SELECT count(*) FROM pg_stat_activity WHERE datname ="
                                      " current_database() AND application_name NOT LIKE 'sluice %'") > 0;
         ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    Connection psql(db.conninfo(), "psql-like");
    psql.exec("SET application_name = 'psql'");
    Run run = check(db);
    CHECK_MESSAGE(run.status == 0, "psql or sluice's own sessions were taken for the app: " << run.said());
}

TEST_CASE("another run's lock fails check; --wait-for-lock makes it a warning") {
    TestDatabase db;
    load_corpus(db);
    Connection holder(db.conninfo(), "lock");
    holder.exec("SELECT pg_advisory_lock(hashtextextended('sluice migrate public', 0))");
    const std::string pid = scalar(holder, "SELECT pg_backend_pid()");
    const std::string line = the_failure(check(db), "lock");
    CHECK_MESSAGE(contains(line, "pid " + pid), "the holder is not named: " << line);
    CHECK_MESSAGE(contains(line, "--wait-for-lock"), line);
    Run waits = check(db, {"--wait-for-lock", "1min"});
    CHECK_MESSAGE(waits.status == 0, waits.said());
    CHECK_MESSAGE(lines_with(waits, "WARNING").size() == 1, waits.said());
    Run other_schema = check(db, {"--schema", "elsewhere"});
    CHECK_MESSAGE(lines_with(other_schema, "FAILED").size() == 1,
                  "the lock is per schema (only chat is missing there): " << other_schema.said());
}

TEST_CASE("check fails on an existing chat_message without its primary key, and on the app's later columns") {
    TestDatabase db;
    load_corpus(db);
    create_upstream_chat_message(db.sql(), "public");
    db.sql().exec("ALTER TABLE chat_message DROP CONSTRAINT chat_message_pkey");
    const std::string line = the_failure(check(db), "chat_message");
    CHECK_MESSAGE(contains(line, "no primary key on id"), line);

    db.sql().exec("ALTER TABLE chat_message ADD PRIMARY KEY (id), ADD COLUMN meta json");
    const std::string later = the_failure(check(db), "chat_message");
    CHECK_MESSAGE(contains(later, "later migrations"), later);
}

TEST_CASE("check on a database without chat fails that check and skips those that need it") {
    TestDatabase db;
    const std::string line = the_failure(check(db), "chat");
    CHECK_MESSAGE(contains(line, "there is no table \"public\".\"chat\""), line);
    CHECK_MESSAGE(lines_with(check(db), "skipped").size() >= 4, "the checks on chat were not skipped");
}

TEST_CASE("check cannot connect: one line and exit 3") {
    Run run = run_sluice({"check", "--db", "postgresql://nobody@127.0.0.1:1/none"});
    CHECK_MESSAGE(run.status == 3, run.said());
    CHECK_MESSAGE(run.error_lines().size() == 1, run.said());
}

TEST_CASE("a session that locks chat makes check warn, naming it, rather than wait for it") {
    TestDatabase db;
    load_corpus(db);
    Connection other(db.conninfo(), "other");
    other.exec("SET application_name = 'psql'");
    other.exec("BEGIN");
    other.exec("LOCK TABLE chat IN ACCESS EXCLUSIVE MODE");
    const std::string pid = scalar(other, "SELECT pg_backend_pid()");
    auto running = std::async(std::launch::async, [&] { return check(db); });
    const bool waited = running.wait_for(std::chrono::seconds(20)) != std::future_status::ready;
    other.exec("ROLLBACK");  // lets a check that waits finish, so that the case ends either way
    Run run = running.get();
    CHECK_MESSAGE(!waited, "check waited for the lock on chat: " << run.said());
    CHECK_MESSAGE(run.status == 0, "a lock on chat is no reason to refuse: " << run.said());
    const std::vector<std::string> warned = lines_with(run, "WARNING");
    REQUIRE_MESSAGE(warned.size() == 1, run.said());
    CHECK_MESSAGE(contains(warned[0], "pid " + pid + " (psql"), warned[0]);
    CHECK_MESSAGE(says(run, "\n  space         skipped  not estimated"), run.said());
}

namespace {

// A login role that owns Open WebUI's tables, as the app's own role does, with a connection limit
// of its own when `limit` is given; dropped with what it owns when the case ends.
struct OwnerRole {
    TestDatabase& db;
    std::string name;
    explicit OwnerRole(TestDatabase& d, const std::string& limit = "-1", std::string role = "sluice_check_owner")
        : db(d), name(std::move(role)) {
        db.sql().exec("DROP ROLE IF EXISTS " + name);
        db.sql().exec("CREATE ROLE " + name + " LOGIN CONNECTION LIMIT " + limit);
        db.sql().exec("ALTER TABLE chat OWNER TO " + name);
        db.sql().exec("ALTER TABLE alembic_version OWNER TO " + name);
        db.sql().exec("GRANT CREATE ON SCHEMA public TO " + name);
    }
    ~OwnerRole() {
        try {
            db.sql().exec("DROP OWNED BY " + name);
            db.sql().exec("DROP ROLE " + name);
        } catch (...) {
        }
    }
    std::string user() const { return " user=" + name; }
};

const std::vector<std::string> kManyConnections{"--lanes", "4", "--index-connections", "4"};

}  // namespace

TEST_CASE("a role's CONNECTION LIMIT lowers --lanes and --index-connections with a line; below one lane, a refusal") {
    TestDatabase db;
    load_corpus(db);
    OwnerRole role(db, "7");
    Run checked = check(db, kManyConnections, role.user());
    CHECK_MESSAGE(checked.status == 0, checked.said());
    const std::vector<std::string> warned = lines_with(checked, "WARNING");
    REQUIRE_MESSAGE(warned.size() == 1, checked.said());
    CHECK_MESSAGE(contains(warned[0], "CONNECTION LIMIT 7"), warned[0]);
    CHECK_MESSAGE(contains(warned[0], "lowers --lanes from 4 to 1 and --index-connections from 4 to 1"), warned[0]);

    TempDir tmp;
    Run run = run_sluice(with(
        {"migrate", "--db", db.conninfo() + role.user(), "--progress", "none", "--reject-file", tmp.file("r.jsonl")},
        kManyConnections));
    REQUIRE_MESSAGE(run.status == 0, "the run did not fit the role's limit: " << run.said());
    CHECK_MESSAGE(says(run, "lowers --lanes from 4 to 1"), "no line says so: " << run.said());
    CHECK_MESSAGE(!contains(run.said(), "too many connections"), run.said());
    CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == clean_run().fingerprint,
                  "the table differs from a clean run's");

    TestDatabase fresh;
    load_corpus(fresh);
    OwnerRole tight(fresh, "5", "sluice_check_tight");
    const std::string before = database_state(fresh);
    const std::string line = the_failure(check(fresh, {}, tight.user()), "connections");
    CHECK_MESSAGE(contains(line, "room for 5"), line);
    CHECK_MESSAGE(contains(line, "ALTER ROLE \"sluice_check_tight\" CONNECTION LIMIT 6"),
                  "the fix is not given: " << line);
    Run refused = run_sluice({"migrate", "--db", fresh.conninfo() + tight.user(), "--progress", "none", "--reject-file",
                              tmp.file("r2.jsonl")});
    CHECK_MESSAGE(refused.status == 4, refused.said());
    CHECK_MESSAGE(contains(refused.said(), "not starting, nothing was written: connections:"), refused.said());
    CHECK_MESSAGE(database_state(fresh) == before, "the refused run changed the database");
}

TEST_CASE("a database's CONNECTION LIMIT counts for a role, not for a superuser; the server's limit counts too") {
    TestDatabase db;
    load_corpus(db);
    OwnerRole role(db);
    const std::string name = scalar(db.sql(), "SELECT current_database()");
    db.sql().exec("ALTER DATABASE " + name + " CONNECTION LIMIT 5");
    const std::string line = the_failure(check(db, {}, role.user()), "connections");
    CHECK_MESSAGE(contains(line, "database \"" + name + "\" has CONNECTION LIMIT 5"), line);
    CHECK_MESSAGE(contains(line, "ALTER DATABASE \"" + name + "\" CONNECTION LIMIT 7"),
                  "the fix is not given: " << line);
    Run superuser = check(db);
    CHECK_MESSAGE(superuser.status == 0, "a superuser is held to the database's limit: " << superuser.said());
    db.sql().exec("ALTER DATABASE " + name + " CONNECTION LIMIT -1");

    // The server's max_connections, less the slots reserved for superusers, less every other
    // session: leave room for 4 of the role's.
    const long long room = number(db.sql(),
                                  "SELECT current_setting('max_connections')::int -"
                                  " current_setting('superuser_reserved_connections')::int - count(*)"
                                  " FROM pg_stat_activity WHERE backend_type = 'client backend'");
    std::vector<std::unique_ptr<Connection>> others;
    for (long long i = 0; i < room - 4; ++i)
        others.push_back(std::make_unique<Connection>(db.conninfo(), "other"));
    const std::string full = the_failure(check(db, {}, role.user()), "connections");
    CHECK_MESSAGE(contains(full, "room for 4 (the server has max_connections"), full);
    CHECK_MESSAGE(contains(full, "raise max_connections"), full);
}

TEST_CASE("check and migrate refuse a read-only server, saying to point --db at the primary") {
    TestDatabase db;
    load_corpus(db);
    const std::string name = scalar(db.sql(), "SELECT current_database()");
    db.sql().exec("ALTER DATABASE " + name + " SET default_transaction_read_only = on");
    const std::string before = database_state(db);
    const std::string line = the_failure(check(db), "server");
    CHECK_MESSAGE(contains(line, "default_transaction_read_only is on, set on the database"), line);
    CHECK_MESSAGE(contains(line, "point --db at the primary"), line);
    TempDir tmp;
    Run refused = migrate(db, tmp.file("r.jsonl"));
    CHECK_MESSAGE(refused.status == 4, refused.said());
    CHECK_MESSAGE(contains(refused.said(), "not starting, nothing was written: server:"), refused.said());
    CHECK_MESSAGE(!contains(refused.said(), "read-only transaction"),
                  "the raw failure came through: " << refused.said());
    CHECK_MESSAGE(database_state(db) == before, "the refused run changed the database");
}
