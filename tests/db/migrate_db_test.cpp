// `sluice migrate` end to end against a real PostgreSQL: each test case makes its own database
// on the server SLUICE_TEST_DB names (scripts/lib/pg.sh starts one), loads Open WebUI's `chat`
// table, runs the built sluice binary as a subprocess and checks the result with libpq. Without
// a server these tests fail; they never skip. The shared helpers are in db_fixture.h. (One case
// reads the statements of its database from the server's log, where scripts/lib/pg.sh puts it.)
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/db/db_fixture.h"

using namespace sluice::testing;
using sluice::engine::qualified;

namespace {

// Checks the end state SPEC §3 describes, in `schema`.
void check_upstream_shape(Connection& c, const std::string& schema) {
    CHECK_MESSAGE(joined(columns_of(c, schema)) == joined(kColumns), "chat_message's columns differ from upstream's");
    CHECK_MESSAGE(joined(indexes_of(c, schema)) == joined(kAllIndexes), "chat_message's indexes differ from SPEC §3");
    CHECK_MESSAGE(foreign_key_of(c, schema) == kExpectedForeignKey, "the foreign key is missing or not as upstream's");
}

}  // namespace

// ==================================================================== the cases

TEST_CASE("a generated corpus migrates into exactly the table, indexes and foreign key upstream creates") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    Run run = migrate(db, dir.file("rejects.jsonl"));
    INFO("sluice said:\n" << run.said());
    REQUIRE_MESSAGE(run.status == 0, "migrate of a generated corpus did not succeed");
    Summary s = summary_of(run);
    REQUIRE_MESSAGE(s.found, "the summary has no 'messages written' line");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM chat_message") == s.written,
                  "the table does not hold the number of rows the summary says were written");
    CHECK_MESSAGE(s.written > 3000, "a 300-chat corpus gave suspiciously few rows");
    CHECK_MESSAGE(s.present == 0, "a fresh target reported rows as already present");
    std::vector<RejectLine> rejects = read_rejects(dir.file("rejects.jsonl"));
    CHECK_MESSAGE(static_cast<long long>(rejects.size()) == s.rejected,
                  "the reject file does not hold as many lines as the summary's 'rejected'");
    CHECK_MESSAGE(all_of(rejects, [](const RejectLine& r) { return r.well_formed; }),
                  "a reject line lacks id, chat_id, sqlstate, message or row");
    CHECK_MESSAGE(
        number(db.sql(), "SELECT count(*) FROM chat_message WHERE created_at IS DISTINCT FROM updated_at") == 0,
        "created_at and updated_at differ in some row");
    check_upstream_shape(db.sql(), "public");
}

TEST_CASE("the rejects are exactly the messages a text column cannot store, and their neighbours are written") {
    TestDatabase db;
    TempDir dir;
    create_chat_table(db, {});
    std::string ok = message(R"("user")", R"("fine")");
    // JSON that spans lines, as a source may hold it: the reject line must still be one line.
    insert_chat(db, "c1",
                chat_of({{"a", ok}, {"obj", message(R"({"name":"user"})", "{\"k\":\n [1,\r\n2]}")}, {"b", ok}}));
    insert_chat(db, "c2", chat_of({{"a", ok}, {"nul", message(R"("us\u0000er")", R"("x")")}, {"b", ok}}));
    insert_chat(
        db, "c3",
        chat_of({{"a", ok}, {"sur", R"({"role":"user","parentId":"p\udc00","timestamp":1717000000})"}, {"b", ok}}));
    insert_chat(db, "c4",
                chat_of({{"a", ok},
                         {"arr", message(R"(["user"])", R"("x")")},
                         {"json", message(R"("user")", R"("\ud800 and \u0000 are fine in json")")}}));
    Run run = migrate(db, dir.file("rejects.jsonl"));
    INFO("sluice said:\n" << run.said());
    REQUIRE_MESSAGE(run.status == 0, "a run with rejects must still succeed (no --max-rejects)");
    std::vector<RejectLine> rejects = read_rejects(dir.file("rejects.jsonl"));
    CHECK_MESSAGE(all_of(rejects, [](const RejectLine& r) { return r.well_formed; }),
                  "a reject line lacks id, chat_id, sqlstate, message or row");
    CHECK_MESSAGE(all_of(rejects, [](const RejectLine& r) { return r.chat_id == r.id.substr(0, 2); }),
                  "a reject's chat_id is not its message's chat");
    CHECK_MESSAGE(all_of(rejects, [](const RejectLine& r) { return r.sqlstate.size() == 5 && !r.message.empty(); }),
                  "a reject lacks a SQLSTATE or a message saying why");
    std::vector<std::string> id_list = reject_ids(rejects);
    std::set<std::string> ids(id_list.begin(), id_list.end());
    const std::set<std::string> unstorable{"c1-obj", "c2-nul", "c3-sur", "c4-arr"};
    CHECK_MESSAGE(ids == unstorable, "the reject file does not list exactly the unstorable messages");
    CHECK_MESSAGE(rejects.size() == 4, "the reject file does not hold one line per rejected message");
    CHECK_MESSAGE(summary_of(run).rejected == 4, "the summary does not count the 4 rejects");
    const std::vector<std::string> neighbours{"c1-a", "c1-b", "c2-a", "c2-b", "c3-a", "c3-b", "c4-a", "c4-json"};
    CHECK_MESSAGE(joined(rows(db.sql(), "SELECT id FROM chat_message ORDER BY id")) == joined(neighbours),
                  "the neighbours of the rejected messages are not all in the table");
    CHECK_MESSAGE(scalar(db.sql(), "SELECT content::text FROM chat_message WHERE id = 'c4-json'") ==
                      R"("\ud800 and \u0000 are fine in json")",
                  "a lone surrogate and a \\u0000 escape inside a json column did not survive as written");
}

TEST_CASE("a batch with bad rows keeps all its good rows and rejects only the bad ones") {
    // 60 chats of 4 messages; "poison" at the first and last row, two adjacent rows, and one more.
    const std::set<std::string> poisoned{"c000-m0", "c020-m1", "c020-m2", "c041-m3", "c059-m3"};
    std::string batch_rows;
    SUBCASE("when every row shares one batch") {
        batch_rows = "100000";
    }
    SUBCASE("when the rows are spread over many small batches") {
        batch_rows = "7";
    }
    INFO("--batch-rows " << batch_rows);
    TestDatabase db;
    TempDir dir;
    create_chat_table(db, {});
    std::set<std::string> expected;
    for (int c = 0; c < 60; ++c) {
        char id[8];
        std::snprintf(id, sizeof id, "c%03d", c);
        std::vector<std::pair<std::string, std::string>> messages;
        for (int m = 0; m < 4; ++m) {
            std::string row_id = std::string(id) + "-m" + std::to_string(m);
            bool bad = poisoned.count(row_id) > 0;
            std::string msg = message(R"("user")", bad ? R"("poison")" : R"("ok")");
            if (bad) msg.insert(1, "\"usage\":{\"spans\":\n\"lines\"},");  // the reject line must stay one line
            messages.push_back({"m" + std::to_string(m), msg});
            if (!bad) expected.insert(row_id);
        }
        insert_chat(db, id, chat_of(messages));
    }
    Run schema = migrate(db, dir.file("rejects.jsonl"), {"--phases", "schema"});
    REQUIRE_MESSAGE(schema.status == 0, "the schema phase failed: " << schema.said());
    const std::string target = target_of(db.sql(), "public");
    db.sql().exec("ALTER TABLE " + target + R"( ADD CONSTRAINT no_x CHECK (content::text <> '"poison"'))");
    Run run = migrate(db, dir.file("rejects.jsonl"), {"--phases", "backfill", "--batch-rows", batch_rows});
    INFO("sluice said:\n" << run.said());
    REQUIRE_MESSAGE(run.status == 0, "a backfill with rows the table refuses must still succeed");
    std::vector<RejectLine> rejects = read_rejects(dir.file("rejects.jsonl"));
    std::vector<std::string> id_list = reject_ids(rejects);
    std::set<std::string> rejected(id_list.begin(), id_list.end());
    CHECK_MESSAGE(all_of(rejects, [](const RejectLine& r) { return r.sqlstate == "23514"; }),
                  "a check-constraint reject does not carry SQLSTATE 23514");
    CHECK_MESSAGE(all_of(rejects, [](const RejectLine& r) { return r.message.find("no_x") != std::string::npos; }),
                  "a reject's message does not name the constraint");
    CHECK_MESSAGE(all_of(rejects, [](const RejectLine& r) { return r.row.find("poison") != std::string::npos; }),
                  "a reject line does not hold the whole row");
    CHECK_MESSAGE(rejected == poisoned, "the rejects are not exactly the poisoned rows");
    CHECK_MESSAGE(rejects.size() == poisoned.size(), "the reject file does not hold one line per poisoned row");
    CHECK_MESSAGE(all_of(rejects, [](const RejectLine& r) { return r.well_formed; }),
                  "a reject line lacks id, chat_id, sqlstate, message or row");
    std::vector<std::string> stored = rows(db.sql(), "SELECT id FROM " + target + " ORDER BY id");
    CHECK_MESSAGE(std::set<std::string>(stored.begin(), stored.end()) == expected,
                  "good rows of a batch with bad rows were lost (or bad rows stored)");
    Summary s = summary_of(run);
    CHECK_MESSAGE(s.written == static_cast<long long>(expected.size()), "the summary's 'written' is not the good rows");
    CHECK_MESSAGE(s.rejected == static_cast<long long>(poisoned.size()),
                  "the summary's 'rejected' is not the bad rows");
}

TEST_CASE("a second run changes nothing, says so and succeeds") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    Run first = migrate(db, dir.file("rejects.jsonl"));
    REQUIRE_MESSAGE(first.status == 0, "the first run failed: " << first.said());
    std::string before = table_fingerprint(db.sql(), "public");
    std::string timestamps =
        scalar(db.sql(), "SELECT md5(string_agg(created_at::text, ',' ORDER BY id)) FROM chat_message");
    std::string rejects_before = slurp(dir.file("rejects.jsonl"));
    Run second = migrate(db, dir.file("rejects.jsonl"));
    INFO("second run said:\n" << second.said());
    CHECK_MESSAGE(second.status == 0, "a second run over a migrated database did not exit 0");
    // Every phase done: one line says so, before any phase (or check) runs.
    CHECK_MESSAGE(says(second, "already migrated (alembic 374d2f66af06, "), "the run did not say it was migrated");
    CHECK_MESSAGE(says(second, "; nothing to do"), "the run did not say there was nothing to do");
    CHECK_MESSAGE(!says(second, "phase"), "a phase ran on a migrated database");
    CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == before, "a second run changed chat_message");
    CHECK_MESSAGE(
        scalar(db.sql(), "SELECT md5(string_agg(created_at::text, ',' ORDER BY id)) FROM chat_message") == timestamps,
        "a second run rewrote timestamps");
    CHECK_MESSAGE(slurp(dir.file("rejects.jsonl")) == rejects_before, "a second run changed the reject file");
    check_upstream_shape(db.sql(), "public");
}

TEST_CASE("a target that already holds some rows completes with them counted as already present") {
    const Reference& ref = clean_run();
    TempDir dir;
    TestDatabase source;  // a finished migration to take 30% of the rows from
    load_corpus(source);
    REQUIRE_MESSAGE(migrate(source, dir.file("source.jsonl"), {"--phases", "schema,backfill"}).status == 0,
                    "the source migration failed");
    TestDatabase db;
    load_corpus(db);
    // A table upstream made and left part filled (stamped past, as Open WebUI's advice goes): rows
    // spread over the whole id range, and no checkpoint.
    create_upstream_chat_message(db.sql(), "public");
    copy_in(db.sql(), "COPY chat_message FROM STDIN",
            copy_out(source.sql(), "COPY (SELECT * FROM " + target_of(source.sql(), "public") +
                                       " WHERE abs(hashtext(id)) % 10 < 3) TO STDOUT"));
    long long preinserted = number(db.sql(), "SELECT count(*) FROM chat_message");
    REQUIRE_MESSAGE(preinserted > 100, "too few rows pre-inserted to test anything");
    Run run = migrate(db, dir.file("rejects.jsonl"));
    INFO("sluice said:\n" << run.said());
    REQUIRE_MESSAGE(run.status == 0, "migrate over a partly filled target failed");
    Summary s = summary_of(run);
    CHECK_MESSAGE(s.present == preinserted, "'already present' is not the number of rows that were there");
    CHECK_MESSAGE(s.written + s.present == ref.summary.written, "written + present is not what a clean run writes");
    CHECK_MESSAGE(s.rejected == ref.summary.rejected, "a partly filled target changed the rejects");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) - count(DISTINCT id) FROM chat_message") == 0, "duplicate ids");
    CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == ref.fingerprint, "the table differs from a clean run's");
    CHECK_MESSAGE(reject_ids(read_rejects(dir.file("rejects.jsonl"))) == ref.rejects,
                  "the reject file differs from a clean run's");
    check_upstream_shape(db.sql(), "public");
}

TEST_CASE(
    "phases run one at a time: the bare table, then rows with their key, then indexes, then the foreign key, then "
    "publish") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    std::string rejects = dir.file("rejects.jsonl");

    Run backfill_first = migrate(db, rejects, {"--phases", "backfill"});
    INFO("backfill without schema said:\n" << backfill_first.said());
    CHECK_MESSAGE(backfill_first.status == 4, "backfill without the table was not refused with exit 4");
    CHECK_MESSAGE(backfill_first.error_lines().size() == 1, "the failure is not one line on stderr");
    CHECK_MESSAGE(backfill_first.err.find("schema phase") != std::string::npos,
                  "the failure does not say to run the schema phase first");

    Run schema = migrate(db, rejects, {"--phases", "schema"});
    REQUIRE_MESSAGE(schema.status == 0, "the schema phase failed: " << schema.said());
    CHECK_MESSAGE(joined(columns_of(db.sql(), "public")) == joined(kColumns), "the schema phase made other columns");
    CHECK_MESSAGE(indexes_of(db.sql(), "public").empty(),
                  "the schema phase made an index or a key (the backfill loads without them)");
    CHECK_MESSAGE(foreign_key_of(db.sql(), "public").empty(), "the schema phase added the foreign key");
    const std::string build = "public.sluice_chat_message";
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM " + build) == 0, "the schema phase wrote rows");
    CHECK_MESSAGE(scalar(db.sql(), "SELECT to_regclass('public.chat_message')").empty(),
                  "the schema phase made chat_message visible before it is complete");

    Run backfill = migrate(db, rejects, {"--phases", "backfill"});
    REQUIRE_MESSAGE(backfill.status == 0, "the backfill phase failed: " << backfill.said());
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM " + build) == summary_of(backfill).written,
                  "the backfill phase did not write the rows it counted");
    CHECK_MESSAGE(joined(indexes_of(db.sql(), "public")) == joined(kPrimaryKeyOnly),
                  "the backfill phase did not end with the primary key alone");
    CHECK_MESSAGE(foreign_key_of(db.sql(), "public").empty(), "the backfill phase added the foreign key");

    Run indexes = migrate(db, rejects, {"--phases", "indexes"});
    REQUIRE_MESSAGE(indexes.status == 0, "the index phase failed: " << indexes.said());
    CHECK_MESSAGE(joined(indexes_of(db.sql(), "public")) == joined(kAllIndexes), "the index phase missed an index");
    CHECK_MESSAGE(foreign_key_of(db.sql(), "public").empty(), "the index phase added the foreign key");

    // A row whose chat is gone (deleted after the backfill read it): the constraint phase removes it.
    db.sql().exec("INSERT INTO " + build + " (id, chat_id, role) VALUES ('orphan-1', 'no such chat', 'user')");
    Run constraints = migrate(db, rejects, {"--phases", "constraints"});
    INFO("constraints said:\n" << constraints.said());
    REQUIRE_MESSAGE(constraints.status == 0, "the constraint phase failed");
    CHECK_MESSAGE(foreign_key_of(db.sql(), "public") == kExpectedForeignKey, "the constraint phase left no valid FK");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM " + build + " WHERE id = 'orphan-1'") == 0,
                  "the orphaned row survived the constraint phase");
    CHECK_MESSAGE(says(constraints, "deleted 1 row whose chat"),
                  "the constraint phase did not report the orphan it deleted");
    CHECK_MESSAGE(scalar(db.sql(), "SELECT to_regclass('public.chat_message')").empty(),
                  "chat_message appeared before the publish phase");

    Run publish = migrate(db, rejects, {"--phases", "publish"});
    INFO("publish said:\n" << publish.said());
    REQUIRE_MESSAGE(publish.status == 0, "the publish phase failed");
    CHECK_MESSAGE(scalar(db.sql(), "SELECT to_regclass('public.sluice_chat_message')").empty(),
                  "the build table is still there after publish");
    check_upstream_shape(db.sql(), "public");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM chat_message") == summary_of(backfill).written,
                  "chat_message does not hold the rows the backfill wrote");
}

TEST_CASE("phases given in any order run in the order schema, backfill, indexes, constraints, publish") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    Run run = migrate(db, dir.file("rejects.jsonl"), {"--phases", "publish,constraints,indexes,backfill,schema"});
    INFO("sluice said:\n" << run.said());
    REQUIRE_MESSAGE(run.status == 0, "migrate with shuffled phases failed");
    auto at = [&](const char* phase) { return run.out.find(std::string("  ") + phase + " "); };
    CHECK_MESSAGE(at("schema") < at("backfill"), "schema did not run before backfill");
    CHECK_MESSAGE(at("backfill") < at("indexes"), "backfill did not run before the indexes");
    CHECK_MESSAGE(at("indexes") < at("constraints"), "the indexes were not built before the constraint");
    CHECK_MESSAGE(at("constraints") < at("publish"), "publish did not come last");
    CHECK_MESSAGE(at("publish") != std::string::npos, "the publish phase did not run");
    check_upstream_shape(db.sql(), "public");
}

TEST_CASE("a schema other than public works, even one whose name needs quoting") {
    const std::string schema = "Open WebUI";
    TestDatabase db;
    TempDir dir;
    load_corpus(db, {300, 5, "json", schema});
    create_chat_table(db, {});  // an empty public.chat that must not be read or written
    Run run;
    SUBCASE("given as --schema") {
        run = migrate(db, dir.file("rejects.jsonl"), {"--schema", schema});
    }
    SUBCASE("given as DATABASE_SCHEMA, with DATABASE_URL for the database, as Open WebUI's container has them") {
        run = run_sluice({"migrate", "--progress", "none", "--reject-file", dir.file("rejects.jsonl")},
                         {"DATABASE_URL=" + db.conninfo(), "DATABASE_SCHEMA=" + schema});
    }
    INFO("sluice said:\n" << run.said());
    REQUIRE_MESSAGE(run.status == 0, "migrate in schema \"Open WebUI\" failed");
    CHECK_MESSAGE(says(run, "\"Open WebUI\""), "the run does not name the schema it works in");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM \"Open WebUI\".chat_message") == clean_run().summary.written,
                  "the other schema's chat_message does not hold what a clean run in public writes");
    CHECK_MESSAGE(table_fingerprint(db.sql(), schema) == clean_run().fingerprint,
                  "the rows differ from a clean run's in public");
    check_upstream_shape(db.sql(), schema);
    CHECK_MESSAGE(scalar(db.sql(), "SELECT to_regclass('public.chat_message')").empty(),
                  "the run created chat_message in public");
    CHECK_MESSAGE(!scalar(db.sql(), "SELECT to_regclass('\"Open WebUI\".sluice_checkpoint')").empty(),
                  "the checkpoint is not kept in the run's schema");
}

TEST_CASE("a chat column of type jsonb migrates") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db, {300, 5, "jsonb", "public"});
    REQUIRE_MESSAGE(scalar(db.sql(),
                           "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
                           " WHERE attrelid = 'chat'::regclass AND attname = 'chat'") == "jsonb",
                    "the generator did not make chat.chat jsonb");
    Run run = migrate(db, dir.file("rejects.jsonl"));
    INFO("sluice said:\n" << run.said());
    REQUIRE_MESSAGE(run.status == 0, "migrate of a jsonb chat column failed");
    Summary s = summary_of(run);
    CHECK_MESSAGE(s.written > 3000, "a 300-chat jsonb corpus gave suspiciously few rows");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM chat_message") == s.written,
                  "the table does not hold the rows the summary counts");
    CHECK_MESSAGE(static_cast<long long>(read_rejects(dir.file("rejects.jsonl")).size()) == s.rejected,
                  "the reject file does not hold as many lines as the summary's 'rejected'");
    CHECK_MESSAGE(number(db.sql(),
                         "SELECT count(*) FROM chat_message m JOIN chat c ON c.id = m.chat_id"
                         " WHERE m.user_id IS DISTINCT FROM c.user_id") == 0,
                  "some row's user_id is not its chat's");
    check_upstream_shape(db.sql(), "public");
}

TEST_CASE("a rerun after a crash resumes from the checkpoint and ends with the rows of a clean run") {
    const Reference& ref = clean_run();
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    const std::string rejects = dir.file("rejects.jsonl");
    long long selected = number(db.sql(), std::string("SELECT count(*) FROM chat WHERE ") + kSelected);
    std::string middle = scalar(db.sql(), std::string("SELECT id FROM chat WHERE ") + kSelected +
                                              " ORDER BY id OFFSET " + std::to_string(selected / 2) + " LIMIT 1");
    long long after_middle =
        number(db.sql(), std::string("SELECT count(*) FROM chat WHERE ") + kSelected + " AND id > $1", {middle});

    bool exact_skips = false;  // setting the checkpoint back by hand cannot restore the per-rule counts
    SUBCASE("when the crash is simulated by setting the checkpoint back") {
        Run first = migrate(db, rejects, {"--phases", "schema,backfill"});
        REQUIRE_MESSAGE(first.status == 0, "the first backfill failed: " << first.said());
        // What a crash right after the commit that covered `middle` leaves: its rows, its rejects, its counts.
        std::vector<RejectLine> lines = read_rejects(rejects);
        std::size_t kept = 0;
        while (kept < lines.size() && lines[kept].chat_id <= middle)
            ++kept;
        for (std::size_t i = kept; i < lines.size(); ++i)
            REQUIRE_MESSAGE(lines[i].chat_id > middle, "the reject file is not in chat order: cannot cut it at a chat");
        db.sql().exec("DELETE FROM sluice_chat_message WHERE chat_id > $1", {middle});
        db.sql().exec("DELETE FROM sluice_reject WHERE chat_id > $1", {middle});
        db.sql().exec(std::string("UPDATE sluice_checkpoint SET complete = false, last_chat_id = $1,"
                                  " messages = (SELECT count(*) FROM sluice_chat_message), rejected = $2,"
                                  " chats = (SELECT count(*) FROM chat WHERE ") +
                          kSelected + " AND id <= $1)",
                      {middle, std::to_string(kept)});
    }
    SUBCASE("when the crash is simulated by a first run over only the chats up to the checkpoint") {
        db.sql().exec("CREATE TABLE chat_later AS SELECT * FROM chat WHERE id > $1", {middle});
        db.sql().exec("DELETE FROM chat WHERE id > $1", {middle});
        Run first = migrate(db, rejects, {"--phases", "schema,backfill"});
        REQUIRE_MESSAGE(first.status == 0, "the first backfill failed: " << first.said());
        db.sql().exec("INSERT INTO chat SELECT * FROM chat_later");
        db.sql().exec("DROP TABLE chat_later");
        db.sql().exec("UPDATE sluice_checkpoint SET complete = false");
        exact_skips = true;
    }
    Run resumed = migrate(db, rejects, {"--phases", "schema,backfill"});
    INFO("the resumed run said:\n" << resumed.said());
    REQUIRE_MESSAGE(resumed.status == 0, "the resumed run failed");
    CHECK_MESSAGE(says(resumed, "complete (resumed)"), "the rerun did not say it resumed");
    CHECK_MESSAGE(says(resumed, "this run: " + std::to_string(after_middle) + " chats"),
                  "the rerun did not read exactly the chats after the checkpoint");
    CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == ref.fingerprint, "the table differs from a clean run's");
    Summary s = summary_of(resumed);
    CHECK_MESSAGE(s.written == ref.summary.written, "the resumed totals do not count what a clean run writes");
    CHECK_MESSAGE(s.rejected == ref.summary.rejected, "the resumed totals do not count a clean run's rejects");
    CHECK_MESSAGE(s.present == 0, "the resumed run found rows already present: it read before its checkpoint");
    CHECK_MESSAGE(reject_ids(read_rejects(rejects)) == ref.rejects, "the reject file differs from a clean run's");
    CHECK_MESSAGE(s.chats == ref.summary.chats, "the resumed 'chats read' total is not a clean run's");
    if (exact_skips) {
        CHECK_MESSAGE(skipped_block(resumed.out) == skipped_block(ref.out),
                      "the resumed run's skipped-by-rule counts differ from a clean run's");
    }
}

TEST_CASE("an unreachable server ends with one line and exit status 3 (cannot connect)") {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE_MESSAGE((bind(s, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
                     getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len) == 0),
                    "cannot find a free port");
    close(s);  // nothing listens there now
    std::string url =
        "postgresql://postgres@127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/postgres?connect_timeout=5";
    TempDir dir;
    Run run = run_sluice({"migrate", "--db", url, "--progress", "none", "--reject-file", dir.file("r.jsonl")});
    INFO("sluice said:\n" << run.said());
    CHECK_MESSAGE(run.status == 3, "an unreachable server did not give exit status 3");
    CHECK_MESSAGE(run.error_lines().size() == 1, "an unreachable server did not give exactly one line on stderr");
    CHECK_MESSAGE(run.err.find("connect") != std::string::npos, "the line does not say it could not connect");
}

TEST_CASE("a database or user that does not exist ends with one line saying which setting to check") {
    std::string conninfo, hint;
    SUBCASE("a database that does not exist") {
        conninfo = with_dbname(server_conninfo(), "sluice_no_such_db");
        hint = "check the database name";
    }
    SUBCASE("a user that does not exist") {
        conninfo = with_dbname(server_conninfo(), "postgres") + " user='sluice_no_such_user'";  // the last user= wins
        hint = "check the user and password";
    }
    TempDir dir;
    Run run = run_sluice({"migrate", "--db", conninfo, "--progress", "none", "--reject-file", dir.file("r.jsonl")});
    INFO("sluice said:\n" << run.said());
    CHECK_MESSAGE(run.status == 3, "a connection refused by the server did not give exit status 3");
    CHECK_MESSAGE(run.error_lines().size() == 1, "a connection refused by the server did not give one line on stderr");
    CHECK_MESSAGE(run.err.find(hint) != std::string::npos, "the line does not point at the setting to fix");
}

TEST_CASE("a database without a chat table ends with one line that mentions the schema") {
    TestDatabase db;
    TempDir dir;
    std::string schema;
    SUBCASE("in public") {
        schema = "public";
    }
    SUBCASE("in a schema that does not exist") {
        schema = "nowhere";
    }
    Run run = migrate(db, dir.file("rejects.jsonl"), {"--schema", schema});
    INFO("sluice said:\n" << run.said());
    CHECK_MESSAGE(run.status == 4, "a missing chat table did not give exit status 4");
    CHECK_MESSAGE(run.error_lines().size() == 1, "a missing chat table did not give exactly one line on stderr");
    CHECK_MESSAGE(run.err.find(qualified(schema, "chat")) != std::string::npos,
                  "the line does not name the table it looked for");
    CHECK_MESSAGE(run.err.find("schema") != std::string::npos, "the line does not suggest checking the schema");
    CHECK_MESSAGE(scalar(db.sql(), "SELECT to_regclass($1)", {qualified(schema, "chat_message")}).empty(),
                  "sluice created chat_message without a chat table");
}

TEST_CASE("a chat_message table of another shape ends with one line naming the column, and is left alone") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    db.sql().exec(
        "CREATE TABLE chat_message (id TEXT PRIMARY KEY, chat_id TEXT NOT NULL, user_id TEXT, role TEXT NOT"
        " NULL, parent_id TEXT, content TEXT, output JSON, model_id TEXT, files JSON, sources JSON,"
        " embeds JSON, done BOOLEAN, status_history JSON, error JSON, usage JSON, created_at BIGINT,"
        " updated_at BIGINT)");
    Run run = migrate(db, dir.file("rejects.jsonl"));
    INFO("sluice said:\n" << run.said());
    CHECK_MESSAGE(run.status == 4, "a chat_message of another shape did not give exit status 4");
    CHECK_MESSAGE(run.error_lines().size() == 1, "a chat_message of another shape did not give one line on stderr");
    CHECK_MESSAGE(run.err.find("content") != std::string::npos, "the line does not name the column that differs");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM chat_message") == 0, "sluice wrote into the foreign table");
    CHECK_MESSAGE(scalar(db.sql(), "SELECT to_regclass('sluice_checkpoint')").empty(),
                  "sluice started a backfill into a table of another shape");
}

TEST_CASE("a bad option ends with one line and exit status 2, before touching the database") {
    TestDatabase db;
    TempDir dir;
    std::vector<std::string> bad;
    std::string named;
    SUBCASE("an unknown option") {
        bad = {"--frobnicate", "1"};
        named = "--frobnicate";
    }
    SUBCASE("a zero batch size") {
        bad = {"--batch-rows", "0"};
        named = "batch-rows";
    }
    SUBCASE("an unknown phase") {
        bad = {"--phases", "schema,everything"};
        named = "everything";
    }
    Run run = migrate(db, dir.file("rejects.jsonl"), bad);
    INFO("sluice said:\n" << run.said());
    CHECK_MESSAGE(run.status == 2, "a bad option did not give exit status 2");
    CHECK_MESSAGE(run.error_lines().size() == 1, "a bad option did not give exactly one line on stderr");
    CHECK_MESSAGE(run.err.find(named) != std::string::npos, "the line does not name what is wrong");
    CHECK_MESSAGE(scalar(db.sql(), "SELECT to_regclass('chat_message')").empty(), "a bad option still ran a phase");
}

TEST_CASE("a run that started fresh and retried its backfill after a lost connection does not say it resumed") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    const std::vector<std::string> slow = {"--batch-rows", "2", "--fetch-rows", "8", "--commit-interval", "10ms"};
    auto running = std::async(std::launch::async, [&] { return migrate(db, dir.file("r.jsonl"), slow); });
    // Once some chats are committed, the writer's session is ended: the run retries from its checkpoint.
    REQUIRE_MESSAGE(wait_until([&] {
                        return scalar(db.sql(), "SELECT to_regclass('sluice_checkpoint') IS NOT NULL") == "t" &&
                               number(db.sql(), "SELECT coalesce(sum(chats), 0) FROM sluice_checkpoint") > 0;
                    }),
                    "the run never committed");
    number(db.sql(),
           "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name ="
           " 'sluice writer' AND datname = current_database()");
    Run run = running.get();
    INFO("the run said:\n" << run.said());
    REQUIRE_MESSAGE(run.status == 0, "the run did not complete after its writer's session was ended");
    CHECK_MESSAGE(says(run, "attempts"), "the backfill was not retried: the case proves nothing");
    const bool said_resumed = says(run, "complete (resumed)");
    CHECK_MESSAGE(!said_resumed, "a run that began with no checkpoint said it resumed");
}

TEST_CASE("each batch's savepoint goes to the server with its COPY, and its release with the next one, not alone") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    const char* data = std::getenv("PG_DATA_DIR");
    REQUIRE_MESSAGE(data, "PG_DATA_DIR must name the test server's data directory (scripts/lib/pg.sh)");
    const std::string log = std::string(data) + "/../server.log";  // where scripts/lib/pg.sh starts it
    // This database's statements, each on a line of the server's log.
    db.sql().exec(
        "DO $$BEGIN EXECUTE format('ALTER DATABASE %I SET log_statement = ''all''', current_database()); END$$");
    const std::size_t before = slurp(log).size();
    Run run = migrate(db, dir.file("r.jsonl"), {"--phases", "schema,backfill", "--batch-bytes", "64kB"});
    INFO("the run said:\n" << run.said());
    REQUIRE_MESSAGE(run.status == 0, "the backfill failed");
    std::istringstream lines(slurp(log).substr(before));
    auto ends = [](const std::string& line, const std::string& tail) {
        return line.size() >= tail.size() && line.compare(line.size() - tail.size(), tail.size(), tail) == 0;
    };
    int savepoints = 0, releases = 0, rollbacks = 0, with_copy = 0;
    for (std::string line; std::getline(lines, line);) {
        savepoints += ends(line, "statement: SAVEPOINT sluice_range") ? 1 : 0;
        releases += ends(line, "statement: RELEASE SAVEPOINT sluice_range") ? 1 : 0;
        rollbacks += ends(line, "statement: ROLLBACK TO SAVEPOINT sluice_range") ? 1 : 0;
        with_copy += line.find("SAVEPOINT sluice_range; COPY ") != std::string::npos ? 1 : 0;
    }
    CHECK_MESSAGE(savepoints == 0, savepoints << " savepoints opened in a round trip of their own");
    // A range rolled back (a bad row) is released on its own, as it must be before the next range.
    CHECK_MESSAGE(releases == rollbacks, (releases - rollbacks) << " savepoints released in a round trip of their own");
    CHECK_MESSAGE(with_copy > 10, "only " << with_copy << " COPYs were sent with their savepoint");
}
