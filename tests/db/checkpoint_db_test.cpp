// The checkpoint bound to its table, against a real PostgreSQL (see db_fixture.h): a build table
// dropped and created again is another table, whose backfill starts over; publish counts every
// range's rows against its checkpoint and publishes nothing when rows are missing; rows the
// constraints phase deletes are counted, so that they are not missed, and a range that lacks rows
// is read again by the next run; one lane commits its checkpoint once per commit interval, however
// often its reader waits for room, and each commit, of batches with rows or without, is one
// transaction with its checkpoint. (Rows already present in a
// table completed in place: safety_db_test.cpp, "an existing chat_message in another column order".)
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/db/db_fixture.h"

using namespace sluice::testing;

namespace {

const std::vector<std::string> kThreeLanes = {"--lanes", "3", "--batch-rows", "5", "--commit-interval", "10ms"};

bool exists(TestDatabase& db, const std::string& relation) {
    return !scalar(db.sql(), "SELECT to_regclass($1)", {relation}).empty();
}

std::string alembic(TestDatabase& db) {
    return scalar(db.sql(), "SELECT version_num FROM alembic_version");
}

// What must hold after a run over a replaced or damaged build table: correct and exit 0, or
// refused with nothing published and alembic_version unchanged.
void check_correct_or_refused(TestDatabase& db, const Run& run, const std::string& reject_file) {
    INFO("the run said:\n" << run.said());
    if (run.status != 0) {
        CHECK_MESSAGE(!exists(db, "public.chat_message"), "a refused run published chat_message");
        CHECK_MESSAGE(alembic(db) == "374d2f66af06", "a refused run moved alembic_version");
        CHECK_MESSAGE(run.error_lines().size() == 1, "the refusal is not one line");
        return;
    }
    CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == clean_run().fingerprint,
                  "exit 0, but the published table is not a clean run's");
    CHECK_MESSAGE(reject_ids(read_rejects(reject_file)) == clean_run().rejects, "the rejects are not a clean run's");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM sluice_reject") == clean_run().summary.rejected,
                  "the old plan's rejects were kept beside the new plan's");
}

// An empty chat table, its checkpoint table made by a backfill of nothing, then `watch` (SQL that
// adds a trigger on sluice_checkpoint) and the build table dropped: the next run plans anew.
void watched_checkpoint(TestDatabase& db, TempDir& dir, const std::string& watch) {
    create_chat_table(db, {});
    Run empty = migrate(db, dir.file("r0.jsonl"), {"--phases", "schema,backfill"});
    REQUIRE_MESSAGE(empty.status == 0, "a backfill of no chats failed:\n" << empty.said());
    db.sql().exec(watch + "; DROP TABLE sluice_chat_message");
}

}  // namespace

TEST_CASE("a build table dropped after its backfill is another table: the run plans again and publishes every row") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    REQUIRE(migrate(db, dir.file("r.jsonl"), {"--phases", "schema,backfill"}).status == 0);
    db.sql().exec("DROP TABLE sluice_chat_message");  // an operator starting over by hand
    Run run = migrate(db, dir.file("r.jsonl"), {"--stamp-alembic"});
    check_correct_or_refused(db, run, dir.file("r.jsonl"));
    CHECK_MESSAGE(run.status == 0, "the run over a new build table did not complete");
    CHECK_MESSAGE(!says(run, "(resumed)"), "the run resumed a plan made for the dropped table");
}

TEST_CASE("a build table dropped part way through three lanes' backfill is filled again, every range of it") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    // --max-rejects at half the corpus's rejects stops the run about half way.
    const std::string half = std::to_string(clean_run().summary.rejected / 2);
    Run stopped = migrate(db, dir.file("r.jsonl"), with(kThreeLanes, {"--max-rejects", half}));
    REQUIRE_MESSAGE(stopped.status == 5, "the run did not stop at --max-rejects: " << stopped.said());
    REQUIRE_MESSAGE(number(db.sql(), "SELECT coalesce(sum(messages), 0) FROM sluice_checkpoint") > 0,
                    "nothing was committed before the stop: the case proves nothing");
    db.sql().exec("DROP TABLE sluice_chat_message");
    db.sql().exec("DROP VIEW ix_chat_message_chat_id");  // as cleanup's first transaction left it
    Run run = migrate(db, dir.file("r.jsonl"), with(kThreeLanes, {"--stamp-alembic"}));
    check_correct_or_refused(db, run, dir.file("r.jsonl"));
    CHECK_MESSAGE(run.status == 0, "the run over a new build table did not complete");
}

TEST_CASE("a checkpoint of a layout without its table's oid describes no table: a new plan derives every chat") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    REQUIRE(migrate(db, dir.file("r.jsonl"), {"--phases", "schema,backfill"}).status == 0);
    // As sluice before the oid left it, then its table dropped and created again.
    db.sql().exec("ALTER TABLE sluice_checkpoint DROP COLUMN target_oid, DROP COLUMN removed");
    db.sql().exec("DROP TABLE sluice_chat_message");
    Run run = migrate(db, dir.file("r.jsonl"), {"--stamp-alembic"});
    check_correct_or_refused(db, run, dir.file("r.jsonl"));
    CHECK_MESSAGE(run.status == 0, "the run over the old layout did not complete");
}

TEST_CASE(
    "publish counts each range's rows: a table that lost rows is not published, and the next run reads that range "
    "again") {
    for (const std::vector<std::string>& lanes : {std::vector<std::string>{"--lanes", "1"}, kThreeLanes}) {
        CAPTURE(lanes[1]);
        TestDatabase db;
        TempDir dir;
        load_corpus(db);
        REQUIRE(
            migrate(db, dir.file("r.jsonl"), with(lanes, {"--phases", "schema,backfill,indexes,constraints"})).status ==
            0);
        // Rows of one chat go, by hand: the table is the same one, its checkpoint counts them.
        db.sql().exec("DELETE FROM sluice_chat_message WHERE chat_id = (SELECT max(chat_id) FROM sluice_chat_message)");
        Run refused = migrate(db, dir.file("r.jsonl"), {"--phases", "publish", "--stamp-alembic"});
        INFO("the publish said:\n" << refused.said());
        CHECK_MESSAGE(refused.status == 1, "a table short of rows was published");
        REQUIRE_MESSAGE(refused.error_lines().size() == 1, "the refusal is not one line");
        CHECK_MESSAGE(refused.err.find("of the") != std::string::npos,
                      "the line does not say how many rows are missing");
        CHECK_MESSAGE(refused.err.find("run sluice migrate again") != std::string::npos,
                      "the line does not say what to do");
        CHECK_MESSAGE(!exists(db, "public.chat_message"), "chat_message was published");
        CHECK_MESSAGE(exists(db, "public.sluice_chat_message"), "the build table is gone");
        CHECK_MESSAGE(alembic(db) == "374d2f66af06", "alembic_version was moved");

        Run rerun = migrate(db, dir.file("r.jsonl"), with(lanes, {"--stamp-alembic"}));
        INFO("the plain rerun said:\n" << rerun.said());
        REQUIRE_MESSAGE(rerun.status == 0, "the next plain run did not complete the table");
        if (lanes[1] == "3")
            CHECK_MESSAGE(says(rerun, "read 1 of the plan's 12 ranges"), "not only the short range was read again");
        CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == clean_run().fingerprint,
                      "the table is not a clean run's");
        CHECK_MESSAGE(reject_ids(read_rejects(dir.file("r.jsonl"))) == clean_run().rejects, "the rejects differ");
        CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM sluice_reject") == clean_run().summary.rejected,
                      "the range's rejects were kept beside those found again");
        CHECK_MESSAGE(alembic(db) == "8452d01d26d7", "the stamp did not go with the publish");
    }
}

TEST_CASE("rows deleted with their chats after the foreign key cascades: refused once at most, then published") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    REQUIRE(migrate(db, dir.file("r.jsonl"), with(kThreeLanes, {"--phases", "schema,backfill,indexes,constraints"}))
                .status == 0);
    const long long before = number(db.sql(), "SELECT count(*) FROM sluice_chat_message");
    // A user deletes a chat: the foreign key, in place now, deletes its rows with it.
    const std::string gone = scalar(db.sql(), "SELECT max(chat_id) FROM sluice_chat_message");
    const long long its_rows = number(db.sql(), "SELECT count(*) FROM sluice_chat_message WHERE chat_id = $1", {gone});
    db.sql().exec("DELETE FROM chat WHERE id = $1", {gone});
    REQUIRE(number(db.sql(), "SELECT count(*) FROM sluice_chat_message") == before - its_rows);
    Run run = migrate(db, dir.file("r.jsonl"), with(kThreeLanes, {"--stamp-alembic"}));
    INFO("the run said:\n" << run.said());
    if (run.status != 0) {
        CHECK_MESSAGE(!exists(db, "public.chat_message"), "a refused run published chat_message");
        CHECK_MESSAGE(alembic(db) == "374d2f66af06", "a refused run moved alembic_version");
        run = migrate(db, dir.file("r.jsonl"), with(kThreeLanes, {"--stamp-alembic"}));
        INFO("the next run said:\n" << run.said());
    }
    REQUIRE_MESSAGE(run.status == 0, "the table was not published after its chat was deleted");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM chat_message") == before - its_rows,
                  "the published table does not hold every other chat's rows");
    CHECK_MESSAGE(alembic(db) == "8452d01d26d7", "the stamp did not go with the publish");
}

TEST_CASE("rows deleted with their chats before the constraints phase are counted, and the table is published") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    REQUIRE(migrate(db, dir.file("r.jsonl"), with(kThreeLanes, {"--phases", "schema,backfill,indexes"})).status == 0);
    const long long before = number(db.sql(), "SELECT count(*) FROM sluice_chat_message");
    // Two chats deleted after they were read: the constraints phase deletes their rows as orphans.
    db.sql().exec(
        "DELETE FROM chat WHERE id IN (SELECT chat_id FROM sluice_chat_message GROUP BY chat_id"
        " ORDER BY chat_id LIMIT 2)");
    Run run = migrate(db, dir.file("r.jsonl"), {"--stamp-alembic"});
    INFO("the run said:\n" << run.said());
    REQUIRE_MESSAGE(run.status == 0, "the deleted chats' rows made publish refuse");
    const long long removed = number(db.sql(), "SELECT sum(removed) FROM sluice_checkpoint");
    CHECK_MESSAGE(removed > 0, "the orphans deleted were not counted");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM chat_message") == before - removed,
                  "the checkpoint's count of removed rows is not what was deleted");
    CHECK_MESSAGE(alembic(db) == "8452d01d26d7", "the stamp did not go with the publish");
}

TEST_CASE("one lane commits once per commit interval of bytes, not after every batch while its reader waits for room") {
    TestDatabase db;
    TempDir dir;
    // Every commit of the writer moves its range's checkpoint on: a trigger counts those moves.
    watched_checkpoint(db, dir,
                       "CREATE TABLE advances (n bigint NOT NULL); INSERT INTO advances VALUES (0);"
                       " CREATE FUNCTION count_advance() RETURNS trigger LANGUAGE plpgsql AS"
                       " $$BEGIN UPDATE advances SET n = n + 1; RETURN NEW; END$$;"
                       " CREATE TRIGGER counted AFTER UPDATE ON sluice_checkpoint FOR EACH ROW WHEN"
                       " (NEW.last_chat_id IS DISTINCT FROM OLD.last_chat_id OR NEW.complete <> OLD.complete)"
                       " EXECUTE FUNCTION count_advance()");
    copy_in(db.sql(), "COPY chat FROM STDIN", corpus_rows({}));
    // Batches of 64 KiB, a commit every 512 KiB: a reader kept waiting by a 1 MiB budget.
    Run run = migrate(db, dir.file("r.jsonl"),
                      {"--phases", "schema,backfill", "--lanes", "1", "--batch-bytes", "64kB", "--commit-interval",
                       "1h,512kB", "--max-inflight-bytes", "1MB"});
    INFO("the run said:\n" << run.said());
    REQUIRE_MESSAGE(run.status == 0, "the backfill failed");
    const long long bytes = number(db.sql(), "SELECT sum(bytes) FROM sluice_checkpoint");
    const long long by_interval = bytes / (512 << 10) + 1, by_batch = bytes / (64 << 10);
    REQUIRE_MESSAGE(by_batch >= 3 * by_interval,
                    "the corpus is too small to tell the two apart: " << bytes << " bytes");
    const long long commits = number(db.sql(), "SELECT n FROM advances");
    CHECK_MESSAGE(commits <= by_interval + by_interval / 2 + 2,
                  commits << " commits for " << bytes << " bytes of chats: about one a batch (" << by_batch
                          << "), not one per 512 KiB (" << by_interval << ")");
    CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == clean_run().fingerprint, "the rows are not a clean run's");
}

TEST_CASE("a transaction whose batches held no rows still commits its checkpoint inside one transaction") {
    TestDatabase db;
    TempDir dir;
    // The writer's BEGIN goes with its transaction's first COPY: these batches have none. A COMMIT
    // sent without one draws PostgreSQL's warning, and its checkpoint would have committed alone.
    watched_checkpoint(db, dir,
                       "CREATE TABLE updates (n integer NOT NULL);"
                       " CREATE FUNCTION note_update() RETURNS trigger LANGUAGE plpgsql AS"
                       " $$BEGIN INSERT INTO updates VALUES (1); RETURN NEW; END$$;"
                       " CREATE TRIGGER noted AFTER UPDATE ON sluice_checkpoint FOR EACH ROW"
                       " EXECUTE FUNCTION note_update()");
    // Chats whose JSON is SQL NULL: skipped, they derive no rows.
    for (int i = 0; i < 6; ++i)
        db.sql().exec("INSERT INTO chat (id, user_id, chat) VALUES ($1, 'u1', NULL)", {"empty-" + std::to_string(i)});
    Run run = migrate(db, dir.file("r.jsonl"),
                      {"--phases", "schema,backfill", "--batch-rows", "1", "--commit-interval", "1ms"});
    INFO("the run said:\n" << run.said());
    REQUIRE_MESSAGE(run.status == 0, "the backfill failed");
    CHECK_MESSAGE(run.said().find("no transaction in progress") == std::string::npos,
                  "a COMMIT was sent outside a transaction: the checkpoint committed on its own");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM updates") >= 1, "no checkpoint update was seen");
    CHECK_MESSAGE(number(db.sql(), "SELECT sum(chats) FROM sluice_checkpoint WHERE complete") == 6,
                  "the checkpoint does not count the six chats read");
}
