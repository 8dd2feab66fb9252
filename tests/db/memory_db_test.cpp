// Memory with one huge chat (issue 17, item 10): a chat of 50 MiB costs sluice at most three
// times its size over the same run without it. The chat's text arrives once in libpq's receive
// buffer and once in its result; its rows must not hold it a third time.
#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include <random>
#include <string>

#include "tests/db/db_fixture.h"

using namespace sluice::testing;

namespace {

constexpr long long kHugeContent = 50LL << 20;

// The peak RSS a backfill (schema and backfill phases) reports in its summary, from a fresh start.
long long backfill_peak(TestDatabase& db, const TempDir& dir, const std::string& name) {
    db.sql().exec("DROP TABLE IF EXISTS chat_message, sluice_chat_message, sluice_checkpoint, sluice_reject CASCADE");
    db.sql().exec("DROP VIEW IF EXISTS ix_chat_message_chat_id");
    const std::string summary = dir.file(name + ".json");
    Run run = migrate(db, dir.file(name + ".jsonl"), {"--phases", "schema,backfill", "--summary-json", summary});
    REQUIRE_MESSAGE(run.status == 0, "the backfill failed:\n" << run.said());
    const std::string text = slurp(summary);
    rapidjson::Document d;
    d.Parse(text.c_str(), text.size());
    REQUIRE_MESSAGE((!d.HasParseError() && d.IsObject() && d.HasMember("peak_memory_bytes")), text);
    return static_cast<long long>(d["peak_memory_bytes"].GetUint64());
}

std::string random_key(std::size_t n) {
    static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::mt19937 rng(7);
    std::string s;
    for (std::size_t i = 0; i < n; ++i)
        s.push_back(kAlphabet[rng() % (sizeof kAlphabet - 1)]);
    return s;
}

}  // namespace

TEST_CASE("one chat of 50 MiB costs the backfill at most three times its size in memory, over the run without it") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db, {100, 5, "json", "public"});
    const long long base = backfill_peak(db, dir, "base");

    // One message whose content is the whole chat, kept in history only: its row is as large as
    // the chat itself.
    db.sql().exec(
        "INSERT INTO chat (id, user_id, chat) SELECT 'huge', 'u1', ('{\"history\":{\"messages\":{\"m1\":"
        "{\"role\":\"user\",\"timestamp\":1717000000,\"content\":\"' || repeat('x', $1::int) || '\"}}}}')::json",
        {std::to_string(kHugeContent)});
    const long long chat = number(db.sql(), "SELECT octet_length(chat::text) FROM chat WHERE id = 'huge'");
    const long long peak = backfill_peak(db, dir, "huge");

    CHECK_MESSAGE(
        number(db.sql(), "SELECT octet_length(content::text) FROM sluice_chat_message WHERE id = 'huge-m1'") ==
            kHugeContent + 2,
        "the huge message was not written whole");
    const double times = static_cast<double>(peak - base) / static_cast<double>(chat);
    MESSAGE("peak RSS " << (base >> 20) << " MiB without the huge chat, " << (peak >> 20) << " MiB with it: " << times
                        << " times the chat's " << (chat >> 20) << " MiB");
    CHECK_MESSAGE(peak - base <= 3 * chat, "one chat of " << (chat >> 20) << " MiB cost " << ((peak - base) >> 20)
                                                          << " MiB over the base, " << times << " times its size");
}

TEST_CASE("a row the server refuses, whose large content stayed in the chat's text, is rejected whole") {
    TestDatabase db;
    TempDir dir;
    create_chat_table(db, {});
    // A key too large for the primary key's index (54000 on COPY); a content sluice leaves in place.
    const std::string big_key = random_key(3500), content(300 << 10, 'y');
    const std::string ok = message(R"("user")", R"("fine")");
    insert_chat(db, "c1", chat_of({{"a", ok}, {big_key, message(R"("user")", "\"" + content + "\"")}, {"b", ok}}));
    Run run = migrate(db, dir.file("r.jsonl"), {"--phases", "schema,backfill"});
    REQUIRE_MESSAGE(run.status == 0, "the backfill failed:\n" << run.said());
    CHECK_MESSAGE(
        rows(db.sql(), "SELECT id FROM sluice_chat_message ORDER BY id") == (std::vector<std::string>{"c1-a", "c1-b"}),
        "the neighbours were not written");
    CHECK_MESSAGE(number(db.sql(), "SELECT length(row->>'content') FROM sluice_reject WHERE id = $1",
                         {"c1-" + big_key}) == static_cast<long long>(content.size()),
                  "the rejected row does not hold its content whole");
}

TEST_CASE("--resync over a chat whose large content stayed in its text replaces that chat's rows") {
    TestDatabase db;
    TempDir dir;
    create_chat_table(db, {});
    const std::string content(300 << 10, 'z');  // over the size the writer's batches leave in place
    auto chat = [&](const std::string& small) {
        return chat_of({{"big", message(R"("user")", "\"" + content + "\"")}, {"small", message(R"("user")", small)}});
    };
    insert_chat(db, "c1", chat(R"("before")"));
    REQUIRE(migrate(db, dir.file("r.jsonl"), {"--phases", "schema,backfill"}).status == 0);
    db.sql().exec("UPDATE chat SET chat = $1::json WHERE id = 'c1'", {chat(R"("after")")});

    // Replace mode reads each row's id and chat id back from the batch's rows.
    Run resync = migrate(db, dir.file("r.jsonl"), {"--phases", "backfill", "--resync"});
    REQUIRE_MESSAGE(resync.status == 0, "migrate --resync failed:\n" << resync.said());
    CHECK_MESSAGE(
        scalar(db.sql(), "SELECT content::text FROM sluice_chat_message WHERE id = 'c1-small'") == "\"after\"",
        "the changed message was not updated");
    CHECK_MESSAGE(number(db.sql(), "SELECT octet_length(content::text) FROM sluice_chat_message WHERE id = 'c1-big'") ==
                      static_cast<long long>(content.size() + 2),
                  "the large message is not whole");
}
