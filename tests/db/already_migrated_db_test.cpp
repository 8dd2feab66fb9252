// "Is there anything to write?" decided first, on a real PostgreSQL: a database sluice migrated and
// stamped, the same after `sluice cleanup`, and one Open WebUI migrated itself (at 8452d01d26d7 and
// at a later revision) make `migrate --wait-for-lock --stamp-alembic` (the init container's args)
// print one line and exit 0 while an app session stays connected, without reading chat or
// creating a sluice table; `check` says the same. An alembic revision no run may start from is
// refused before anything is written, with or without --stamp-alembic.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "db_fixture.h"

using namespace sluice::testing;

namespace {

// Rows of chat read so far, by scans and by index lookups: what a backfill or its estimates add to.
long long chat_reads(TestDatabase& db) {
    db.sql().exec("SELECT pg_stat_force_next_flush()");  // this session's own reads (the setup's) counted now
    return number(db.sql(),
                  "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables"
                  " WHERE relid = 'chat'::regclass");
}

// A backend's counts reach the statistics when it ends: a moment after sluice exits.
void let_stats_arrive() {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
}

long long sluice_tables(TestDatabase& db) {
    return number(db.sql(), "SELECT count(*) FROM pg_class WHERE relname LIKE 'sluice%'");
}

// An Open WebUI session as psycopg2 opens it: no application_name, the same user, idle.
struct AppSession {
    Connection conn;
    explicit AppSession(TestDatabase& db) : conn(db.conninfo(), "app") { conn.exec("SET application_name = ''"); }
};

// The init container's run, then check: each must find nothing to write, reading no chat and
// creating nothing. `revision` is what the line must name.
void nothing_to_write(TestDatabase& db, const TempDir& dir, const std::string& revision, const std::string& when) {
    INFO(when);
    const long long tables = sluice_tables(db);
    let_stats_arrive();
    const long long reads = chat_reads(db);
    Run run = migrate(db, dir.file("r.jsonl"), {"--wait-for-lock", "5s", "--stamp-alembic"});
    INFO("migrate said:\n" << run.said());
    CHECK_MESSAGE(run.status == 0, "migrate did not exit 0 on a database with nothing to write");
    CHECK_MESSAGE(says(run, "already migrated (alembic " + revision + ", "), "no one line saying it is migrated");
    CHECK_MESSAGE(says(run, " rejected); nothing to do"), "the line does not say there is nothing to do");
    Run checked = run_sluice({"check", "--db", db.conninfo(), "--stamp-alembic"});
    INFO("check said:\n" << checked.said());
    CHECK_MESSAGE(checked.status == 0, "check did not exit 0");
    CHECK_MESSAGE(says(checked, "already migrated (alembic " + revision), "check's verdict does not say so");
    CHECK_MESSAGE(says(checked, "migrate has nothing to do"), "check's verdict does not say so");
    let_stats_arrive();
    CHECK_MESSAGE(chat_reads(db) == reads, "chat was read: " << chat_reads(db) - reads << " rows");
    CHECK_MESSAGE(sluice_tables(db) == tables, "a sluice table was created or dropped");
}

}  // namespace

TEST_CASE(
    "a database sluice migrated and stamped: the init container's migrate exits 0 beside the app, also after "
    "cleanup") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    REQUIRE_MESSAGE(migrate(db, dir.file("first.jsonl"), {"--stamp-alembic"}).status == 0, "the migration failed");
    AppSession app(db);
    // The reads are counted: a query of chat shows in the statistics (else the test proves nothing).
    let_stats_arrive();
    const long long before = chat_reads(db);
    {
        Connection reader(db.conninfo(), "reader");
        reader.exec("SELECT count(*) FROM chat");
    }
    let_stats_arrive();
    REQUIRE_MESSAGE(chat_reads(db) > before, "the statistics do not count reads of chat");

    nothing_to_write(db, dir, "8452d01d26d7", "migrated and stamped by sluice");
    Run cleanup = run_sluice({"cleanup", "--db", db.conninfo(), "--reject-file", dir.file("kept.jsonl")});
    REQUIRE_MESSAGE(cleanup.status == 0, cleanup.said());
    REQUIRE_MESSAGE(sluice_tables(db) == 0, "cleanup left sluice's tables");
    nothing_to_write(db, dir, "8452d01d26d7", "after sluice cleanup");
}

TEST_CASE("a database Open WebUI migrated itself, at 8452d01d26d7 and later: migrate and check find nothing to do") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    create_upstream_chat_message(db.sql(), "public");
    db.sql().exec(
        "INSERT INTO chat_message (id, chat_id, user_id, role, created_at, updated_at)"
        " SELECT id || '-m', id, user_id, 'user', 1717000000, 1717000000 FROM chat LIMIT 5");
    db.sql().exec("UPDATE alembic_version SET version_num = '8452d01d26d7'");
    AppSession app(db);
    nothing_to_write(db, dir, "8452d01d26d7", "Open WebUI's own 8452d01d26d7");
    // A later migration of the chain adds its columns and moves the revision on.
    db.sql().exec("ALTER TABLE chat_message ADD COLUMN meta JSON");
    db.sql().exec("UPDATE alembic_version SET version_num = '856c5b02fb54'");
    nothing_to_write(db, dir, "856c5b02fb54", "Open WebUI's later migrations");
    // --resync asks for every chat again: then the run writes, and the sessions count.
    Run resync = migrate(db, dir.file("r.jsonl"), {"--resync"});
    CHECK_MESSAGE(resync.status != 0, "--resync beside the app and a changed table went on: " << resync.said());
}

TEST_CASE("an alembic revision that is neither before nor past chat_message is refused without --stamp-alembic too") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    db.sql().exec("UPDATE alembic_version SET version_num = 'c0ffee000000'");
    Run run = migrate(db, dir.file("r.jsonl"));
    INFO("migrate said:\n" << run.said());
    CHECK_MESSAGE(run.status != 0, "migrate started from an unknown revision");
    CHECK_MESSAGE(run.err.find("'c0ffee000000'") != std::string::npos, "the refusal does not name the revision");
    CHECK_MESSAGE(run.err.find("alembic upgrade 374d2f66af06") != std::string::npos,
                  "the refusal does not say what to do");
    CHECK_MESSAGE(sluice_tables(db) == 0, "the refused run created a sluice table");
}

TEST_CASE("cleanup refuses an unpublished build without --discard-unfinished-build, and drops it with the flag") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    REQUIRE(migrate(db, dir.file("r.jsonl"), {"--phases", "schema,backfill"}).status == 0);
    const long long rows = number(db.sql(), "SELECT count(*) FROM sluice_chat_message");
    Run refused = run_sluice({"cleanup", "--db", db.conninfo(), "--reject-file", dir.file("kept.jsonl")});
    INFO("cleanup said:\n" << refused.said());
    CHECK_MESSAGE(refused.status == 4, "cleanup of an unpublished build did not refuse with exit 4");
    REQUIRE_MESSAGE(refused.error_lines().size() == 1, "the refusal is not one line");
    CHECK_MESSAGE(refused.err.find("--discard-unfinished-build") != std::string::npos,
                  "the refusal does not name the flag");
    CHECK_MESSAGE(refused.err.find("is lost") != std::string::npos, "the refusal does not say what the flag discards");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM sluice_chat_message") == rows, "the build lost rows");
    CHECK_MESSAGE(sluice_tables(db) >= 4, "the refusal dropped something");
    Run dropped = run_sluice(
        {"cleanup", "--db", db.conninfo(), "--reject-file", dir.file("kept.jsonl"), "--discard-unfinished-build"});
    INFO("cleanup with the flag said:\n" << dropped.said());
    CHECK_MESSAGE(dropped.status == 0, "cleanup with the flag failed");
    CHECK_MESSAGE(sluice_tables(db) == 0, "cleanup with the flag left sluice's tables");
}
