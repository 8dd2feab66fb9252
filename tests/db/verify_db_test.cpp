// `sluice verify` end to end against a real PostgreSQL (see db_fixture.h): after a migration it
// agrees; rows deleted, added or altered afterwards are named; the rejects table accounts for
// the rows the migration could not store, and a reject whose chat has changed since is stale;
// and it never writes; --resync after edits makes it agree again.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/db/db_fixture.h"

using namespace sluice::testing;

namespace {

// The figures of verify's report; `found` when every line that holds them is there.
struct Report {
    bool found = false;
    long long chats = 0, with_messages = 0;
    long long expected = 0, unstorable = 0, present = 0, rejected = 0, missing = 0;
    long long unexpected_in_chats = 0, unexpected_elsewhere = 0;
    long long sampled = 0, differ = 0;
};

Report report_of(const Run& run) {
    static const std::regex chats(R"(chats +(\d+) selected, (\d+) with messages)");
    static const std::regex messages(
        R"((\d+) expected \((\d+) that cannot be stored\): (\d+) present, (\d+) rejected, (\d+) missing)");
    static const std::regex unexpected(R"(unexpected +(\d+) in the selected chats, (\d+) in other chats)");
    static const std::regex sample(R"(sample +(\d+) rows compared[^\n]*: (\d+) differ\n)");
    std::smatch c, m, u, s;
    Report r;
    r.found = std::regex_search(run.out, c, chats) && std::regex_search(run.out, m, messages) &&
              std::regex_search(run.out, u, unexpected) && std::regex_search(run.out, s, sample);
    if (!r.found) return r;
    auto n = [](const std::ssub_match& v) { return std::stoll(v.str()); };
    r.chats = n(c[1]), r.with_messages = n(c[2]);
    r.expected = n(m[1]), r.unstorable = n(m[2]), r.present = n(m[3]), r.rejected = n(m[4]), r.missing = n(m[5]);
    r.unexpected_in_chats = n(u[1]), r.unexpected_elsewhere = n(u[2]);
    r.sampled = n(s[1]), r.differ = n(s[2]);
    return r;
}

// A migrated corpus: the chats, the rows migrate wrote, its reject file. Without the foreign key
// unless asked, so that tests can add rows whose chat does not exist.
struct Migrated {
    TestDatabase db;
    TempDir dir;
    std::string rejects = dir.file("rejects.jsonl");
    Summary summary;

    explicit Migrated(const std::string& phases = "schema,backfill,indexes") {
        load_corpus(db);
        Run run = migrate(db, rejects, {"--phases", phases});
        if (run.status != 0) throw std::runtime_error("the migration before verify failed: " + run.said());
        summary = summary_of(run);
    }
    Run verify(const std::vector<std::string>& more = {}) { return sluice::testing::verify(db, rejects, more); }
};

// Before publish verify checks the build table, and says so in its last line.
bool agrees(const Run& run) {
    return says(run, "chat_message agrees with chat");
}

// Chats c1 (50 messages, m00..m49) and c2 (a, b): the sample is row 0 (c1-m00) and row 50 (c2-a).
// c1-m00's content and c2-a's content, as sluice stores them (verbatim):
const std::string kFirstContent = R"({"text":"caf\u00e9","n":[1,2.50,1e2],"dup":1,"dup":2})";
const std::string kFiftiethContent = R"({"s":"\ud800","deep":[[[[1]]]]})";

void load_two_chats(TestDatabase& db) {
    create_chat_table(db, {});
    std::vector<std::pair<std::string, std::string>> c1;
    for (int i = 0; i < 50; ++i) {
        char key[4];
        std::snprintf(key, sizeof key, "m%02d", i);
        c1.emplace_back(key, message(R"("user")", i == 0 ? kFirstContent : R"("hello")"));
    }
    insert_chat(db, "c1", chat_of(c1));
    insert_chat(db, "c2",
                chat_of({{"a", message(R"("assistant")", kFiftiethContent)}, {"b", message(R"("user")", "1")}}));
}

}  // namespace

TEST_CASE("verify after a clean migration agrees, exits 0, counts what migrate wrote and writes nothing") {
    Migrated m("schema,backfill,indexes,constraints");
    std::string before = table_fingerprint(m.db.sql(), "public");
    std::string checkpoint = scalar(m.db.sql(), "SELECT updated_at::text FROM sluice_checkpoint");
    std::string rejects_before = slurp(m.rejects);
    Run run;
    SUBCASE("on an ordinary connection") {
        run = m.verify();
    }
    SUBCASE("on a connection where every transaction is read-only, as on a standby") {
        run = run_sluice({"verify", "--progress", "none", "--db",
                          m.db.conninfo() + " options='-c default_transaction_read_only=on'"});
    }
    INFO("verify said:\n" << run.said());
    CHECK_MESSAGE(run.status == 0, "verify after a clean migration did not exit 0");
    CHECK_MESSAGE(agrees(run), "verify did not say that chat_message agrees with chat");
    Report r = report_of(run);
    REQUIRE_MESSAGE(r.found, "the report lacks its chats, messages, unexpected or sample line");
    CHECK_MESSAGE(r.chats == number(m.db.sql(), std::string("SELECT count(*) FROM chat WHERE ") + kSelected),
                  "'selected' is not the number of chats the reader selects");
    CHECK_MESSAGE(r.with_messages == number(m.db.sql(), "SELECT count(DISTINCT chat_id) FROM sluice_chat_message"),
                  "'with messages' is not the number of chats that have rows");
    CHECK_MESSAGE(r.present == m.summary.written, "'present' is not the number of rows migrate wrote");
    CHECK_MESSAGE(r.rejected == m.summary.rejected, "'rejected' is not the number migrate rejected");
    CHECK_MESSAGE(r.expected == r.present + r.rejected, "expected is not present + rejected");
    CHECK_MESSAGE(r.missing == 0, "a clean migration has missing rows");
    CHECK_MESSAGE(r.unexpected_in_chats + r.unexpected_elsewhere == 0, "a clean migration has unexpected rows");
    long long rows = r.expected - r.unstorable;
    CHECK_MESSAGE(r.sampled == (rows + 49) / 50, "the sample is not the first and every 50th of " << rows << " rows");
    CHECK_MESSAGE(r.differ == 0, "a sampled row differs right after a clean migration");
    CHECK_MESSAGE(table_fingerprint(m.db.sql(), "public") == before, "verify changed chat_message");
    CHECK_MESSAGE(scalar(m.db.sql(), "SELECT updated_at::text FROM sluice_checkpoint") == checkpoint,
                  "verify touched the checkpoint");
    CHECK_MESSAGE(slurp(m.rejects) == rejects_before, "verify changed the reject file");
}

TEST_CASE("verify before the indexes are built still agrees, and says why it may be slow") {
    Migrated m("schema,backfill");
    Run run = m.verify();
    INFO("verify said:\n" << run.said());
    CHECK_MESSAGE(run.status == 0, "verify without the indexes did not exit 0");
    CHECK_MESSAGE(agrees(run), "verify without the indexes did not agree");
    CHECK_MESSAGE(says(run, "no index on chat_id"), "verify did not note the missing index on chat_id");
}

TEST_CASE("rows deleted after the migration are named as missing, and verify exits 6") {
    Migrated m;
    std::vector<std::string> deleted =
        rows(m.db.sql(), "SELECT id FROM sluice_chat_message ORDER BY id OFFSET 100 LIMIT 3");
    REQUIRE_MESSAGE(deleted.size() == 3, "the corpus has too few rows to delete three");
    m.db.sql().exec("DELETE FROM sluice_chat_message WHERE id = ANY($1::text[])",
                    {"{" + deleted[0] + "," + deleted[1] + "," + deleted[2] + "}"});
    Run run = m.verify();
    INFO("verify said:\n" << run.said());
    CHECK_MESSAGE(run.status == 6, "verify with deleted rows did not exit 6");
    CHECK_MESSAGE(!agrees(run), "verify with deleted rows said it agrees");
    Report r = report_of(run);
    REQUIRE_MESSAGE(r.found, "the report lacks its counts");
    CHECK_MESSAGE(r.missing == 3, "'missing' is not the 3 deleted rows");
    CHECK_MESSAGE(r.present == m.summary.written - 3, "'present' does not drop by the 3 deleted rows");
    for (const std::string& id : deleted)
        CHECK_MESSAGE(says(run, "\"" + id + "\""), "the report does not name the deleted row " << id);
    CHECK_MESSAGE(says(run, "chats whose message count differs"), "the report has no per-chat count line");
    CHECK_MESSAGE(!says(run, " 0 chats whose message count differs"), "no chat's count was found to differ");
}

TEST_CASE("a row that migrate did not write is reported as unexpected, whether its chat is selected or not") {
    Migrated m;
    std::string chat_id, where;
    SUBCASE("a row in a selected chat") {
        chat_id = scalar(m.db.sql(), std::string("SELECT id FROM chat WHERE ") + kSelected + " ORDER BY id LIMIT 1");
        where = "selected";
    }
    SUBCASE("a row of a shared chat, which the migration leaves out") {
        m.db.sql().exec("INSERT INTO chat (id, user_id, chat) VALUES ('shared-chat', 'shared-u1', '{}')");
        chat_id = "shared-chat";
        where = "other";
    }
    SUBCASE("a row whose chat does not exist") {
        chat_id = "no such chat";
        where = "other";
    }
    INFO("the stray row's chat: " << chat_id);
    m.db.sql().exec("INSERT INTO sluice_chat_message (id, chat_id, role) VALUES ('stray-1', $1, 'user')", {chat_id});
    Run run = m.verify();
    INFO("verify said:\n" << run.said());
    CHECK_MESSAGE(run.status == 6, "verify with a stray row did not exit 6");
    Report r = report_of(run);
    REQUIRE_MESSAGE(r.found, "the report lacks its counts");
    CHECK_MESSAGE(r.unexpected_in_chats == (where == "selected" ? 1 : 0), "the stray row is not counted in its chat");
    CHECK_MESSAGE(r.unexpected_elsewhere == (where == "other" ? 1 : 0),
                  "the stray row is not counted as another chat's");
    CHECK_MESSAGE(says(run, "\"stray-1\""), "the report does not name the stray row");
    CHECK_MESSAGE(r.missing == 0, "a stray row made other rows missing");
}

TEST_CASE("a sampled row whose content was altered is reported with the column that differs") {
    TestDatabase db;
    TempDir dir;
    load_two_chats(db);
    Run migrated = migrate(db, dir.file("rejects.jsonl"), {"--phases", "schema,backfill"});
    REQUIRE_MESSAGE(migrated.status == 0, "the migration failed: " << migrated.said());
    REQUIRE_MESSAGE(
        scalar(db.sql(), "SELECT content::text FROM sluice_chat_message WHERE id = 'c1-m00'") == kFirstContent,
        "sluice did not store the content verbatim, which this test assumes");
    std::string id, column, sql;
    bool differs = true;
    SUBCASE("a JSON value changed") {
        id = "c1-m00", column = "content";
        sql =
            R"(UPDATE sluice_chat_message SET content = '{"text":"cafe","n":[1,2.50,1e2],"dup":2}' WHERE id = 'c1-m00')";
    }
    SUBCASE("JSON keys reordered") {
        id = "c1-m00", column = "content";
        sql =
            R"(UPDATE sluice_chat_message SET content = '{"n":[1,2.50,1e2],"text":"café","dup":2}' WHERE id = 'c1-m00')";
    }
    SUBCASE("a text column of the fiftieth row changed") {
        id = "c2-a", column = "role";
        sql = "UPDATE sluice_chat_message SET role = 'user' WHERE id = 'c2-a'";
    }
    SUBCASE("a valid timestamp changed") {
        id = "c1-m00", column = "created_at";
        sql = "UPDATE sluice_chat_message SET created_at = created_at + 1 WHERE id = 'c1-m00'";
    }
    SUBCASE("JSON written again as Python writes it: same meaning, other bytes") {
        differs = false;
        sql =
            R"(UPDATE sluice_chat_message SET content = CASE id WHEN 'c1-m00' THEN)"
            R"( '{"text": "café", "n": [1, 2.5, 100.0], "dup": 2}' ELSE '{"s": "\ud800", "deep": [[[[ 1 ]]]]}' END::json)"
            R"( WHERE id IN ('c1-m00', 'c2-a'))";
    }
    INFO("altered: " << sql);
    db.sql().exec(sql);
    Run run = verify(db, dir.file("rejects.jsonl"));
    INFO("verify said:\n" << run.said());
    Report r = report_of(run);
    REQUIRE_MESSAGE(r.found, "the report lacks its counts");
    CHECK_MESSAGE(r.sampled == 2, "the sample is not rows 0 and 50 (c1-m00 and c2-a)");
    if (differs) {
        CHECK_MESSAGE(run.status == 6, "verify with an altered row did not exit 6");
        CHECK_MESSAGE(r.differ == 1, "the altered row is not counted as differing");
        CHECK_MESSAGE(says(run, "\"" + id + "\" (" + column + ")"), "the report does not name the row and column");
    } else {
        CHECK_MESSAGE(run.status == 0, "JSON of the same meaning in other bytes made verify fail");
        CHECK_MESSAGE(r.differ == 0, "JSON of the same meaning in other bytes was counted as differing");
    }
}

TEST_CASE("every sampled row of a corpus altered after the migration is counted as differing") {
    Migrated m;
    m.db.sql().exec(R"(UPDATE sluice_chat_message SET usage = '{"tampered":true}')");
    Run run = m.verify();
    INFO("verify said:\n" << run.said());
    CHECK_MESSAGE(run.status == 6, "verify of a tampered table did not exit 6");
    Report r = report_of(run);
    REQUIRE_MESSAGE(r.found, "the report lacks its counts");
    CHECK_MESSAGE(r.sampled > 50, "the sample of a 300-chat corpus is suspiciously small");
    CHECK_MESSAGE(r.differ == r.sampled, "not every sampled row was found to differ");
    CHECK_MESSAGE(says(run, "(usage)"), "the report does not name the usage column");
}

TEST_CASE("rows the migration rejected are accounted for by the rejects table, and missing without their record") {
    TestDatabase db;
    TempDir dir;
    const std::string rejects = dir.file("rejects.jsonl");
    create_chat_table(db, {});
    std::string ok = message(R"("user")", R"("fine")");
    insert_chat(db, "c1", chat_of({{"a", ok}, {"obj", message(R"({"name":"user"})", R"("x")")}, {"b", ok}}));
    insert_chat(db, "c2", chat_of({{"a", ok}, {"nul", message(R"("us\u0000er")", R"("x")")}}));
    insert_chat(db, "c3", chat_of({{"a", ok}, {"bad", message(R"("user")", R"("poison")")}}));
    Run schema = migrate(db, rejects, {"--phases", "schema"});
    REQUIRE_MESSAGE(schema.status == 0, "the schema phase failed: " << schema.said());
    db.sql().exec(R"(ALTER TABLE sluice_chat_message ADD CONSTRAINT no_x CHECK (content::text <> '"poison"'))");
    Run backfill = migrate(db, rejects, {"--phases", "backfill"});
    REQUIRE_MESSAGE(backfill.status == 0, "the backfill failed: " << backfill.said());
    REQUIRE_MESSAGE(summary_of(backfill).rejected == 3, "the migration did not reject the 3 rows this test needs");

    SUBCASE("with every reject in the table, whatever the reject file says") {
        REQUIRE_MESSAGE(std::remove(rejects.c_str()) == 0, "cannot delete the reject file");
        Run run = verify(db, rejects);
        INFO("verify said:\n" << run.said());
        CHECK_MESSAGE(run.status == 0, "verify with every reject in the rejects table did not exit 0");
        Report r = report_of(run);
        REQUIRE_MESSAGE(r.found, "the report lacks its counts");
        CHECK_MESSAGE(r.rejected == 3, "the 3 rejected rows are not accounted for by the rejects table");
        CHECK_MESSAGE(r.unstorable == 2, "the 2 messages no text column can hold are not counted as unstorable");
        CHECK_MESSAGE(r.present == 4, "the 4 stored rows are not all present");
        CHECK_MESSAGE(r.missing == 0, "a row is missing although the rejects table accounts for every reject");
    }
    SUBCASE("with a reject deleted from the table") {
        db.sql().exec("DELETE FROM sluice_reject WHERE id = 'c3-bad'");
        Run run = verify(db, rejects);
        INFO("verify said:\n" << run.said());
        CHECK_MESSAGE(run.status == 6, "a rejected row missing from the rejects table did not make verify exit 6");
        Report r = report_of(run);
        CHECK_MESSAGE(r.missing == 1, "the row the rejects table lacks is not counted as missing");
        CHECK_MESSAGE(r.rejected == 2, "the two rejects the table holds are not accounted for");
        CHECK_MESSAGE(says(run, "\"c3-bad\""), "the report does not name the row the rejects table lacks");
    }
    SUBCASE("with a chat fixed by hand since: its reject is stale until --resync adds the row") {
        db.sql().exec("UPDATE chat SET chat = $1 WHERE id = 'c1'",
                      {chat_of({{"a", ok}, {"obj", message(R"("user")", R"("x")")}, {"b", ok}})});
        Run run = verify(db, rejects);
        INFO("verify said:\n" << run.said());
        CHECK_MESSAGE(run.status == 6, "a stale reject did not make verify exit 6");
        CHECK_MESSAGE(says(run, "1 rejected messages now derive as storable rows"), "the stale reject is not reported");
        CHECK_MESSAGE(says(run, "\"c1-obj\""), "the report does not name the stale reject");
        CHECK_MESSAGE(says(run, "--resync"), "the report does not say what to do about it");
        Report r = report_of(run);
        CHECK_MESSAGE(r.rejected == 2, "the stale reject was counted as accounted for");

        Run plain = migrate(db, rejects, {"--phases", "backfill"});
        CHECK_MESSAGE(says(plain, "already complete"), "a rerun without --resync did not find the backfill complete");
        Run resync = migrate(db, rejects, {"--phases", "backfill", "--resync"});
        INFO("resync said:\n" << resync.said());
        REQUIRE_MESSAGE(resync.status == 0, "migrate --resync failed");
        Summary s = summary_of(resync);
        CHECK_MESSAGE(s.written == 1, "--resync did not add exactly the fixed message");
        CHECK_MESSAGE(s.present == 4, "--resync did not count the rows already there as present");
        CHECK_MESSAGE(s.rejected == 2, "--resync did not keep exactly the rejects that still stand");
        CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM sluice_reject") == 2, "the rejects table was not renewed");
        Run after = verify(db, rejects);
        INFO("verify after --resync said:\n" << after.said());
        CHECK_MESSAGE(after.status == 0, "verify after --resync did not agree");
    }
}

TEST_CASE("--resync adds rows deleted by hand after a complete run") {
    Migrated m;
    std::vector<std::string> deleted = rows(m.db.sql(), "SELECT id FROM sluice_chat_message ORDER BY id LIMIT 5");
    m.db.sql().exec(
        "DELETE FROM sluice_chat_message WHERE id IN (SELECT id FROM sluice_chat_message ORDER BY id LIMIT 5)");
    Run run = migrate(m.db, m.rejects, {"--phases", "backfill", "--resync"});
    INFO("resync said:\n" << run.said());
    REQUIRE_MESSAGE(run.status == 0, "migrate --resync failed");
    Summary s = summary_of(run);
    CHECK_MESSAGE(s.written == 5, "--resync did not write exactly the 5 deleted rows");
    CHECK_MESSAGE(s.present == m.summary.written - 5, "--resync did not count the rest as already present");
    CHECK_MESSAGE(s.rejected == m.summary.rejected, "--resync changed the rejects");
    CHECK_MESSAGE(m.verify().status == 0, "verify does not agree after --resync");
}

namespace {

// Five chats beside the corpus, migrated, then edited (edit_chats): a message removed, one
// changed, one added, the chat emptied, a message made unstorable.
void insert_chats_to_edit(TestDatabase& db) {
    auto m = [](const char* content) { return message(R"("user")", content); };
    insert_chat(db, "edit-1", chat_of({{"k1", m(R"("one")")}, {"k2", m(R"("two")")}, {"k3", m(R"("three")")}}));
    insert_chat(db, "edit-2", chat_of({{"k1", m(R"("before")")}, {"k2", m(R"("kept")")}}));
    insert_chat(db, "edit-3", chat_of({{"k1", m(R"("first")")}}));
    insert_chat(db, "edit-4", chat_of({{"k1", m(R"("gone")")}, {"k2", m(R"("gone too")")}}));
    insert_chat(db, "edit-5", chat_of({{"k1", m(R"("fine")")}, {"k2", m(R"("fine too")")}}));
}

void edit_chats(TestDatabase& db) {
    auto m = [](const char* content) { return message(R"("user")", content); };
    auto set = [&](const std::string& id, const std::optional<std::string>& chat) {
        db.sql().exec("UPDATE chat SET chat = $2 WHERE id = $1", {id, chat});
    };
    set("edit-1", chat_of({{"k1", m(R"("one")")}, {"k3", m(R"("three")")}}));
    set("edit-2", chat_of({{"k1", m(R"({"after": [1, 2]})")}, {"k2", m(R"("kept")")}}));
    set("edit-3", chat_of({{"k1", m(R"("first")")}, {"k2", m(R"("second")")}}));
    set("edit-4", std::nullopt);
    set("edit-5", chat_of({{"k1", message(R"({"not": "a role"})", R"("fine")")}, {"k2", m(R"("fine too")")}}));
}

}  // namespace

TEST_CASE("--resync after chats were edited removes, updates and adds rows until the table is a fresh run's") {
    for (const std::string phases : {"schema,backfill,indexes,constraints,publish", "schema,backfill"}) {
        CAPTURE(phases);
        TestDatabase db;
        TempDir dir;
        load_corpus(db);
        insert_chats_to_edit(db);
        REQUIRE(migrate(db, dir.file("r.jsonl"), {"--phases", phases, "--lanes", "3"}).status == 0);
        edit_chats(db);
        CHECK_MESSAGE(verify(db, "").status == 6, "verify agreed before --resync: the edits changed nothing?");

        Run resync = migrate(db, dir.file("r.jsonl"), {"--phases", "backfill", "--resync", "--lanes", "3"});
        INFO("resync said:\n" << resync.said());
        REQUIRE_MESSAGE(resync.status == 0, "migrate --resync failed");
        // Updated: edit-2's k1; removed: edit-1's k2, edit-4's two, edit-5's k1 (now a reject).
        CHECK_MESSAGE(says(resync, "1 row updated for changed messages, 4 rows removed"),
                      "the summary does not count the updated and removed rows");
        Run after = verify(db, "");
        CHECK_MESSAGE(after.status == 0, "verify does not agree after --resync: " << after.said());

        TestDatabase fresh;
        load_corpus(fresh);
        insert_chats_to_edit(fresh);
        edit_chats(fresh);
        REQUIRE(migrate(fresh, dir.file("fresh.jsonl"), {"--phases", phases}).status == 0);
        CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == table_fingerprint(fresh.sql(), "public"),
                      "after --resync the table is not what a fresh run over the edited chats gives");
        const std::string rejects = "SELECT id || ' ' || sqlstate FROM sluice_reject ORDER BY 1";
        CHECK_MESSAGE(rows(db.sql(), rejects) == rows(fresh.sql(), rejects),
                      "after --resync the rejects are not a fresh run's");
    }
}

TEST_CASE("verify on a database that was not migrated ends with one line that says what to do") {
    TestDatabase db;
    TempDir dir;
    std::string expected;
    SUBCASE("no chat_message table") {
        load_corpus(db);
        expected = "nothing migrated yet: run sluice migrate";
    }
    SUBCASE("no chat table either") {
        expected = "there is no table \"public\".\"chat\"";
    }
    Run run = verify(db, dir.file("rejects.jsonl"));
    INFO("verify said:\n" << run.said());
    CHECK_MESSAGE(run.status == 1, "verify without the tables did not exit 1");
    CHECK_MESSAGE(run.error_lines().size() == 1, "verify without the tables did not give exactly one line on stderr");
    CHECK_MESSAGE(run.err.find(expected) != std::string::npos, "the line does not say: " << expected);
    CHECK_MESSAGE(scalar(db.sql(), "SELECT to_regclass('chat_message')").empty(), "verify created chat_message");
}
