// The database tests' shared fixture: databases, the corpus, the sluice subprocess, its output
// and reject file, and the clean reference run (see db_fixture.h).
#include "tests/db/db_fixture.h"

#include <fcntl.h>
#include <rapidjson/document.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace sluice::testing {

using engine::qualified;
using engine::quote_ident;

namespace {

std::string keyword_value(const std::string& value) {
    std::string out = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    return out + "'";
}

std::string sh_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

std::string command_output(const std::string& command) {
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
    if (!pipe) throw std::runtime_error("cannot run " + command);
    std::string out;
    char buffer[1 << 16];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe.get())) > 0;)
        out.append(buffer, n);
    if (pclose(pipe.release()) != 0) throw std::runtime_error("failed: " + command);
    return out;
}

std::string generator(const std::string& args) {
    return command_output("python3 " + sh_quote(std::string(SLUICE_SOURCE_DIR) + "/scripts/gen_openwebui.py") + " " +
                          args + " 2>/dev/null");
}

// RapidJSON refuses lone UTF-16 surrogate escapes, which PostgreSQL's json (and so a reject's
// row) may hold: every surrogate escape becomes \ufffd, which keeps the line's structure.
std::string without_surrogate_escapes(const std::string& line) {
    std::string out;
    for (std::size_t i = 0; i < line.size(); ++i) {
        if (line[i] != '\\' || i + 1 == line.size()) {
            out.push_back(line[i]);
            continue;
        }
        bool surrogate = line[i + 1] == 'u' && i + 5 < line.size() && (line[i + 2] == 'd' || line[i + 2] == 'D') &&
                         std::strchr("89abcdefABCDEF", line[i + 3]) != nullptr;
        out += surrogate ? "\\ufffd" : line.substr(i, 2);
        i += surrogate ? 5 : 1;
    }
    return out;
}

}  // namespace

// ---------------------------------------------------------------- the server and its databases

const std::string& server_conninfo() {
    static const std::string conninfo = [] {
        const char* v = std::getenv("SLUICE_TEST_DB");
        if (!v || !*v) {
            throw std::runtime_error(
                "SLUICE_TEST_DB is not set: start a server (source scripts/lib/pg.sh; "
                "pg_start DIR) and export its URL; database tests never skip");
        }
        return std::string(v);
    }();
    return conninfo;
}

std::string with_dbname(const std::string& conninfo, const std::string& dbname) {
    char* error = nullptr;
    std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> options(PQconninfoParse(conninfo.c_str(), &error),
                                                                           PQconninfoFree);
    if (!options) {
        std::string why = error ? error : "unreadable";
        PQfreemem(error);
        throw std::runtime_error("SLUICE_TEST_DB is not a connection string: " + why);
    }
    std::string out;
    for (PQconninfoOption* o = options.get(); o->keyword; ++o) {
        if (o->val && *o->val && std::string(o->keyword) != "dbname")
            out += std::string(o->keyword) + "=" + keyword_value(o->val) + " ";
    }
    return out + "dbname=" + keyword_value(dbname);
}

TestDatabase::TestDatabase() {
    static std::atomic<int> n{0};
    name_ = "sluice_test_" + std::to_string(getpid()) + "_" + std::to_string(n++);
    Connection admin(server_conninfo(), "test admin");  // throws, and fails the case, when unreachable
    admin.exec("CREATE DATABASE " + quote_ident(name_));
    try {
        conninfo_ = with_dbname(server_conninfo(), name_);
        sql_ = std::make_unique<Connection>(conninfo_, "test");
    } catch (...) {
        drop();  // no destructor runs for a constructor that throws
        throw;
    }
}

TestDatabase::~TestDatabase() {
    drop();
}

void TestDatabase::drop() noexcept {
    sql_.reset();
    try {
        Connection admin(server_conninfo(), "test admin");
        admin.exec("DROP DATABASE IF EXISTS " + quote_ident(name_) + " WITH (FORCE)");
    } catch (...) {  // never throws; a leftover database is named sluice_test_*
    }
}

std::string scalar(Connection& c, const std::string& sql, const Params& params) {
    sluice::engine::Result r = c.exec(sql, params);
    return PQntuples(r.get()) > 0 && !PQgetisnull(r.get(), 0, 0) ? PQgetvalue(r.get(), 0, 0) : "";
}

long long number(Connection& c, const std::string& sql, const Params& params) {
    std::string v = scalar(c, sql, params);
    return v.empty() ? 0 : std::stoll(v);
}

std::vector<std::string> rows(Connection& c, const std::string& sql, const Params& params) {
    sluice::engine::Result r = c.exec(sql, params);
    std::vector<std::string> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        std::string line;
        for (int j = 0; j < PQnfields(r.get()); ++j)
            line += (j ? " " : "") + std::string(PQgetvalue(r.get(), i, j));
        out.push_back(line);
    }
    return out;
}

void copy_in(Connection& c, const std::string& copy_sql, const std::string& data) {
    sluice::engine::Result start(PQexec(c.raw(), copy_sql.c_str()));
    if (PQresultStatus(start.get()) != PGRES_COPY_IN) throw c.error("test COPY IN", start.get());
    if (PQputCopyData(c.raw(), data.data(), static_cast<int>(data.size())) != 1 || PQputCopyEnd(c.raw(), nullptr) != 1)
        throw c.error("test COPY IN data");
    sluice::engine::Result done(PQgetResult(c.raw()));
    while (sluice::engine::Result extra{PQgetResult(c.raw())}) {
    }
    if (PQresultStatus(done.get()) != PGRES_COMMAND_OK) throw c.error("test COPY IN end", done.get());
}

std::string copy_out(Connection& c, const std::string& copy_sql) {
    sluice::engine::Result start(PQexec(c.raw(), copy_sql.c_str()));
    if (PQresultStatus(start.get()) != PGRES_COPY_OUT) throw c.error("test COPY OUT", start.get());
    std::string out;
    char* buffer = nullptr;
    int n;
    while ((n = PQgetCopyData(c.raw(), &buffer, 0)) > 0) {
        out.append(buffer, static_cast<std::size_t>(n));
        PQfreemem(buffer);
    }
    sluice::engine::Result done(PQgetResult(c.raw()));
    while (sluice::engine::Result extra{PQgetResult(c.raw())}) {
    }
    if (PQresultStatus(done.get()) != PGRES_COMMAND_OK) throw c.error("test COPY OUT end", done.get());
    return out;
}

std::string target_of(Connection& c, const std::string& schema) {
    const std::string published = qualified(schema, "chat_message");
    return scalar(c, "SELECT to_regclass($1) IS NOT NULL", {published}) == "t"
               ? published
               : qualified(schema, "sluice_chat_message");
}

std::string table_fingerprint(Connection& c, const std::string& schema) {
    return scalar(c,
                  "SELECT count(*) || ' rows, md5 ' || coalesce(md5(string_agg(concat_ws('|', quote_nullable(id),"
                  " quote_nullable(chat_id), quote_nullable(user_id), quote_nullable(role), quote_nullable(parent_id),"
                  " quote_nullable(content::text), quote_nullable(output::text), quote_nullable(model_id),"
                  " quote_nullable(files::text), quote_nullable(sources::text), quote_nullable(embeds::text),"
                  " quote_nullable(done), quote_nullable(status_history::text), quote_nullable(error::text),"
                  " quote_nullable(usage::text)), E'\\n' ORDER BY id)), '') FROM " +
                      target_of(c, schema));
}

HbaLine::HbaLine(const std::string& line) {
    const char* data = std::getenv("PG_DATA_DIR");
    if (!data) throw std::runtime_error("PG_DATA_DIR must name the test server's data directory (scripts/lib/pg.sh)");
    path_ = std::string(data) + "/pg_hba.conf";
    original_ = slurp(path_);
    std::ofstream(path_) << line << "\n" << original_;
    reload();
}

HbaLine::~HbaLine() {
    std::ofstream(path_) << original_;
    reload();
}

void HbaLine::reload() {
    Connection c(server_conninfo(), "test");
    c.exec("SELECT pg_reload_conf()");
}

// ---------------------------------------------------------------- the corpus

void create_chat_table(TestDatabase& db, const Corpus& c) {
    db.sql().exec(generator("--ddl --schema " + sh_quote(c.schema) + " --chat-type " + c.chat_type));
}

const std::string& corpus_rows(const Corpus& c) {
    static std::map<std::string, std::string> cache;
    std::string args =
        "--chats " + std::to_string(c.chats) + " --seed " + std::to_string(c.seed) + " --chat-type " + c.chat_type;
    auto it = cache.find(args);
    if (it == cache.end()) it = cache.emplace(args, generator(args)).first;
    return it->second;
}

void load_corpus(TestDatabase& db, const Corpus& c) {
    create_chat_table(db, c);
    copy_in(db.sql(), "COPY " + qualified(c.schema, "chat") + " FROM STDIN", corpus_rows(c));
}

void insert_chat(TestDatabase& db, const std::string& id, const std::string& chat_json, const std::string& user) {
    db.sql().exec("INSERT INTO chat (id, user_id, chat) VALUES ($1, $2, $3)", {id, user, chat_json});
}

std::string chat_of(const std::vector<std::pair<std::string, std::string>>& messages) {
    std::string out = R"({"title":"t","history":{"messages":{)";
    for (std::size_t i = 0; i < messages.size(); ++i) {
        out += (i ? "," : "") + ("\"" + messages[i].first + "\":") + messages[i].second;
    }
    return out + "}}}";
}

std::string message(const std::string& role_json, const std::string& content_json) {
    return R"({"role":)" + role_json + R"(,"content":)" + content_json + R"(,"timestamp":1717000000})";
}

// ---------------------------------------------------------------- the shape upstream creates

const std::vector<std::string> kColumns = {
    "id text NOT NULL",  "chat_id text NOT NULL", "user_id text",        "role text NOT NULL", "parent_id text",
    "content json",      "output json",           "model_id text",       "files json",         "sources json",
    "embeds json",       "done boolean",          "status_history json", "error json",         "usage json",
    "created_at bigint", "updated_at bigint",
};

void create_upstream_chat_message(Connection& c, const std::string& schema, bool indexes) {
    const std::string t = qualified(schema, "chat_message");
    // As SQLAlchemy emits it for upstream's op.create_table: an unnamed primary key and foreign key.
    c.exec("CREATE TABLE " + t +
           " (id TEXT NOT NULL, chat_id TEXT NOT NULL, user_id TEXT, role TEXT NOT NULL,"
           " parent_id TEXT, content JSON, output JSON, model_id TEXT, files JSON, sources JSON, embeds JSON,"
           " done BOOLEAN, status_history JSON, error JSON, usage JSON, created_at BIGINT, updated_at BIGINT,"
           " PRIMARY KEY (id), FOREIGN KEY(chat_id) REFERENCES " +
           qualified(schema, "chat") + " (id) ON DELETE CASCADE)");
    if (!indexes) return;
    for (const char* ix :
         {"ix_chat_message_chat_id (chat_id)", "ix_chat_message_created_at (created_at)",
          "ix_chat_message_model_id (model_id)", "ix_chat_message_user_id (user_id)",
          "chat_message_chat_parent_idx (chat_id, parent_id)", "chat_message_model_created_idx (model_id, created_at)",
          "chat_message_user_created_idx (user_id, created_at)"}) {
        std::string spec = ix;
        std::size_t paren = spec.find(' ');
        c.exec("CREATE INDEX " + spec.substr(0, paren) + " ON " + t + spec.substr(paren));
    }
}

std::vector<std::string> columns_of(Connection& c, const std::string& schema) {
    return rows(c,
                "SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) ||"
                " CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END FROM pg_attribute a"
                " WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                {target_of(c, schema)});
}

std::vector<std::string> indexes_of(Connection& c, const std::string& schema) {
    return rows(c,
                "SELECT i.relname || ' (' || string_agg(a.attname, ', ' ORDER BY k.ord) || ')'"
                " || CASE WHEN x.indisunique THEN ' unique' ELSE '' END"
                " || CASE WHEN x.indisvalid THEN '' ELSE ' invalid' END"
                " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
                " CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)"
                " JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum"
                " WHERE x.indrelid = to_regclass($1) GROUP BY i.relname, x.indisunique, x.indisvalid ORDER BY 1",
                {target_of(c, schema)});
}

const std::vector<std::string> kPrimaryKeyOnly = {"chat_message_pkey (id) unique"};
const std::vector<std::string> kAllIndexes = {
    "chat_message_chat_parent_idx (chat_id, parent_id)",
    "chat_message_model_created_idx (model_id, created_at)",
    "chat_message_pkey (id) unique",
    "chat_message_user_created_idx (user_id, created_at)",
    "ix_chat_message_chat_id (chat_id)",
    "ix_chat_message_created_at (created_at)",
    "ix_chat_message_model_id (model_id)",
    "ix_chat_message_user_id (user_id)",
};

std::string foreign_key_of(Connection& c, const std::string& schema) {
    return scalar(
        c,
        "SELECT (SELECT string_agg(attname, ',') FROM pg_attribute WHERE attrelid = k.conrelid"
        " AND attnum = ANY(k.conkey)) || ' -> ' || CASE WHEN k.confrelid = to_regclass($2) THEN 'chat'"
        " ELSE k.confrelid::regclass::text END || '(' || (SELECT string_agg(attname, ',')"
        " FROM pg_attribute WHERE attrelid = k.confrelid AND attnum = ANY(k.confkey)) || ')'"
        " || CASE k.confdeltype WHEN 'c' THEN ' on delete cascade' ELSE ' on delete ' || k.confdeltype::text END"
        " || CASE WHEN k.convalidated THEN ', validated' ELSE ', not validated' END"
        " FROM pg_constraint k WHERE k.conrelid = to_regclass($1) AND k.contype = 'f'"
        " AND k.conname = 'chat_message_chat_id_fkey'",
        {target_of(c, schema), qualified(schema, "chat")});
}

// ---------------------------------------------------------------- running sluice

TempDir::TempDir() {
    char pattern[] = "/tmp/sluice-db-test-XXXXXX";
    if (!mkdtemp(pattern)) throw std::runtime_error("cannot make a temporary directory");
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::string Run::said() const {
    return "exit " + std::to_string(status) + "\n--- stdout\n" + out + "--- stderr\n" + err;
}

std::vector<std::string> Run::error_lines() const {
    std::vector<std::string> lines;
    std::istringstream in(err);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) lines.push_back(line);
    return lines;
}

Run run_sluice(const std::vector<std::string>& args, const std::vector<std::string>& env) {
    TempDir dir;
    std::string out_path = dir.file("stdout"), err_path = dir.file("stderr");
    std::vector<std::string> argv_s{SLUICE_BINARY};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<std::string> env_s;
    for (char** e = environ; *e; ++e) {
        std::string v = *e;
        // COLUMNS too: an exported terminal width would wrap the lines the tests read.
        bool ours = v.rfind("DATABASE_", 0) == 0 || (v.rfind("SLUICE_", 0) == 0 && v.rfind("SLUICE_TEST_", 0) != 0) ||
                    v.rfind("COLUMNS=", 0) == 0;
        if (!ours) env_s.push_back(v);
    }
    env_s.insert(env_s.end(), env.begin(), env.end());
    std::vector<char*> argv, envp;
    for (auto& s : argv_s)
        argv.push_back(s.data());
    for (auto& s : env_s)
        envp.push_back(s.data());
    argv.push_back(nullptr);
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0)
        throw std::runtime_error(std::string("cannot start ") + SLUICE_BINARY + ": " + std::strerror(spawned));
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    Run run;
    run.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    run.out = slurp(out_path);
    run.err = slurp(err_path);
    return run;
}

Run migrate(const TestDatabase& db, const std::string& reject_file, const std::vector<std::string>& more,
            const std::vector<std::string>& env) {
    std::vector<std::string> args{"migrate", "--db", db.conninfo(), "--progress", "none", "--reject-file", reject_file};
    args.insert(args.end(), more.begin(), more.end());
    return run_sluice(args, env);
}

// verify reads the rejects table, not the export: --reject-file is not one of its options.
Run verify(const TestDatabase& db, const std::string& /*reject_file*/, const std::vector<std::string>& more) {
    std::vector<std::string> args{"verify", "--db", db.conninfo(), "--progress", "none"};
    args.insert(args.end(), more.begin(), more.end());
    return run_sluice(args);
}

Summary summary_of(const Run& run) {
    static const std::regex line(
        R"((\d+) chats? read, (\d+) messages? written, (\d+) already present, (\d+) rejected)");
    std::smatch m;
    Summary s;
    if (!std::regex_search(run.out, m, line)) return s;
    s.found = true;
    s.chats = std::stoll(m[1]);
    s.written = std::stoll(m[2]);
    s.present = std::stoll(m[3]);
    s.rejected = std::stoll(m[4]);
    return s;
}

bool says(const Run& run, const std::string& text) {
    return run.out.find(text) != std::string::npos;
}

std::vector<RejectLine> read_rejects(const std::string& path) {
    std::vector<RejectLine> out;
    std::istringstream in(slurp(path));
    for (std::string raw; std::getline(in, raw);) {
        std::string line = without_surrogate_escapes(raw);
        RejectLine& r = out.emplace_back();
        // The row comes last and holds source JSON as written, numbers past a double (1e400)
        // included, which RapidJSON refuses: parse the line without it, check it is an object.
        const std::size_t at = line.find(",\"row\":{");  // the first: quotes inside strings are escaped
        if (at == std::string::npos || line.size() < at + 9 || line.compare(line.size() - 2, 2, "}}") != 0) continue;
        const std::string head = line.substr(0, at) + "}";
        rapidjson::Document d;
        d.Parse<rapidjson::kParseIterativeFlag>(head.c_str(), head.size());
        if (d.HasParseError() || !d.IsObject()) continue;
        auto text = [&](const char* name, std::string& to) {
            if (!d.HasMember(name) || !d[name].IsString()) return false;
            to.assign(d[name].GetString(), d[name].GetStringLength());
            return true;
        };
        r.well_formed = text("id", r.id) && text("chat_id", r.chat_id) && text("sqlstate", r.sqlstate) &&
                        text("message", r.message);
        if (r.well_formed) r.row = line.substr(at + 1);
    }
    return out;
}

std::vector<std::string> reject_ids(const std::vector<RejectLine>& rejects) {
    std::vector<std::string> ids;
    for (const auto& r : rejects)
        ids.push_back(r.id);
    return ids;
}

std::string joined(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v)
        out += s + "\n";
    return out;
}

const Reference& clean_run() {
    static const Reference ref = [] {
        TestDatabase db;
        TempDir dir;
        load_corpus(db);
        Run run = migrate(db, dir.file("rejects.jsonl"), {"--phases", "schema,backfill"});
        if (run.status != 0) throw std::runtime_error("the clean reference run failed: " + run.said());
        return Reference{table_fingerprint(db.sql(), "public"), run.out, summary_of(run),
                         reject_ids(read_rejects(dir.file("rejects.jsonl")))};
    }();
    return ref;
}

std::string skipped_block(const std::string& out) {
    auto from = out.find("skipped by rule:"), to = out.find("this run:");
    return from == std::string::npos || to == std::string::npos ? "" : out.substr(from, to - from);
}

}  // namespace sluice::testing
