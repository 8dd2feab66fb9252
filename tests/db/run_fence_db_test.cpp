// The run's fence against a real PostgreSQL (see db_fixture.h): a fence taken by a new run waits
// for the commit an old run is making and then refuses the old run's commits; a killed run's
// session never holds it up; and a migrate whose lock and fence another run took stops with exit
// 75 without committing anything more, after which a plain run completes the table exactly.
#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "engine/run_fence.h"
#include "tests/db/db_fixture.h"

using namespace sluice::testing;
using sluice::engine::RunFence;
using sluice::engine::RunTakenOver;
using namespace std::chrono_literals;

namespace {

constexpr const char* kKey = "test job";

// Whether hold() on a fresh transaction of `conn` lets the commit through.
bool commits(Connection& conn, const RunFence& fence) {
    conn.exec("BEGIN");
    try {
        fence.hold(conn);
        conn.exec("COMMIT");
        return true;
    } catch (const RunTakenOver&) {
        conn.exec("ROLLBACK");
        return false;
    }
}

// Each COPY into the build table waits 30 ms: a run of a few hundred chats, one a batch, lasts seconds.
void slow_copies(TestDatabase& db, bool on) {
    if (!on) {
        db.sql().exec("DROP TRIGGER slow_copy ON sluice_chat_message; DROP FUNCTION slow_copy()");
        return;
    }
    db.sql().exec(
        "CREATE FUNCTION slow_copy() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN PERFORM pg_sleep(0.03); RETURN NULL; END $$");
    db.sql().exec(
        "CREATE TRIGGER slow_copy BEFORE INSERT ON sluice_chat_message FOR EACH STATEMENT"
        " EXECUTE FUNCTION slow_copy()");
}

long long build_rows(TestDatabase& db) {
    return number(db.sql(), "SELECT count(*) FROM sluice_chat_message");
}

}  // namespace

TEST_CASE("a new run's fence waits for the commit an old run is making, then refuses the old run's commits") {
    TestDatabase db;
    Connection old_writer(db.conninfo(), "old writer"), new_control(db.conninfo(), "new control");
    RunFence old_run("public", "sluice_run", kKey);
    old_run.take(db.sql());
    REQUIRE_MESSAGE(commits(old_writer, old_run), "the run that took the fence cannot commit");

    old_writer.exec("BEGIN");
    old_run.hold(old_writer);  // the old run is about to commit
    RunFence new_run("public", "sluice_run", kKey);
    auto taking = std::async(std::launch::async, [&] { new_run.take(new_control); });
    CHECK_MESSAGE(taking.wait_for(500ms) == std::future_status::timeout,
                  "the new run took the fence while the old run could still commit");
    old_writer.exec("COMMIT");
    REQUIRE_MESSAGE(taking.wait_for(10s) == std::future_status::ready, "the new run never took the fence");
    taking.get();

    CHECK_MESSAGE(!commits(old_writer, old_run), "the old run committed after the new run took the fence");
    CHECK_MESSAGE(!old_run.ours(db.sql()), "the old run still thinks the fence is its own");
    CHECK_MESSAGE(commits(old_writer, new_run), "the new run cannot commit");
}

TEST_CASE("a killed run's session, even between its check and its commit, never holds up the next run") {
    TestDatabase db;
    RunFence old_run("public", "sluice_run", kKey);
    old_run.take(db.sql());
    {
        Connection killed(db.conninfo(), "killed writer");
        killed.exec("BEGIN");
        old_run.hold(killed);
    }  // the client goes without COMMIT, as SIGKILL ends it
    Connection control(db.conninfo(), "new control");
    RunFence new_run("public", "sluice_run", kKey);
    auto taking = std::async(std::launch::async, [&] { new_run.take(control); });
    CHECK_MESSAGE(taking.wait_for(10s) == std::future_status::ready, "the killed run's session held the fence");
    taking.get();
}

TEST_CASE(
    "a migrate whose lock and fence another run took stops with 75, commits nothing more, and a rerun completes") {
    for (const std::string lanes : {"1", "3"}) {
        CAPTURE(lanes);
        TestDatabase db;
        TempDir dir;
        load_corpus(db);
        REQUIRE(migrate(db, dir.file("a.jsonl"), {"--phases", "schema"}).status == 0);
        slow_copies(db, true);
        const std::vector<std::string> slow = {
            "--lanes", lanes, "--batch-rows", "1", "--max-inflight-batches", "1", "--commit-interval", "10ms"};
        auto running = std::async(std::launch::async, [&] { return migrate(db, dir.file("a.jsonl"), slow); });
        REQUIRE_MESSAGE(wait_until([&] {
                            return !scalar(db.sql(), "SELECT to_regclass('sluice_checkpoint')").empty() &&
                                   number(db.sql(), "SELECT coalesce(sum(messages), 0) FROM sluice_checkpoint") > 100;
                        }),
                        "the run never got going");
        // Another run, played by this session: the lock's session is ended, the lock taken as it
        // goes (a waiting pg_advisory_lock is granted before the run's keeper can try again), then
        // the token replaced, which waits for a commit the run may be making.
        Connection other(db.conninfo(), "other run");
        other.exec(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
        other.exec("SELECT pg_advisory_lock(hashtextextended('sluice migrate public', 0))");
        other.exec("UPDATE sluice_run SET token = 'the other run''s'");
        const long long at_take_over = build_rows(db);
        Run taken = running.get();
        INFO("the run taken over said:\n" << taken.said());
        CHECK_MESSAGE(taken.status == 75, "the run taken over did not exit 75");
        REQUIRE_MESSAGE(taken.error_lines().size() == 1, "the run taken over did not end with one line");
        CHECK_MESSAGE(taken.err.find("took over") != std::string::npos, "the line does not say another run took over");
        CHECK_MESSAGE(build_rows(db) == at_take_over, "the run committed rows after another run took over");
        other.exec("SELECT pg_advisory_unlock(hashtextextended('sluice migrate public', 0))");
        slow_copies(db, false);

        Run rerun = migrate(db, dir.file("r.jsonl"), {"--lanes", lanes});
        INFO("the rerun said:\n" << rerun.said());
        REQUIRE_MESSAGE(rerun.status == 0, "the plain rerun did not complete");
        CHECK_MESSAGE(number(db.sql(), "SELECT count(*) - count(DISTINCT id) FROM chat_message") == 0,
                      "chat_message holds an id twice");
        CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == clean_run().fingerprint,
                      "the table is not a clean run's");
        CHECK_MESSAGE(reject_ids(read_rejects(dir.file("r.jsonl"))) == clean_run().rejects, "the rejects differ");
    }
}
