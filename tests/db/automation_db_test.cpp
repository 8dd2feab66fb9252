// The automation contract on a real PostgreSQL: a distinct exit status for each outcome a script
// acts on, --summary-json for check and verify (the target, the version, the verdict, each check or
// the counts, an error's class and SQLSTATE), verify with only SELECT, verify after cleanup with
// the export as its list of rejects, and verify refusing while a migrate holds the lock.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "tests/db/db_fixture.h"

using namespace sluice::testing;

namespace {

constexpr const char* kAuditor = "sluice_auditor";

Run check(const TestDatabase& db, const std::vector<std::string>& more = {}) {
    return run_sluice(with({"check", "--db", db.conninfo()}, more));
}

bool mentions(const Run& run, const std::string& text) {
    return run.said().find(text) != std::string::npos;
}

// The --summary-json file, parsed; fails the case when it is missing or not JSON.
rapidjson::Document summary_json(const std::string& path) {
    const std::string text = slurp(path);
    rapidjson::Document d;
    d.Parse(text.c_str(), text.size());
    REQUIRE_MESSAGE((!d.HasParseError() && d.IsObject()), "no JSON summary in " << path << ": '" << text << "'");
    return d;
}

std::string string_at(const rapidjson::Value& v, const char* name) {
    if (!v.IsObject() || !v.HasMember(name) || !v[name].IsString()) return "<missing>";
    return v[name].GetString();
}

// A login role that may connect and read chat, chat_message and nothing else; dropped at the end.
struct Auditor {
    TestDatabase& db;
    explicit Auditor(TestDatabase& d, const std::vector<std::string>& tables) : db(d) {
        db.sql().exec(std::string("DROP ROLE IF EXISTS ") + kAuditor);
        db.sql().exec(std::string("CREATE ROLE ") + kAuditor + " LOGIN");
        for (const std::string& t : tables)
            db.sql().exec("GRANT SELECT ON " + t + " TO " + kAuditor);
    }
    ~Auditor() {
        try {
            db.sql().exec(std::string("DROP OWNED BY ") + kAuditor);
            db.sql().exec(std::string("DROP ROLE ") + kAuditor);
        } catch (...) {
        }
    }
};

}  // namespace

TEST_CASE("a server not reached, a refused login and a missing database exit 3, and the JSON names the class") {
    TestDatabase db;
    load_corpus(db);
    TempDir tmp;
    db.sql().exec("DROP ROLE IF EXISTS sluice_wrong_pw");
    db.sql().exec("CREATE ROLE sluice_wrong_pw LOGIN PASSWORD 'right-one'");
    HbaLine scram("host all sluice_wrong_pw 127.0.0.1/32 scram-sha-256");
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"a wrong password", db.conninfo() + " host=127.0.0.1 user=sluice_wrong_pw password=wrong-one"},
        {"a closed port", db.conninfo() + " host=127.0.0.1 port=1"},
        {"a missing database", with_dbname(server_conninfo(), "sluice_no_such_db")}};
    for (const auto& [what, conninfo] : cases) {
        for (const char* command : {"migrate", "check", "verify"}) {
            INFO(command << " with " << what);
            std::vector<std::string> args{command, "--db", conninfo, "--summary-json", tmp.file("s.json")};
            if (std::string(command) != "check") args.insert(args.end(), {"--progress", "none"});
            if (std::string(command) == "migrate") args.insert(args.end(), {"--reject-file", tmp.file("r.jsonl")});
            Run run = run_sluice(args);
            CHECK_MESSAGE(run.status == 3, run.said());
            const rapidjson::Document d = summary_json(tmp.file("s.json"));
            CHECK(string_at(d, "error_class") == "cannot connect");
            CHECK_MESSAGE(string_at(d, "sqlstate").rfind("08", 0) + string_at(d, "sqlstate").rfind("28", 0) +
                                  string_at(d, "sqlstate").rfind("3D", 0) !=
                              3 * std::string::npos,
                          "no SQLSTATE of a failed connection: " << string_at(d, "sqlstate"));
            CHECK(d["exit_status"].GetInt() == 3);
        }
    }
    db.sql().exec("DROP ROLE sluice_wrong_pw");
}

TEST_CASE("check --summary-json gives the target, the version, the verdict and each check; not ready exits 4") {
    TestDatabase db;
    load_corpus(db);
    TempDir tmp;
    Run ready = check(db, {"--summary-json", tmp.file("ready.json")});
    CHECK_MESSAGE(ready.status == 0, ready.said());
    rapidjson::Document d = summary_json(tmp.file("ready.json"));
    CHECK(string_at(d, "command") == "check");
    CHECK(string_at(d, "version") != "<missing>");
    CHECK(string_at(d["target"], "database") != "<missing>");
    CHECK(string_at(d["target"], "schema") == "public");
    CHECK(string_at(d, "verdict").rfind("ready", 0) == 0);
    REQUIRE(d["checks"].IsArray());
    CHECK(d["checks"].Size() > 5);
    for (const auto& c : d["checks"].GetArray())
        CHECK_MESSAGE(string_at(c, "verdict") != "failed", string_at(c, "name") << ": " << string_at(c, "detail"));
    CHECK_MESSAGE(slurp(tmp.file("ready.json")).find("password") == std::string::npos, "a password key in the JSON");

    db.sql().exec("ALTER TABLE chat RENAME TO chat_gone");
    Run refused = check(db, {"--summary-json", tmp.file("refused.json")});
    CHECK_MESSAGE(refused.status == 4, refused.said());
    d = summary_json(tmp.file("refused.json"));
    CHECK(string_at(d, "verdict").rfind("not ready", 0) == 0);
    bool chat_failed = false;
    for (const auto& c : d["checks"].GetArray())
        chat_failed |= string_at(c, "name") == "chat" && string_at(c, "verdict") == "failed";
    CHECK_MESSAGE(chat_failed, "the JSON does not say the chat check failed");
    Run migrate_refused = migrate(db, tmp.file("r.jsonl"));
    CHECK_MESSAGE(migrate_refused.status == 4,
                  "a migrate its preflight refused did not exit 4: " << migrate_refused.said());
}

TEST_CASE("verify --summary-json gives the counts and the verdict; a disagreement exits 6, over --max-rejects 5") {
    TestDatabase db;
    load_corpus(db);
    TempDir tmp;
    REQUIRE(clean_run().summary.rejected > 0);
    Run over = migrate(db, tmp.file("r.jsonl"), {"--max-rejects", "0"});
    CHECK_MESSAGE(over.status == 5, "a run over --max-rejects did not exit 5: " << over.said());
    REQUIRE(migrate(db, tmp.file("r.jsonl")).status == 0);
    Run agrees = verify(db, "", {"--summary-json", tmp.file("v.json")});
    CHECK_MESSAGE(agrees.status == 0, agrees.said());
    rapidjson::Document d = summary_json(tmp.file("v.json"));
    CHECK(string_at(d, "command") == "verify");
    CHECK(string_at(d, "verdict") == "chat_message agrees with chat");
    REQUIRE(d["verify"].IsObject());
    CHECK(d["verify"]["missing"].GetUint64() == 0);
    CHECK(d["verify"]["rejected"].GetUint64() == static_cast<std::uint64_t>(clean_run().summary.rejected));
    CHECK(d["rejected"].GetUint64() == static_cast<std::uint64_t>(clean_run().summary.rejected));

    db.sql().exec("DELETE FROM chat_message WHERE id IN (SELECT id FROM chat_message ORDER BY id LIMIT 3)");
    Run disagrees = verify(db, "", {"--summary-json", tmp.file("v.json")});
    CHECK_MESSAGE(disagrees.status == 6, disagrees.said());
    d = summary_json(tmp.file("v.json"));
    CHECK(d["verify"]["missing"].GetUint64() == 3);
    CHECK(string_at(d, "error_class") == "disagrees");
    CHECK(d["exit_status"].GetInt() == 6);
}

TEST_CASE(
    "a role with only SELECT on chat and chat_message gets verify's verdict, with or without SELECT on "
    "sluice's tables") {
    TestDatabase db;
    load_corpus(db);
    TempDir tmp;
    REQUIRE(migrate(db, tmp.file("r.jsonl")).status == 0);
    SUBCASE("SELECT on sluice's tables too: the verdict, the rejects accounted for") {
        Auditor auditor(db, {"chat", "chat_message", "sluice_reject", "sluice_checkpoint", "sluice_run"});
        Run run = run_sluice({"verify", "--db", db.conninfo() + " user=" + kAuditor, "--progress", "none"});
        CHECK_MESSAGE(run.status == 0, run.said());
        CHECK_MESSAGE(says(run, "agrees with chat"), run.said());
    }
    SUBCASE("no SELECT on sluice's tables: the verdict, and what it could not read") {
        Auditor auditor(db, {"chat", "chat_message"});
        Run run = run_sluice({"verify", "--db", db.conninfo() + " user=" + kAuditor, "--progress", "none"});
        CHECK_MESSAGE(run.status == 6, run.said());
        CHECK_MESSAGE(says(run, "may not read table"), run.said());
        CHECK_MESSAGE(says(run, "--rejects-from"), run.said());
        CHECK_MESSAGE(!mentions(run, "needs to own"), "the wrong hint: " << run.said());
        Run with_export = run_sluice({"verify", "--db", db.conninfo() + " user=" + kAuditor, "--progress", "none",
                                      "--rejects-from", tmp.file("r.jsonl")});
        CHECK_MESSAGE(with_export.status == 0, with_export.said());
    }
}

TEST_CASE("verify after cleanup takes cleanup's export as the known rejects, and without it says how to pass it") {
    TestDatabase db;
    load_corpus(db);
    TempDir tmp;
    REQUIRE(clean_run().summary.rejected > 0);
    REQUIRE(migrate(db, tmp.file("r.jsonl")).status == 0);
    Run cleanup = run_sluice({"cleanup", "--db", db.conninfo(), "--reject-file", tmp.file("export.jsonl")});
    REQUIRE_MESSAGE(cleanup.status == 0, cleanup.said());
    REQUIRE(scalar(db.sql(), "SELECT to_regclass('sluice_reject')").empty());

    Run without = verify(db, "");
    CHECK_MESSAGE(without.status == 6, without.said());
    CHECK_MESSAGE(says(without, "is gone"), "verify does not say the rejects table is gone: " << without.said());
    CHECK_MESSAGE(says(without, "--rejects-from FILE"),
                  "verify does not say how to pass the export: " << without.said());

    Run with_export =
        verify(db, "", {"--rejects-from", tmp.file("export.jsonl"), "--summary-json", tmp.file("v.json")});
    CHECK_MESSAGE(with_export.status == 0, with_export.said());
    CHECK_MESSAGE(says(with_export, "the known rejects come from export " + tmp.file("export.jsonl")),
                  "verify does not say it used the export: " << with_export.said());
    const rapidjson::Document d = summary_json(tmp.file("v.json"));
    CHECK(string_at(d["verify"], "rejects_from") == "export " + tmp.file("export.jsonl"));

    std::FILE* f = std::fopen(tmp.file("bad.jsonl").c_str(), "w");
    std::fputs("not json\n", f);
    std::fclose(f);
    Run bad = verify(db, "", {"--rejects-from", tmp.file("bad.jsonl")});
    CHECK_MESSAGE(bad.status == 1, bad.said());
    CHECK_MESSAGE(mentions(bad, "line 1"), bad.said());
}

TEST_CASE("verify while a migrate holds the lock says so and exits 75 instead of counting its work as missing") {
    TestDatabase db;
    load_corpus(db);
    TempDir tmp;
    REQUIRE(migrate(db, tmp.file("r.jsonl"), {"--phases", "schema,backfill"}).status == 0);
    Connection holder(db.conninfo(), "holder");
    holder.exec("SELECT pg_advisory_lock(hashtextextended('sluice migrate public', 0))");
    Run run = verify(db, "", {"--summary-json", tmp.file("v.json")});
    CHECK_MESSAGE(run.status == 75, run.said());
    CHECK_MESSAGE(mentions(run, "a sluice migrate is running"), run.said());
    CHECK_MESSAGE(mentions(run, "ranges"), "verify does not give the migrate's progress: " << run.said());
    CHECK_MESSAGE(!mentions(run, "missing"), run.said());
    CHECK(string_at(summary_json(tmp.file("v.json")), "error_class") == "lock held");
}
