// Sources that are not UTF-8, end to end (see db_fixture.h): a SQL_ASCII database stores any
// bytes in json and jsonb. `sluice migrate` reads them as they are, rejects each message that a
// byte that is not UTF-8 reaches (SQLSTATE 22021, found by the transform), keeps every other
// row, and `sluice verify` agrees.
#include <doctest/doctest.h>

#include <unistd.h>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "tests/db/db_fixture.h"

using namespace sluice::testing;

namespace {

// A SQL_ASCII database of its own, dropped when the case ends (TestDatabase makes UTF-8 ones).
// Its connection speaks SQL_ASCII too, so that bytes that are not UTF-8 go in and come out.
class SqlAsciiDatabase {
public:
    SqlAsciiDatabase() {
        static std::atomic<int> n{0};
        name_ = "sluice_test_" + std::to_string(getpid()) + "_ascii" + std::to_string(n++);
        Connection admin(server_conninfo(), "test admin");
        admin.exec("CREATE DATABASE " + sluice::engine::quote_ident(name_) +
                   " WITH ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
        try {
            conninfo_ = with_dbname(server_conninfo(), name_);
            sql_ = std::make_unique<Connection>(conninfo_, "test");
            sql_->exec("SET client_encoding = 'SQL_ASCII'");
        } catch (...) {
            drop();
            throw;
        }
    }
    ~SqlAsciiDatabase() { drop(); }
    SqlAsciiDatabase(const SqlAsciiDatabase&) = delete;
    SqlAsciiDatabase& operator=(const SqlAsciiDatabase&) = delete;

    const std::string& conninfo() const { return conninfo_; }
    Connection& sql() { return *sql_; }

private:
    void drop() noexcept {
        sql_.reset();
        try {
            Connection admin(server_conninfo(), "test admin");
            admin.exec("DROP DATABASE IF EXISTS " + sluice::engine::quote_ident(name_) + " WITH (FORCE)");
        } catch (...) {  // never throws; a leftover database is named sluice_test_*
        }
    }
    std::string name_, conninfo_;
    std::unique_ptr<Connection> sql_;
};

// Open WebUI's chat table, as scripts/gen_openwebui.py --ddl creates it.
void create_chat_table(SqlAsciiDatabase& db, const std::string& chat_type) {
    db.sql().exec("CREATE TABLE chat (id text NOT NULL PRIMARY KEY, user_id text, title text, chat " + chat_type +
                  ", created_at bigint, updated_at bigint, share_id text UNIQUE, archived boolean, pinned boolean,"
                  " meta json DEFAULT '{}', folder_id text)");
}

std::string good() {
    return message("\"user\"", "\"ok\"");
}

// Chats whose bytes are not all UTF-8, and what they must give.
struct BadChat {
    std::string id, chat;
};

const std::vector<BadChat>& bad_chats() {
    static const std::vector<BadChat> chats = {
        {"enc-content", chat_of({{"m1", good()}, {"m2", message("\"user\"", "\"bad \xFF here\"")}, {"m3", good()}})},
        {"enc-role", chat_of({{"m1", good()},
                              {"m2", message("\"us\xFF"
                                             "er\"",
                                             "\"ok\"")},
                              {"m3", good()}})},
        {"enc-key", chat_of({{"m1", good()},
                             {"m\xFF"
                              "2",
                              good()},
                             {"m3", good()}})},
        {"enc-nested", chat_of({{"m1", good()},
                                {"m2", R"({"role":"user","files":[{"name":"euro )"
                                       "\xE2\x82"
                                       R"("}]})"},
                                {"m3", good()}})},
        // Bytes no column takes: the chat's title, a member the transform does not read.
        {"enc-elsewhere",
         "{\"title\":\"\xFF\",\"history\":{\"messages\":{\"m1\":{\"role\":\"user\",\"x\":\"\xFF\"}}}}"},
        {"enc-utf8", chat_of({{"m1", message("\"user\"", "\"caf\xC3\xA9 \xE2\x82\xAC\"")}})},
    };
    return chats;
}

const std::vector<std::string> kKeptRows = {"enc-content-m1", "enc-content-m3", "enc-elsewhere-m1", "enc-key-m1",
                                            "enc-key-m3",     "enc-nested-m1",  "enc-nested-m3",    "enc-role-m1",
                                            "enc-role-m3",    "enc-utf8-m1"};
// As the rejects table holds them: a key's stray byte as the escape \u00ff.
const std::vector<std::string> kRejected = {"enc-content-m2 22021 transform", "enc-key-m\\u00ff2 22021 transform",
                                            "enc-nested-m2 22021 transform", "enc-role-m2 22021 transform"};

void insert_bad_chats(SqlAsciiDatabase& db) {
    for (const BadChat& c : bad_chats())
        db.sql().exec("INSERT INTO chat (id, user_id, chat) VALUES ($1, 'u1', $2)", {c.id, c.chat});
}

Run run(const std::string& command, const SqlAsciiDatabase& db, const TempDir& dir) {
    std::vector<std::string> args{command, "--db", db.conninfo(), "--progress", "none"};
    if (command == "migrate") args.insert(args.end(), {"--reject-file", dir.file("rejects.jsonl")});
    return run_sluice(args);
}

// The rows, rejects and verify of a run over the bad chats, whatever else the database holds.
void check_bad_chats_migrated(SqlAsciiDatabase& db, const TempDir& dir) {
    CHECK_MESSAGE(rows(db.sql(), "SELECT id FROM chat_message WHERE chat_id LIKE 'enc-%' ORDER BY id") == kKeptRows,
                  "the neighbours of the bad messages are not all stored");
    CHECK_MESSAGE(scalar(db.sql(), "SELECT content::text FROM chat_message WHERE id = 'enc-utf8-m1'") ==
                      "\"caf\xC3\xA9 \xE2\x82\xAC\"",
                  "valid UTF-8 beyond ASCII did not come through unchanged");
    CHECK_MESSAGE(rows(db.sql(),
                       "SELECT id, sqlstate, found_by FROM sluice_reject WHERE chat_id LIKE 'enc-%'"
                       " ORDER BY id") == kRejected,
                  "the rejects table does not hold exactly the messages with bytes that are not UTF-8");
    std::string row = scalar(db.sql(), "SELECT row::text FROM sluice_reject WHERE id = 'enc-content-m2'");
    CHECK_MESSAGE(row.find(R"("content":"bad \u00ff here")") != std::string::npos,
                  "the reject's row does not show the stray byte as \\u00ff: " << row);
    std::vector<RejectLine> file = read_rejects(dir.file("rejects.jsonl"));
    CHECK_MESSAGE(all_of(file, [](const RejectLine& r) { return r.well_formed; }), "the reject file has a bad line");

    Run verified = run("verify", db, dir);
    CHECK_MESSAGE(verified.status == 0, verified.said());
    CHECK_MESSAGE(says(verified, "chat_message agrees with chat"), "verify does not agree: " << verified.out);
}

}  // namespace

TEST_CASE("a SQL_ASCII database with bytes that are not UTF-8 migrates: those messages rejected, all else kept") {
    SqlAsciiDatabase db;
    TempDir dir;
    create_chat_table(db, "json");
    // The generator's corpus (valid UTF-8) beside the bad chats: its rows must equal a UTF-8 run's.
    copy_in(db.sql(), "COPY chat FROM STDIN", corpus_rows(Corpus{}));
    insert_bad_chats(db);

    Run migrated = run("migrate", db, dir);
    REQUIRE_MESSAGE(migrated.status == 0, "migrate stopped: " << migrated.said());
    Summary s = summary_of(migrated);
    REQUIRE_MESSAGE(s.found, "no summary: " << migrated.out);
    const Reference& clean = clean_run();
    CHECK_MESSAGE(s.written == clean.summary.written + static_cast<long long>(kKeptRows.size()), migrated.out);
    CHECK_MESSAGE(s.rejected == clean.summary.rejected + static_cast<long long>(kRejected.size()), migrated.out);
    check_bad_chats_migrated(db, dir);

    db.sql().exec("DELETE FROM chat_message WHERE chat_id LIKE 'enc-%'");
    CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == clean.fingerprint,
                  "the corpus's rows from a SQL_ASCII database differ from those of a UTF-8 one");
}

TEST_CASE("a SQL_ASCII database whose chat column is jsonb migrates the same way") {
    SqlAsciiDatabase db;
    TempDir dir;
    create_chat_table(db, "jsonb");
    insert_bad_chats(db);

    Run migrated = run("migrate", db, dir);
    REQUIRE_MESSAGE(migrated.status == 0, "migrate stopped: " << migrated.said());
    Summary s = summary_of(migrated);
    CHECK_MESSAGE(s.written == static_cast<long long>(kKeptRows.size()), migrated.out);
    CHECK_MESSAGE(s.rejected == static_cast<long long>(kRejected.size()), migrated.out);
    check_bad_chats_migrated(db, dir);
}
