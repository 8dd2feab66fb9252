// What the database tests share: a database of their own per test case on the server that
// SLUICE_TEST_DB names (scripts/lib/pg.sh starts one), Open WebUI's `chat` table loaded from the
// generator, the built sluice binary run as a subprocess, its summary and reject file read back,
// and a clean reference run. Without a server every helper that needs one throws: database
// tests fail, they never skip.
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/pg.h"

namespace sluice::testing {

using engine::Connection;
using Params = std::vector<std::optional<std::string>>;

// ---------------------------------------------------------------- the server and its databases

// SLUICE_TEST_DB; throws, saying how to start a server, when it is not set.
const std::string& server_conninfo();

// The server's connection string with another database name, as a keyword string.
std::string with_dbname(const std::string& conninfo, const std::string& dbname);

// A database of its own for one test case, dropped when the case ends, pass or fail.
class TestDatabase {
public:
    TestDatabase();
    ~TestDatabase();
    TestDatabase(const TestDatabase&) = delete;
    TestDatabase& operator=(const TestDatabase&) = delete;

    const std::string& conninfo() const { return conninfo_; }
    Connection& sql() { return *sql_; }

private:
    void drop() noexcept;
    std::string name_, conninfo_;
    std::unique_ptr<Connection> sql_;
};

// The first column of the first row, "" for no row or SQL NULL.
std::string scalar(Connection& c, const std::string& sql, const Params& params = {});
long long number(Connection& c, const std::string& sql, const Params& params = {});
// Every row, its columns joined by " ".
std::vector<std::string> rows(Connection& c, const std::string& sql, const Params& params = {});

void copy_in(Connection& c, const std::string& copy_sql, const std::string& data);
std::string copy_out(Connection& c, const std::string& copy_sql);

// chat_message, or before publish sluice's build table (sluice_chat_message), schema-qualified.
std::string target_of(Connection& c, const std::string& schema);

// Everything the backfill decides, timestamps aside: a run's `now` differs from another's.
std::string table_fingerprint(Connection& c, const std::string& schema);

// A pg_hba.conf line put first for the duration of a test case, then taken out again (the
// server's data directory is PG_DATA_DIR, as scripts/lib/pg.sh exports it).
class HbaLine {
public:
    explicit HbaLine(const std::string& line);
    ~HbaLine();
    HbaLine(const HbaLine&) = delete;
    HbaLine& operator=(const HbaLine&) = delete;

private:
    static void reload();
    std::string path_, original_;
};

// ---------------------------------------------------------------- the corpus

struct Corpus {
    int chats = 300;
    int seed = 5;
    std::string chat_type = "json";
    std::string schema = "public";
};

// Open WebUI's `chat` table (and alembic_version), empty.
void create_chat_table(TestDatabase& db, const Corpus& c);
// The generator's COPY text, made once per process for each corpus.
const std::string& corpus_rows(const Corpus& c);
void load_corpus(TestDatabase& db, const Corpus& c = {});

void insert_chat(TestDatabase& db, const std::string& id, const std::string& chat_json, const std::string& user = "u1");
// {"history":{"messages":{<key>:<message>,...}}}
std::string chat_of(const std::vector<std::pair<std::string, std::string>>& messages);
// A message object with the given role and content (JSON texts) and a valid timestamp.
std::string message(const std::string& role_json, const std::string& content_json);

// ---------------------------------------------------------------- the shape upstream creates

// chat_message's columns as "name type [NOT NULL]", in upstream's order.
extern const std::vector<std::string> kColumns;
// (columns_of, indexes_of and foreign_key_of look at target_of(): the build table until publish.)
// Index lists as indexes_of() gives them: after the schema phase, and once all are built.
extern const std::vector<std::string> kPrimaryKeyOnly;
extern const std::vector<std::string> kAllIndexes;
inline constexpr const char* kExpectedForeignKey = "chat_id -> chat(id) on delete cascade, validated";

// chat_message as upstream's migration creates it (SQLAlchemy's DDL: the table with its primary
// key and foreign key, then the seven indexes), empty; `indexes` false leaves the indexes out.
void create_upstream_chat_message(Connection& c, const std::string& schema, bool indexes = true);

std::vector<std::string> columns_of(Connection& c, const std::string& schema);
// "name (col, col) [unique] [invalid]" for every index on chat_message, by name.
std::vector<std::string> indexes_of(Connection& c, const std::string& schema);
// "column -> table(column) on delete X, validated|not validated", or "" when there is no such FK.
std::string foreign_key_of(Connection& c, const std::string& schema);

// ---------------------------------------------------------------- running sluice

class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

std::string slurp(const std::string& path);

struct Run {
    int status = -1;
    std::string out, err;
    std::string said() const;
    // Lines of stderr that say something (main starts its one line with a newline, to end a progress bar).
    std::vector<std::string> error_lines() const;
};

// Runs build/sluice with `args`, in an environment without any DATABASE_* or SLUICE_* setting
// of the caller's (SLUICE_TEST_* aside) nor COLUMNS, plus `env`.
Run run_sluice(const std::vector<std::string>& args, const std::vector<std::string>& env = {});

// The options `a`, then those of `b`.
inline std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// `sluice migrate` (or `verify`) on `db`, without progress output, with the given reject file.
Run migrate(const TestDatabase& db, const std::string& reject_file, const std::vector<std::string>& more = {},
            const std::vector<std::string>& env = {});
Run verify(const TestDatabase& db, const std::string& reject_file, const std::vector<std::string>& more = {});

// The backfill line of the summary: "C chats read, N messages written, P already present, R rejected".
struct Summary {
    bool found = false;
    long long chats = 0, written = 0, present = 0, rejected = 0;
};

Summary summary_of(const Run& run);
bool says(const Run& run, const std::string& text);

struct RejectLine {
    std::string id, chat_id, sqlstate, message, row;
    bool well_formed = false;
};

// The reject file: one JSON object a line with id, chat_id, sqlstate, message and the row.
std::vector<RejectLine> read_rejects(const std::string& path);

template <typename Pred>
bool all_of(const std::vector<RejectLine>& rejects, Pred pred) {
    return std::all_of(rejects.begin(), rejects.end(), pred);
}

std::vector<std::string> reject_ids(const std::vector<RejectLine>& rejects);

std::string joined(const std::vector<std::string>& v);

// What a clean run over the default corpus gives; made once, in a database of its own.
struct Reference {
    std::string fingerprint, out;
    Summary summary;
    std::vector<std::string> rejects;
};

const Reference& clean_run();

// The block of the summary that counts skipped chats and messages by rule.
std::string skipped_block(const std::string& out);

// Waits until `ready` holds (true) or 30 s pass (false), looking every 5 ms.
template <typename Ready>
bool wait_until(Ready ready) {
    for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
         std::chrono::steady_clock::now() < until;) {
        if (ready()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

// The chats the reader selects, as a WHERE condition on `chat`.
inline constexpr const char* kSelected = "NOT (user_id LIKE 'shared-%')";

}  // namespace sluice::testing
