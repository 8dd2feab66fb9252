// Configuration against a real PostgreSQL: bad settings refused before anything is written (exit
// 2, one line, no hint about a server that is fine), libpq's own environment (PGHOST, PGPASSWORD...)
// standing in for --db as in psql, and the server's NOTICEs and WARNINGs kept off the terminal raw.
#include <doctest/doctest.h>

#include <libpq-fe.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>

#include "db_fixture.h"

using namespace sluice::testing;

namespace {

// One option of a connection string, as libpq reads it ("" when unset).
std::string option_of(const std::string& conninfo, const std::string& keyword) {
    std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> options(PQconninfoParse(conninfo.c_str(), nullptr),
                                                                           PQconninfoFree);
    REQUIRE_MESSAGE(options, "not a connection string: " << conninfo);
    for (const PQconninfoOption* o = options.get(); o->keyword; ++o)
        if (keyword == o->keyword && o->val) return o->val;
    return "";
}

// Variables of this process set (or, for nullopt, unset) for one test case, put back after. run_sluice
// copies this process's environment first, so its own `env` argument cannot override a PGHOST
// that scripts/lib/pg.sh exported: the child would see the first of the two.
using Variables = std::vector<std::pair<std::string, std::optional<std::string>>>;

class ScopedEnvironment {
public:
    explicit ScopedEnvironment(const Variables& vars) {
        for (const auto& [name, value] : vars) {
            const char* old = std::getenv(name.c_str());
            saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
            set(name, value);
        }
    }
    ~ScopedEnvironment() {
        for (const auto& [name, value] : saved_)
            set(name, value);
    }
    ScopedEnvironment(const ScopedEnvironment&) = delete;
    ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

private:
    static void set(const std::string& name, const std::optional<std::string>& value) {
        if (value)
            setenv(name.c_str(), value->c_str(), 1);
        else
            unsetenv(name.c_str());
    }
    Variables saved_;
};

// The relations of schema public: what a refused run must leave as it found.
std::vector<std::string> relations(TestDatabase& db) {
    return rows(db.sql(), "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1");
}

bool mentions(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// `sluice migrate` on a connection string of the test's choosing (migrate() passes the database's own).
Run migrate_on(const std::string& conninfo, const std::string& reject_file) {
    return run_sluice({"migrate", "--db", conninfo, "--progress", "none", "--reject-file", reject_file});
}

// The chats the reader selects: what a complete backfill reports as read.
long long selected_chats(TestDatabase& db) {
    return number(db.sql(), std::string("SELECT count(*) FROM chat WHERE ") + kSelected);
}

// A refusal as bad configuration: exit 2, exactly one line on stderr, no hint about the server.
void check_refused_as_configuration(const Run& run, const std::string& about) {
    CHECK_MESSAGE(run.status == 2, run.said());
    REQUIRE_MESSAGE(run.error_lines().size() == 1, run.said());
    CHECK_MESSAGE(mentions(run.error_lines()[0], about), "the line does not name " << about << ": " << run.said());
    CHECK_MESSAGE(!mentions(run.err, "server running"), "a hint about the server, which is fine: " << run.said());
}

}  // namespace

TEST_CASE("a connection setting libpq refuses is bad configuration: exit 2, one line, nothing written") {
    TestDatabase db;
    load_corpus(db);
    const std::vector<std::string> before = relations(db);
    TempDir tmp;
    for (const auto& [setting, about] : std::vector<std::pair<std::string, std::string>>{
             {" sslmode=bogus", "sslmode"}, {" port=54x3", "54x3"}, {" connect_timeout=soon", "connect_timeout"}}) {
        CAPTURE(setting);
        check_refused_as_configuration(migrate_on(db.conninfo() + setting, tmp.file("r.jsonl")), about);
    }
    // From libpq's environment, too.
    {
        ScopedEnvironment env(Variables{{"PGSSLMODE", "bogus"}});
        check_refused_as_configuration(migrate(db, tmp.file("r.jsonl")), "sslmode");
    }
    CHECK_MESSAGE(relations(db) == before, "a refused run created something: " << joined(relations(db)));
}

TEST_CASE("bad options are refused with exit 2 and one line before anything is written") {
    TestDatabase db;
    load_corpus(db);
    const std::vector<std::string> before = relations(db);
    TempDir tmp;
    const std::string folder = tmp.file("");
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
        {{"--config", folder}, "is a directory"},
        {{"--parse-threads", "2147483647"}, "--parse-threads"},
        {{"--fetch-rows", "2147483648"}, "--fetch-rows"},
        {{"--max-inflight-batches", "4294967296"}, "--max-inflight-batches"},
        {{"--reject-file", tmp.file("no-such-dir/r.jsonl")}, "--reject-file"},
        {{"--reject-file", folder}, "--reject-file"},
    };
    for (const auto& [args, about] : cases) {
        CAPTURE(args[0]);
        check_refused_as_configuration(migrate(db, tmp.file("r.jsonl"), args), about);
    }
    check_refused_as_configuration(
        run_sluice({"cleanup", "--db", db.conninfo(), "--reject-file", tmp.file("no-such-dir/r.jsonl")}),
        "--reject-file");
    check_refused_as_configuration(
        run_sluice({"rejects", "--db", db.conninfo(), "--output", tmp.file("no-such-dir/r.jsonl")}), "--output");
    CHECK_MESSAGE(relations(db) == before, "a refused run created something: " << joined(relations(db)));
}

TEST_CASE("--fetch-rows 2147483647, the most PostgreSQL's FETCH takes, works") {
    TestDatabase db;
    load_corpus(db);
    TempDir tmp;
    Run run = migrate(db, tmp.file("r.jsonl"), {"--fetch-rows", "2147483647", "--phases", "schema,backfill"});
    CHECK_MESSAGE(run.status == 0, run.said());
    CHECK_MESSAGE(summary_of(run).chats == selected_chats(db), run.said());
}

TEST_CASE("with no --db, libpq's PGHOST, PGPORT, PGUSER and PGDATABASE pick the database, as in psql") {
    TestDatabase db;
    load_corpus(db);
    TempDir tmp;
    const std::string conninfo = db.conninfo();
    ScopedEnvironment env(Variables{{"PGHOST", option_of(conninfo, "host")},
                                    {"PGPORT", option_of(conninfo, "port")},
                                    {"PGUSER", option_of(conninfo, "user")},
                                    {"PGDATABASE", option_of(conninfo, "dbname")}});
    Run run = run_sluice({"migrate", "--progress", "none", "--reject-file", tmp.file("r.jsonl")});
    CHECK_MESSAGE(run.status == 0, run.said());
    CHECK_MESSAGE(summary_of(run).chats == selected_chats(db), run.said());
}

TEST_CASE("PGPASSWORD serves a password-authenticated role with no --db, and is never printed") {
    TestDatabase db;
    load_corpus(db);
    db.sql().exec("DROP ROLE IF EXISTS sluice_cfg_pw");
    const char* secret = "cfg-s3cret-71";
    db.sql().exec(std::string("CREATE ROLE sluice_cfg_pw LOGIN SUPERUSER PASSWORD '") + secret + "'");
    TempDir tmp;
    {
        HbaLine scram("host all sluice_cfg_pw 127.0.0.1/32 scram-sha-256");
        const Variables server{{"PGHOST", "127.0.0.1"},          {"PGPORT", option_of(db.conninfo(), "port")},
                               {"PGUSER", "sluice_cfg_pw"},      {"PGDATABASE", option_of(db.conninfo(), "dbname")},
                               {"PGPASSFILE", tmp.file("none")}, {"PGPASSWORD", std::nullopt}};
        ScopedEnvironment env(server);
        Run without = run_sluice({"migrate", "--progress", "none", "--reject-file", tmp.file("r.jsonl")});
        CHECK_MESSAGE(without.status == 3, without.said());
        REQUIRE_MESSAGE(without.error_lines().size() == 1, without.said());
        CHECK_MESSAGE(mentions(without.err, "no password supplied"), without.said());
        CHECK_MESSAGE(mentions(without.err, "PGPASSWORD"), "the hint should be about the password: " << without.said());
        CHECK_MESSAGE(!mentions(without.err, "server running"), "a hint about the server: " << without.said());

        ScopedEnvironment password(Variables{{"PGPASSWORD", secret}});
        Run with = run_sluice({"migrate", "--progress", "none", "--reject-file", tmp.file("r.jsonl")});
        CHECK_MESSAGE(with.status == 0, with.said());
        CHECK_MESSAGE(!mentions(with.said(), secret), "the password appeared in the output");
    }
    db.sql().exec("DROP OWNED BY sluice_cfg_pw");
    db.sql().exec("DROP ROLE sluice_cfg_pw");
}

TEST_CASE(
    "Open WebUI's split DATABASE_* variables connect a password-authenticated role, the password read as "
    "Open WebUI reads it (%40 is '@') and never printed") {
    TestDatabase db;
    load_corpus(db);
    db.sql().exec("DROP ROLE IF EXISTS sluice_split_pw");
    const std::string password = "sp/l:it #pw@x";     // what the server holds
    const std::string in_secret = "sp/l:it #pw%40x";  // how the Secret must spell it for Open WebUI's URL
    db.sql().exec("CREATE ROLE sluice_split_pw LOGIN SUPERUSER PASSWORD '" + password + "'");
    TempDir tmp;
    {
        HbaLine scram("host all sluice_split_pw 127.0.0.1/32 scram-sha-256");
        ScopedEnvironment no_libpq(Variables{{"PGHOST", std::nullopt},
                                             {"PGPORT", std::nullopt},
                                             {"PGUSER", std::nullopt},
                                             {"PGPASSWORD", std::nullopt},
                                             {"PGPASSFILE", tmp.file("none")}});
        const std::vector<std::string> split{"DATABASE_TYPE=postgresql",
                                             "DATABASE_USER=sluice_split_pw",
                                             "DATABASE_PASSWORD=" + in_secret,
                                             "DATABASE_HOST=127.0.0.1",
                                             "DATABASE_PORT=" + option_of(db.conninfo(), "port"),
                                             "DATABASE_NAME=" + option_of(db.conninfo(), "dbname")};
        Run run = run_sluice({"migrate", "--progress", "none", "--reject-file", tmp.file("r.jsonl")}, split);
        CHECK_MESSAGE(run.status == 0, run.said());
        CHECK_MESSAGE(summary_of(run).chats == selected_chats(db), run.said());
        for (const std::string& secret : {password, in_secret, std::string("sp/l:it")})
            CHECK_MESSAGE(!mentions(run.said(), secret), "the password appeared in the output");

        std::vector<std::string> wrong = split;
        wrong[2] = "DATABASE_PASSWORD=" + password;  // the raw '@': Open WebUI would read "x" as the host
        Run refused = run_sluice({"check", "--reject-file", tmp.file("r.jsonl")}, wrong);
        check_refused_as_configuration(refused, "DATABASE_PASSWORD holds an '@'");
        CHECK_MESSAGE(!mentions(refused.said(), "#pw"), "the password appeared in the refusal");
    }
    db.sql().exec("DROP OWNED BY sluice_split_pw");
    db.sql().exec("DROP ROLE sluice_split_pw");
}

TEST_CASE("a connection the server refuses is one line with the hint that fits, FATAL and all") {
    TestDatabase db;
    TempDir tmp;
    Run run = migrate_on(with_dbname(db.conninfo(), "sluice_no_such_db"), tmp.file("r.jsonl"));
    CHECK_MESSAGE(run.status == 3, run.said());
    REQUIRE_MESSAGE(run.error_lines().size() == 1, run.said());
    CHECK_MESSAGE(mentions(run.err, "database \"sluice_no_such_db\" does not exist"), run.said());
    CHECK_MESSAGE(mentions(run.err, "check the database name"), run.said());
    CHECK_MESSAGE(!mentions(run.err, "FATAL:  "), "the server's line came through raw: " << run.said());
}

TEST_CASE("a server WARNING reaches stderr as one sluice line, and a NOTICE not at all") {
    TestDatabase db;
    load_corpus(db);
    // An event trigger speaks at every CREATE sluice runs; it lowers client_min_messages for its
    // own transaction so that the NOTICE is sent, not filtered by the server.
    db.sql().exec(R"(CREATE FUNCTION sluice_test_speak() RETURNS event_trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM set_config('client_min_messages', 'notice', true);
            RAISE NOTICE 'sluice-test notice';
            RAISE WARNING 'sluice-test warning' USING DETAIL = 'sluice-test detail', HINT = 'sluice-test hint';
        END $$)");
    db.sql().exec("CREATE EVENT TRIGGER sluice_test_speak ON ddl_command_end EXECUTE FUNCTION sluice_test_speak()");
    TempDir tmp;
    Run run = migrate(db, tmp.file("r.jsonl"));
    db.sql().exec("DROP EVENT TRIGGER sluice_test_speak");
    CHECK_MESSAGE(run.status == 0, run.said());
    CHECK_MESSAGE(mentions(run.err, "sluice: server warning: sluice-test warning\n"), run.said());
    for (const std::string& line : run.error_lines())
        if (mentions(line, "sluice-test"))
            CHECK_MESSAGE(line == "sluice: server warning: sluice-test warning", "not in sluice's form: " << line);
    for (const char* raw : {"sluice-test notice", "sluice-test detail", "sluice-test hint", "WARNING:", "NOTICE:"})
        CHECK_MESSAGE(!mentions(run.err, raw), "libpq printed the server's message raw: " << run.said());
}
