// Duplicate ids (stages/chat_message/duplicate_ids.h, SPEC §4) against a real PostgreSQL (see db_fixture.h):
// chat "a" message "b-c" and chat "a-b" message "c" both give "a-b-c". The chat whose id sorts
// first keeps the id, the other message is a reject (23505) naming it, the run completes and
// verify agrees: in a table loaded without its key, in one with its key (completed in place,
// --resync) where the later chat's row came first or the earlier's did, in one write, and in two
// lanes' ranges, on fresh databases every time.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/db/db_fixture.h"

using namespace sluice::testing;

namespace {

// Chats "a", "a-b" and "a-b-c", whose messages give "a-b-c" twice and "a-b-c-d" three times, and
// between them in id order 40 chats of about 16 kB, so that with lanes the colliding chats fall
// in different ranges of the plan.
void insert_colliding_chats(TestDatabase& db) {
    const std::string m = message(R"("user")", R"("from a")");
    insert_chat(db, "a",
                chat_of({{"b-c", message(R"("user")", R"("a's b-c")")},
                         {"b-c-d", message(R"("user")", R"("a's b-c-d")")},
                         {"x", message(R"("user")", R"("a's x")")}}));
    insert_chat(db, "a-b",
                chat_of({{"c", message(R"("user")", R"("a-b's c")")},
                         {"c-d", message(R"("assistant")", R"("a-b's c-d")")},
                         {"y", message(R"("user")", R"("a-b's y")")}}));
    insert_chat(db, "a-b-c", chat_of({{"d", message(R"("user")", R"("a-b-c's d")")}}));
    db.sql().exec(
        "INSERT INTO chat (id, user_id, chat) SELECT 'a-a' || lpad(g::text, 3, '0'), 'u1',"
        " json_build_object('history', json_build_object('messages', json_build_object('k',"
        " json_build_object('role', 'user', 'content', repeat(md5(g::text), 500), 'timestamp', 1717000000))))"
        " FROM generate_series(1, 40) g");
}

// What the later chats would have stored where they came first: upstream keeps whichever it reads
// first.
void store_later_chats_rows(TestDatabase& db) {
    db.sql().exec(
        "INSERT INTO chat_message (id, chat_id, user_id, role, content, output, files, sources, embeds,"
        " done, status_history, error, usage, created_at, updated_at) VALUES"
        " ('a-b-c', 'a-b', 'u1', 'user', '\"a-b''s c\"', 'null', 'null', 'null', 'null', true, 'null',"
        " 'null', 'null', 1717000000, 1717000000),"
        " ('a-b-c-d', 'a-b-c', 'u1', 'user', '\"a-b-c''s d\"', 'null', 'null', 'null', 'null', true, 'null',"
        " 'null', 'null', 1717000000, 1717000000)");
}

// The outcome SPEC §4 asks for, whatever the path: chat "a" holds both ids; the three other
// messages are rejects with 23505 naming chat "a"; the checkpoint counts every row once; verify agrees.
void check_settled(TestDatabase& db, const Run& run, const std::string& target) {
    INFO("sluice said:\n" << run.said());
    REQUIRE_MESSAGE(run.status == 0, "the run did not complete");
    CHECK_MESSAGE(
        rows(db.sql(), "SELECT id || ' ' || chat_id FROM " + target + " WHERE id LIKE 'a-b-c%' ORDER BY id") ==
            (std::vector<std::string>{"a-b-c a", "a-b-c-d a"}),
        "the chat whose id sorts first does not hold both ids");
    CHECK_MESSAGE(rows(db.sql(), "SELECT id || ' ' || chat_id || ' ' || sqlstate FROM sluice_reject ORDER BY 1") ==
                      (std::vector<std::string>{"a-b-c a-b 23505", "a-b-c-d a-b 23505", "a-b-c-d a-b-c 23505"}),
                  "the rejects are not exactly the later chats' messages, once each, with 23505");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM sluice_reject WHERE message LIKE '%\"a\"%'") == 3,
                  "a reject does not name the chat that keeps the id: "
                      << joined(rows(db.sql(), "SELECT message FROM sluice_reject")));
    CHECK_MESSAGE(number(db.sql(), "SELECT sum(messages + present) FROM sluice_checkpoint") ==
                      number(db.sql(), "SELECT count(*) FROM " + target),
                  "the checkpoint's written and present rows are not the table's");
    CHECK_MESSAGE(number(db.sql(), "SELECT sum(rejected) FROM sluice_checkpoint") ==
                      number(db.sql(), "SELECT count(*) FROM sluice_reject"),
                  "the checkpoint's rejects are not the rejects table's");
    Run check = verify(db, "");
    CHECK_MESSAGE(check.status == 0, "verify does not agree: " << check.said());
}

}  // namespace

TEST_CASE("two chats' messages with one id: the chat whose id sorts first keeps it, 3 of 3 fresh runs, any lanes") {
    std::string first_fingerprint;
    const char* lanes[] = {"3", "3", "1"};
    for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        TestDatabase db;
        TempDir dir;
        create_chat_table(db, {});
        insert_colliding_chats(db);
        Run run = migrate(db, dir.file("r.jsonl"), {"--lanes", lanes[round]});
        check_settled(db, run, "chat_message");
        CHECK_MESSAGE(read_rejects(dir.file("r.jsonl")).size() == 3, "the reject file does not hold the 3 rejects");
        const std::string fingerprint = table_fingerprint(db.sql(), "public");
        if (round == 0) first_fingerprint = fingerprint;
        CHECK_MESSAGE(fingerprint == first_fingerprint, "another run gave another table");
        if (round > 0) continue;
        Run again = migrate(db, dir.file("r.jsonl"), {"--lanes", lanes[round]});
        CHECK_MESSAGE(again.status == 0, "a rerun failed: " << again.said());
        Run resync = migrate(db, dir.file("r.jsonl"), {"--lanes", lanes[round], "--resync"});
        check_settled(db, resync, "chat_message");
        CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == first_fingerprint, "--resync changed the table");
    }
}

TEST_CASE(
    "in a table with its key the chat that sorts first wins the id, whichever row came first, in one write or in two "
    "lanes") {
    std::string reference;
    {
        TestDatabase db;
        TempDir dir;
        create_chat_table(db, {});
        insert_colliding_chats(db);
        REQUIRE(migrate(db, dir.file("r.jsonl")).status == 0);
        reference = table_fingerprint(db.sql(), "public");
    }
    struct Case {
        const char* name;
        bool later_rows_first;
        std::vector<std::string> options;
    };
    const Case cases[] = {
        {"the later chats' rows stored before the run, 3 lanes", true, {"--lanes", "3"}},
        {"the later chats' rows stored before the run, one write", true, {"--lanes", "1", "--batch-bytes", "64MiB"}},
        {"an empty table, one write", false, {"--lanes", "1", "--batch-bytes", "64MiB"}},
        {"an empty table, 3 lanes", false, {"--lanes", "3"}},
    };
    for (const Case& c : cases) {
        const std::string name = c.name;
        CAPTURE(name);
        TestDatabase db;
        TempDir dir;
        create_chat_table(db, {});
        insert_colliding_chats(db);
        create_upstream_chat_message(db.sql(), "public");
        if (c.later_rows_first) store_later_chats_rows(db);
        Run run = migrate(db, dir.file("r.jsonl"), c.options);
        check_settled(db, run, "chat_message");
        CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == reference,
                      "the table completed in place is not the one a fresh run builds");
    }
}
