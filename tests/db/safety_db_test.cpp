// sluice the way operators really run it, against a real PostgreSQL (see db_fixture.h): two
// migrates at once, Open WebUI started mid-run, a table that appeared or was restored without
// its key or in another column order, rejects past --max-rejects, values too large for an
// index, and the end state compared with upstream's schema by pg_dump.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/db/db_fixture.h"

using namespace sluice::testing;
using namespace std::chrono_literals;

namespace {

// Small batches and frequent commits: a run of a few hundred chats lasts long enough to meet.
const std::vector<std::string> kSlow = {"--batch-rows", "2", "--fetch-rows", "8", "--commit-interval", "10ms"};

std::future<Run> migrate_async(const TestDatabase& db, const std::string& rejects, std::vector<std::string> more) {
    return std::async(std::launch::async, [&db, rejects, more] { return migrate(db, rejects, more); });
}

bool lock_held(TestDatabase& db) {
    return number(db.sql(),
                  "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sluice lock'"
                  " AND datname = current_database()") > 0;
}

bool exists(TestDatabase& db, const std::string& relation) {
    return !scalar(db.sql(), "SELECT to_regclass($1)", {relation}).empty();
}

// What upstream's migration does when Open WebUI starts and finds no chat_message: in one
// transaction, create the table and its indexes (the backfill would follow). Returns the
// SQLSTATE it fails with, "" when it succeeded (then it is rolled back all the same).
std::string upstream_attempt(TestDatabase& db) {
    db.sql().exec("BEGIN");
    std::string sqlstate;
    try {
        create_upstream_chat_message(db.sql(), "public");
    } catch (const sluice::engine::PgError& e) {
        sqlstate = e.sqlstate();
    }
    db.sql().exec("ROLLBACK");
    return sqlstate;
}

std::string random_text(std::size_t n, unsigned seed) {
    static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::mt19937 rng(seed);
    std::string s;
    for (std::size_t i = 0; i < n; ++i)
        s.push_back(kAlphabet[rng() % (sizeof kAlphabet - 1)]);
    return s;
}

std::string pg_bin(const std::string& tool) {
    if (const char* dir = std::getenv("PG_BINDIR")) return std::string(dir) + "/" + tool;
    for (int v = 20; v >= 12; --v) {
        std::string path = "/usr/lib/postgresql/" + std::to_string(v) + "/bin/" + tool;
        if (std::FILE* f = std::fopen(path.c_str(), "r")) {
            std::fclose(f);
            return path;
        }
    }
    return tool;
}

// pg_dump --schema-only of chat_message, without its comment lines and the random key of its
// \restrict lines (newer pg_dump releases write one per dump).
std::string schema_dump(const TestDatabase& db, const TempDir& dir, const std::string& name) {
    const std::string out = dir.file(name + ".sql");
    std::string conninfo = db.conninfo();
    std::string quoted = "'";
    for (char c : conninfo)
        quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    quoted += "'";
    const std::string cmd = pg_bin("pg_dump") + " --schema-only --table=public.chat_message -d " + quoted + " > " + out;
    REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "pg_dump failed: " << cmd);
    std::string kept;
    std::string text = slurp(out);
    for (std::size_t at = 0; at < text.size();) {
        std::size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(at, end - at);
        const bool noise =
            line.rfind("--", 0) == 0 || line.rfind("\\restrict", 0) == 0 || line.rfind("\\unrestrict", 0) == 0;
        if (!noise) kept += line + "\n";
        at = end + 1;
    }
    return kept;
}

}  // namespace

TEST_CASE("a second migrate while one runs exits at once, naming the holder; with --wait-for-lock it waits") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    auto first = migrate_async(db, dir.file("a.jsonl"), kSlow);
    REQUIRE_MESSAGE(wait_until([&] { return lock_held(db); }), "the first migrate never took its lock");
    const long long before = number(db.sql(), "SELECT count(*) FROM pg_class WHERE relname LIKE 'sluice%'");

    Run second = migrate(db, dir.file("b.jsonl"));
    INFO("the second migrate said:\n" << second.said());
    CHECK_MESSAGE(second.status == 75, "a second migrate during a run did not exit 75 (try again later)");
    REQUIRE_MESSAGE(second.error_lines().size() == 1, "the refusal is not one line");
    const std::string line = second.error_lines()[0];
    CHECK_MESSAGE(line.find("another sluice migrate is running") != std::string::npos, "the line does not say why");
    CHECK_MESSAGE(line.find("pid ") != std::string::npos, "the line does not name the holder's pid");
    CHECK_MESSAGE(line.find("sluice lock") != std::string::npos, "the line does not name the holder's application");
    CHECK_MESSAGE(line.find("since") != std::string::npos, "the line does not say since when");
    CHECK_MESSAGE(line.find("--wait-for-lock") != std::string::npos, "the line does not say how to wait instead");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM pg_class WHERE relname LIKE 'sluice%'") >= before,
                  "the refused run dropped something");

    Run cleanup = run_sluice({"cleanup", "--db", db.conninfo()});
    CHECK_MESSAGE(cleanup.status == 75, "cleanup during a migrate did not refuse with 75: " << cleanup.said());
    CHECK_MESSAGE(cleanup.err.find("is running") != std::string::npos, "cleanup's refusal does not say why");

    Run waiting = migrate(db, dir.file("c.jsonl"), {"--wait-for-lock", "2min"});
    INFO("the waiting migrate said:\n" << waiting.said());
    Run done = first.get();
    REQUIRE_MESSAGE(done.status == 0, "the first migrate failed: " << done.said());
    CHECK_MESSAGE(waiting.status == 0, "a migrate that waited for the lock did not exit 0");
    CHECK_MESSAGE(says(waiting, "waiting for another sluice migrate"), "the wait was not visible");
    CHECK_MESSAGE(says(waiting, "already migrated"), "the waiting migrate did not find the work done");
    CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == clean_run().fingerprint,
                  "the table differs from a clean run's");
}

TEST_CASE("three migrates started together, as three pods would, all succeed once and count every reject once") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    std::vector<std::future<Run>> pods;
    for (int i = 0; i < 3; ++i) {
        pods.push_back(migrate_async(db, dir.file("pod" + std::to_string(i) + ".jsonl"),
                                     with(kSlow, {"--wait-for-lock", "2min"})));
    }
    int worked = 0;
    for (auto& pod : pods) {
        Run run = pod.get();
        INFO("a pod said:\n" << run.said());
        CHECK_MESSAGE(run.status == 0, "a pod's migrate did not exit 0");
        if (!says(run, "already complete") && !says(run, "already migrated")) ++worked;
    }
    CHECK_MESSAGE(worked == 1, "not exactly one pod did the backfill (" << worked << ")");
    CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == clean_run().fingerprint,
                  "the table differs from a clean run's");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM sluice_reject") == clean_run().summary.rejected,
                  "the rejects table does not hold each reject once");
    CHECK_MESSAGE(number(db.sql(), "SELECT rejected FROM sluice_checkpoint") == clean_run().summary.rejected,
                  "the checkpoint's reject total is not a clean run's");
}

TEST_CASE("until publish Open WebUI finds no chat_message, and its own migration cannot create one") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    const std::string rejects = dir.file("r.jsonl");
    CHECK_MESSAGE(upstream_attempt(db).empty(), "upstream's DDL as this test writes it fails on a fresh database");
    for (const char* phase : {"schema", "backfill", "indexes", "constraints"}) {
        Run run = migrate(db, rejects, {"--phases", phase});
        REQUIRE_MESSAGE(run.status == 0, "the " << phase << " phase failed: " << run.said());
        CHECK_MESSAGE(!exists(db, "public.chat_message"), "chat_message is visible after the " << phase << " phase");
        CHECK_MESSAGE(upstream_attempt(db) == "42P07",
                      "after the " << phase << " phase upstream's migration could create its own chat_message");
        CHECK_MESSAGE(!exists(db, "public.chat_message"), "upstream's failed attempt left a table");
    }
    Run publish = migrate(db, rejects, {"--phases", "publish", "--stamp-alembic"});
    INFO("publish said:\n" << publish.said());
    REQUIRE_MESSAGE(publish.status == 0, "the publish phase failed");
    CHECK_MESSAGE(exists(db, "public.chat_message"), "publish did not make chat_message");
    CHECK_MESSAGE(scalar(db.sql(), "SELECT version_num FROM alembic_version") == "8452d01d26d7",
                  "the stamp did not go with the publish");
}

TEST_CASE("a check for chat_message during a whole run never sees it before it is complete") {
    TempDir dir;
    {
        TestDatabase live;
        load_corpus(live);
        auto run = migrate_async(live, dir.file("live.jsonl"), kSlow);
        bool saw_partial = false, saw_building = false;
        while (run.wait_for(2ms) != std::future_status::ready) {
            if (!exists(live, "public.chat_message")) {
                saw_building = saw_building || exists(live, "public.sluice_chat_message");
                continue;
            }
            // Visible: then it must be whole (the publish renames it in the transaction that checks).
            saw_partial = saw_partial || number(live.sql(),
                                                "SELECT count(*) FROM pg_indexes WHERE tablename ="
                                                " 'chat_message'") != 8;
        }
        Run done = run.get();
        REQUIRE_MESSAGE(done.status == 0, "the live run failed: " << done.said());
        CHECK_MESSAGE(saw_building, "the check never caught the run building: the test proves nothing");
        CHECK_MESSAGE(!saw_partial, "chat_message was visible without its indexes");
        CHECK_MESSAGE(table_fingerprint(live.sql(), "public") == clean_run().fingerprint, "the table differs");
    }
}

TEST_CASE("chat_message appearing while sluice builds stops it before publish; a rerun completes that table") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    const std::string rejects = dir.file("r.jsonl");
    auto running = migrate_async(db, rejects, kSlow);
    REQUIRE_MESSAGE(wait_until([&] {
                        return exists(db, "public.sluice_checkpoint") &&
                               number(db.sql(), "SELECT count(*) FROM sluice_checkpoint") > 0;
                    }),
                    "the run never committed");
    // A restore, or a migration that does not meet sluice's placeholder, puts chat_message in place meanwhile.
    create_upstream_chat_message(db.sql(), "public", false);
    Run stopped = running.get();
    INFO("the run during which chat_message appeared said:\n" << stopped.said());
    CHECK_MESSAGE(stopped.status == 1, "sluice went on although chat_message appeared");
    REQUIRE_MESSAGE(stopped.error_lines().size() == 1, "the stop is not one line");
    CHECK_MESSAGE(stopped.err.find("appeared while sluice was building") != std::string::npos,
                  "it does not say what happened");
    CHECK_MESSAGE(stopped.err.find("run sluice migrate again") != std::string::npos, "it does not say what to do");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM chat_message") == 0,
                  "sluice published into the table that appeared");
    CHECK_MESSAGE(exists(db, "public.sluice_chat_message"), "the build table was dropped before the operator reran");

    Run rerun = migrate(db, rejects);
    INFO("the rerun said:\n" << rerun.said());
    REQUIRE_MESSAGE(rerun.status == 0, "the rerun did not complete the table that appeared");
    CHECK_MESSAGE(says(rerun, "completing it in place"), "the rerun did not say it completes chat_message in place");
    CHECK_MESSAGE(!exists(db, "public.sluice_chat_message"), "the build table is still there");
    CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == clean_run().fingerprint, "the completed table differs");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM sluice_reject") == clean_run().summary.rejected,
                  "the rejects were not derived once for the table that appeared");
}

TEST_CASE("the published table's schema is byte for byte upstream's (pg_dump --schema-only)") {
    TestDatabase ours, theirs;
    TempDir dir;
    load_corpus(ours);
    load_corpus(theirs);
    Run run = migrate(ours, dir.file("r.jsonl"));
    REQUIRE_MESSAGE(run.status == 0, run.said());
    create_upstream_chat_message(theirs.sql(), "public");
    const std::string a = schema_dump(ours, dir, "ours"), b = schema_dump(theirs, dir, "theirs");
    CHECK_MESSAGE(a.find("CREATE TABLE public.chat_message") != std::string::npos, "the dump holds no table: " << a);
    CHECK_MESSAGE(a == b, "sluice's schema:\n" << a << "\nupstream's:\n" << b);
}

TEST_CASE("more rejects than --max-rejects fail the run before the commit that passes it, and every rerun") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    const long long all = clean_run().summary.rejected;
    REQUIRE_MESSAGE(all > 4, "the corpus has too few rejects for this test");
    const std::vector<std::string> limit = {"--max-rejects", "3", "--stamp-alembic"};
    for (int attempt = 1; attempt <= 2; ++attempt) {
        Run run = migrate(db, dir.file("r.jsonl"), limit);
        INFO("attempt " << attempt << " said:\n" << run.said());
        CHECK_MESSAGE(run.status == 5, "a run over --max-rejects did not fail");
        CHECK_MESSAGE(run.err.find("--max-rejects") != std::string::npos, "the failure does not name the limit");
        CHECK_MESSAGE(number(db.sql(), "SELECT rejected FROM sluice_checkpoint") <= 3, "a commit passed the limit");
        CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM sluice_reject") <= 3,
                      "the rejects table passed the limit");
        CHECK_MESSAGE(scalar(db.sql(), "SELECT complete FROM sluice_checkpoint") != "t",
                      "the backfill marked itself complete");
        CHECK_MESSAGE(!exists(db, "public.chat_message"), "an over-limit run published");
        CHECK_MESSAGE(scalar(db.sql(), "SELECT version_num FROM alembic_version") == "374d2f66af06",
                      "an over-limit run was stamped");
    }
    Run lifted = migrate(db, dir.file("r.jsonl"), {"--stamp-alembic"});
    INFO("the run without the limit said:\n" << lifted.said());
    CHECK_MESSAGE(lifted.status == 0, "the run without the limit did not complete");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM sluice_reject") == all, "the rejects are not a clean run's");
    Run again = migrate(db, dir.file("r.jsonl"), {"--max-rejects", "3"});
    CHECK_MESSAGE(again.status == 5, "a complete run over the limit turned into success on a rerun: " << again.said());
}

TEST_CASE("an existing chat_message in another column order is completed with every value in its column") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    db.sql().exec(
        "CREATE TABLE chat_message (updated_at bigint, created_at bigint, usage json, error json,"
        " status_history json, done boolean, embeds json, sources json, files json, model_id text,"
        " output json, content json, parent_id text, role text NOT NULL, user_id text,"
        " chat_id text NOT NULL, id text PRIMARY KEY)");
    // Some rows already there, so that the rest go through the staging merge.
    TestDatabase source;
    load_corpus(source);
    REQUIRE(migrate(source, dir.file("s.jsonl"), {"--phases", "schema,backfill"}).status == 0);
    const std::string cols =
        "id, chat_id, user_id, role, parent_id, content, output, model_id, files, sources,"
        " embeds, done, status_history, error, usage, created_at, updated_at";
    copy_in(db.sql(), "COPY chat_message (" + cols + ") FROM STDIN",
            copy_out(source.sql(), "COPY (SELECT " + cols +
                                       " FROM sluice_chat_message WHERE abs(hashtext(id)) % 3 = 0)"
                                       " TO STDOUT"));
    // With the stamp, publish counts the rows, those already present with them, against the checkpoint.
    Run run = migrate(db, dir.file("r.jsonl"), {"--stamp-alembic"});
    INFO("sluice said:\n" << run.said());
    REQUIRE_MESSAGE(run.status == 0, "migrate over a table in another column order failed");
    CHECK_MESSAGE(summary_of(run).present > 0, "no row went through the present-row path");
    CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == clean_run().fingerprint,
                  "values landed in the wrong columns (or rows differ)");
    CHECK_MESSAGE(scalar(db.sql(), "SELECT version_num FROM alembic_version") == "8452d01d26d7",
                  "the table completed in place was not stamped");
}

TEST_CASE("an existing chat_message without its primary key is refused in one line, and nothing is written") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    db.sql().exec(
        "CREATE TABLE chat_message (id TEXT NOT NULL, chat_id TEXT NOT NULL, user_id TEXT, role TEXT NOT NULL,"
        " parent_id TEXT, content JSON, output JSON, model_id TEXT, files JSON, sources JSON, embeds JSON,"
        " done BOOLEAN, status_history JSON, error JSON, usage JSON, created_at BIGINT, updated_at BIGINT)");
    db.sql().exec("INSERT INTO chat_message (id, chat_id, role) SELECT id || '-x', id, 'user' FROM chat LIMIT 5");
    for (const char* phases : {"schema,backfill,indexes,constraints,publish", "backfill"}) {
        Run run = migrate(db, dir.file("r.jsonl"), {"--phases", phases});
        INFO("--phases " << phases << " said:\n" << run.said());
        CHECK_MESSAGE(run.status == 4, "a table without its primary key was not refused");
        REQUIRE_MESSAGE(run.error_lines().size() == 1, "the refusal is not one line");
        CHECK_MESSAGE(run.err.find("no primary key on id") != std::string::npos,
                      "the line does not say what is missing");
        CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM chat_message") == 5, "rows were written");
    }
}

TEST_CASE("a chat_message that Open WebUI's later migrations changed is refused whatever --phases says") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    create_upstream_chat_message(db.sql(), "public");
    db.sql().exec("ALTER TABLE chat_message ADD COLUMN meta json, ADD COLUMN context_summary text");
    for (const char* phases : {"schema,backfill,indexes,constraints,publish", "backfill", "indexes", "constraints"}) {
        Run run = migrate(db, dir.file("r.jsonl"), {"--phases", phases});
        INFO("--phases " << phases << " said:\n" << run.said());
        CHECK_MESSAGE(run.status == 4, "a table past this migration was not refused");
        REQUIRE_MESSAGE(run.error_lines().size() == 1, "the refusal is not one line");
        CHECK_MESSAGE(run.err.find("later migrations") != std::string::npos, "the line does not say why");
        CHECK_MESSAGE(run.err.find("meta") != std::string::npos, "the line does not name the columns");
        const bool suggests_drop =
            run.err.find("drop") != std::string::npos || run.err.find("DROP") != std::string::npos;
        CHECK_MESSAGE(!suggests_drop, "the advice suggests dropping user data");
    }
}

TEST_CASE("a message key and a model too large for an index entry are rejected, the run completes") {
    TestDatabase db;
    TempDir dir;
    create_chat_table(db, {});
    const std::string big_key = random_text(3500, 1), big_model = random_text(3500, 2);
    std::string ok = message(R"("user")", R"("fine")");
    std::string with_model =
        R"({"role":"assistant","model":")" + big_model + R"(","content":"x","timestamp":1717000000})";
    insert_chat(db, "c1", chat_of({{"a", ok}, {big_key, ok}, {"b", ok}}));
    insert_chat(db, "c2", chat_of({{"a", ok}, {"m", with_model}, {"b", ok}}));
    Run run = migrate(db, dir.file("r.jsonl"));
    INFO("sluice said:\n" << run.said());
    REQUIRE_MESSAGE(run.status == 0, "values too large for an index made the run fail");
    CHECK_MESSAGE(rows(db.sql(), "SELECT id FROM sluice_reject ORDER BY id") ==
                      (std::vector<std::string>{"c1-" + big_key, "c2-m"}),
                  "the rejects are not exactly the huge key and the huge model");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM sluice_reject WHERE sqlstate = '54000'") == 2,
                  "the rejects do not carry SQLSTATE 54000");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM chat_message") == 4, "the neighbours were not all written");
    CHECK_MESSAGE(says(run, "too large for an index entry"), "the index phase did not say it moved rows");
    CHECK_MESSAGE(number(db.sql(), "SELECT rejected FROM sluice_checkpoint") == 2,
                  "the checkpoint does not count both");
    Run check = verify(db, dir.file("r.jsonl"));
    CHECK_MESSAGE(check.status == 0, "verify does not account for the index-size rejects: " << check.said());
}

TEST_CASE("sluice rejects exports the rejects table; cleanup exports, then drops sluice's tables only") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    REQUIRE(migrate(db, dir.file("r.jsonl")).status == 0);
    Run exported = run_sluice({"rejects", "--db", db.conninfo(), "--output", dir.file("export.jsonl")});
    REQUIRE_MESSAGE(exported.status == 0, exported.said());
    std::vector<RejectLine> lines = read_rejects(dir.file("export.jsonl"));
    CHECK_MESSAGE(static_cast<long long>(lines.size()) == clean_run().summary.rejected, "the export lacks rejects");
    CHECK_MESSAGE(all_of(lines, [](const RejectLine& r) { return r.well_formed; }), "an exported line is malformed");
    CHECK_MESSAGE(reject_ids(lines) == clean_run().rejects, "the export's ids are not a clean run's");

    Run cleanup = run_sluice({"cleanup", "--db", db.conninfo(), "--reject-file", dir.file("kept.jsonl")});
    INFO("cleanup said:\n" << cleanup.said());
    REQUIRE_MESSAGE(cleanup.status == 0, "cleanup failed");
    CHECK_MESSAGE(read_rejects(dir.file("kept.jsonl")).size() == lines.size(),
                  "cleanup did not export the rejects first");
    const bool left = exists(db, "public.sluice_reject") || exists(db, "public.sluice_checkpoint");
    CHECK_MESSAGE(!left, "cleanup left sluice's tables");
    CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == clean_run().fingerprint, "cleanup touched chat_message");
    Run again = run_sluice({"cleanup", "--db", db.conninfo()});
    const bool nothing = again.status == 0 && again.out.find("nothing of sluice's") != std::string::npos;
    CHECK_MESSAGE(nothing, "a second cleanup did not say there was nothing to do: " << again.said());
}
