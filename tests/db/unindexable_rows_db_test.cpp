// Rows too large for an index entry (stages/chat_message/unindexable_rows.h) against a real PostgreSQL (see
// db_fixture.h): moved to the rejects, and the build retried only once no snapshot from before the
// move can still see them, so the run passes on fresh databases every time, whoever else holds a
// snapshot meanwhile (another index build, an autovacuum ANALYZE, an open transaction).
#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "tests/db/db_fixture.h"

using namespace sluice::testing;
using namespace std::chrono_literals;

namespace {

// Waits until the rejects table holds `n` rows of SQLSTATE 54000 (true), or 30 s pass (false).
bool wait_for_rejects(Connection& probe, long long n) {
    for (auto until = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < until;) {
        const bool made = !scalar(probe, "SELECT to_regclass('public.sluice_reject')").empty();
        if (made && number(probe, "SELECT count(*) FROM public.sluice_reject WHERE sqlstate = '54000'") >= n)
            return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

// A session of the app's kind that keeps a snapshot open across both moves: one from before the
// run until the first move (the primary key's), then a new one, taken after that move and before
// the second (an index's), until that one is made too. Each lets go a moment after the move.
void hold_snapshots(TestDatabase& db) {
    Connection holder(db.conninfo(), "test snapshot holder");
    Connection probe(db.conninfo(), "test probe");
    holder.exec("BEGIN ISOLATION LEVEL REPEATABLE READ");
    holder.exec("SELECT count(*) FROM chat");
    for (long long moved = 1; moved <= 2; ++moved) {
        const bool seen = wait_for_rejects(probe, moved);
        std::this_thread::sleep_for(300ms);  // the next build would meet the row now
        holder.exec("COMMIT");
        if (!seen) return;
        holder.exec("BEGIN ISOLATION LEVEL REPEATABLE READ");
        holder.exec("SELECT count(*) FROM chat");
    }
    holder.exec("COMMIT");
}

// Two chats beside the corpus: "zz-key" with a 3,500-byte message key, "zz-model" with a 3,000-
// byte model, each next to a message that fits. Returns the huge key's message id.
std::string insert_unindexable_chats(TestDatabase& db) {
    // Hex digits of md5s: text that compression does not shrink below an index entry's limit.
    const std::string hex = "(SELECT left(string_agg(md5(g::text), ''), $1::int) FROM generate_series(1, 200) g)";
    const std::string message = "json_build_object('role', 'user', 'content', 'x', 'timestamp', 1717000000)";
    db.sql().exec(
        "INSERT INTO chat (id, user_id, chat) SELECT 'zz-key', 'u1', json_build_object('history', "
        "json_build_object('messages', json_object_agg(k, " +
            message +
            "))) "
            "FROM (VALUES ('a'), (" +
            hex + ")) AS keys (k)",
        {"3500"});
    db.sql().exec(
        "INSERT INTO chat (id, user_id, chat) SELECT 'zz-model', 'u1', json_build_object('history', "
        "json_build_object('messages', json_build_object('a', " +
            message +
            ", 'm', json_build_object("
            "'role', 'assistant', 'content', 'x', 'timestamp', 1717000000, 'model', " +
            hex + "))))",
        {"3000"});
    return "zz-key-" + scalar(db.sql(), "SELECT " + hex, {"3500"});
}

}  // namespace

TEST_CASE("a key and a model too large for an index pass on fresh databases 3 of 3 times, an open snapshot or not") {
    for (int round = 1; round <= 3; ++round) {
        CAPTURE(round);
        TestDatabase db;
        TempDir dir;
        load_corpus(db);
        const std::string big_key_id = insert_unindexable_chats(db);
        auto holding = std::async(std::launch::async, [&] { hold_snapshots(db); });
        std::this_thread::sleep_for(100ms);  // its first snapshot is taken before the run starts
        Run run = migrate(db, dir.file("r.jsonl"), {"--index-connections", "3"});
        holding.get();
        INFO("sluice said:\n" << run.said());
        REQUIRE_MESSAGE(run.status == 0, "a value too large for an index failed the run");
        CHECK_MESSAGE(rows(db.sql(), "SELECT id FROM sluice_reject WHERE sqlstate = '54000' ORDER BY id") ==
                          (std::vector<std::string>{big_key_id, "zz-model-m"}),
                      "the rejects do not hold exactly the huge key and the huge model");
        CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM chat_message WHERE chat_id LIKE 'zz-%'") == 2,
                      "the neighbours of the huge values were not kept");
        Run check = verify(db, dir.file("r.jsonl"));
        CHECK_MESSAGE(check.status == 0, "verify does not agree: " << check.said());
    }
}
