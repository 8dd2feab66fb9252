// Operating sluice on a real PostgreSQL: the opt-in alembic stamp, and bad state (missing
// privileges, a wrong password) ending in one clear line, never a crash or a partial write.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "db_fixture.h"

using namespace sluice::testing;

namespace {

constexpr const char* kBefore = "374d2f66af06";
constexpr const char* kAfter = "8452d01d26d7";

std::string alembic(TestDatabase& db) {
    return scalar(db.sql(), "SELECT version_num FROM alembic_version");
}

}  // namespace

TEST_CASE("--stamp-alembic moves alembic_version from 374d2f66af06 once every phase is done") {
    TestDatabase db;
    load_corpus(db);
    TempDir tmp;
    Run plain = migrate(db, tmp.file("r.jsonl"));
    REQUIRE_MESSAGE(plain.status == 0, plain.said());
    CHECK_MESSAGE(alembic(db) == kBefore, "without the flag sluice touched alembic_version");

    Run stamped = migrate(db, tmp.file("r.jsonl"), {"--stamp-alembic"});
    CHECK_MESSAGE(stamped.status == 0, stamped.said());
    CHECK_MESSAGE(alembic(db) == kAfter, "the stamp did not move alembic_version");
    Run again = migrate(db, tmp.file("r.jsonl"), {"--stamp-alembic"});
    CHECK_MESSAGE(again.status == 0, again.said());
    CHECK_MESSAGE(says(again, std::string("already migrated (alembic ") + kAfter),
                  "a second stamp did not say it was done");
}

TEST_CASE("--stamp-alembic refuses an unfinished migration and any other revision, changing nothing") {
    TestDatabase db;
    load_corpus(db);
    TempDir tmp;
    Run partial = migrate(db, tmp.file("r.jsonl"), {"--phases", "schema,backfill,publish", "--stamp-alembic"});
    CHECK_MESSAGE(partial.status == 1, partial.said());
    CHECK_MESSAGE(partial.error_lines().size() == 1, partial.said());
    CHECK_MESSAGE(partial.said().find("not publishing") != std::string::npos,
                  "the refusal does not say why: " << partial.said());
    CHECK_MESSAGE(alembic(db) == kBefore, "an unfinished migration was stamped");
    CHECK_MESSAGE(scalar(db.sql(), "SELECT to_regclass('chat_message')").empty(), "an unfinished table was published");

    TestDatabase other_db;
    load_corpus(other_db);
    other_db.sql().exec("UPDATE alembic_version SET version_num = 'c0ffee000000'");
    Run other = migrate(other_db, tmp.file("r.jsonl"), {"--stamp-alembic"});
    CHECK_MESSAGE(other.status == 4, other.said());
    CHECK_MESSAGE(other.said().find("'c0ffee000000'") != std::string::npos,
                  "the refusal does not name what it found: " << other.said());
    CHECK_MESSAGE(alembic(other_db) == "c0ffee000000", "sluice changed a revision it does not own");
    CHECK_MESSAGE(number(other_db.sql(), "SELECT count(*) FROM pg_class WHERE relname LIKE 'sluice%'") == 0,
                  "sluice wrote before refusing a revision it would not stamp");
}

TEST_CASE("a user without CREATE on the schema gets one line naming the missing privilege") {
    TestDatabase db;
    load_corpus(db);
    db.sql().exec("DROP ROLE IF EXISTS sluice_limited");
    db.sql().exec("CREATE ROLE sluice_limited LOGIN");
    db.sql().exec("GRANT SELECT ON chat TO sluice_limited");
    db.sql().exec("REVOKE CREATE ON SCHEMA public FROM PUBLIC");
    TempDir tmp;
    Run run = run_sluice({"migrate", "--db", db.conninfo() + " user=sluice_limited", "--progress", "none",
                          "--reject-file", tmp.file("r.jsonl")});
    CHECK_MESSAGE(run.status == 4, run.said());
    REQUIRE_MESSAGE(run.error_lines().size() == 1, run.said());
    // The preflight refuses before anything is written (it used to be the schema phase's "permission denied").
    CHECK_MESSAGE(run.error_lines()[0].find("not starting, nothing was written") != std::string::npos, run.said());
    CHECK_MESSAGE(run.error_lines()[0].find("lacks CREATE on schema \"public\"") != std::string::npos, run.said());
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM pg_class WHERE relname = 'chat_message'") == 0,
                  "a partial table was left behind");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM pg_class WHERE relname LIKE 'sluice%'") == 0,
                  "sluice wrote before refusing");
    db.sql().exec("DROP OWNED BY sluice_limited");
    db.sql().exec("DROP ROLE sluice_limited");
}

TEST_CASE("a wrong password gets one line that never shows a password") {
    TestDatabase db;
    db.sql().exec("DROP ROLE IF EXISTS sluice_pw");
    db.sql().exec("CREATE ROLE sluice_pw LOGIN PASSWORD 'the-right-one'");
    HbaLine scram("host all sluice_pw 127.0.0.1/32 scram-sha-256");
    const char* secret = "w0ng-s3cret-9";
    Run run =
        run_sluice({"migrate", "--db", db.conninfo() + " user=sluice_pw password=" + secret, "--progress", "none"});
    CHECK_MESSAGE(run.status == 3, run.said());
    REQUIRE_MESSAGE(run.error_lines().size() == 1, run.said());
    CHECK_MESSAGE(run.error_lines()[0].find("password authentication failed") != std::string::npos, run.said());
    CHECK_MESSAGE(run.said().find(secret) == std::string::npos, "the password appeared in the output");
    db.sql().exec("DROP ROLE sluice_pw");
}
