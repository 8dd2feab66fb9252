// `sluice status` on a real PostgreSQL: at rest (nothing started, stopped part way, done) and while
// a migrate holds the lock, in words and as JSON, reading only.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "tests/db/db_fixture.h"

using namespace sluice::testing;

namespace {

Run status(const TestDatabase& db, const std::vector<std::string>& more = {}) {
    return run_sluice(with({"status", "--db", db.conninfo()}, more));
}

std::string state_of(const Run& json) {
    rapidjson::Document d;
    d.Parse(json.out.c_str(), json.out.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("state") || !d["state"].IsString()) return "<no JSON>";
    return d["state"].GetString();
}

}  // namespace

TEST_CASE("status at rest says nothing started, stopped part way, or already migrated, and creates nothing") {
    TestDatabase db;
    load_corpus(db);
    TempDir tmp;
    Run fresh = status(db);
    CHECK_MESSAGE(fresh.status == 0, fresh.said());
    CHECK_MESSAGE(says(fresh, "no migration running; nothing started"), fresh.said());
    CHECK(state_of(status(db, {"--json"})) == "not started");
    CHECK_MESSAGE(scalar(db.sql(), "SELECT to_regclass('sluice_checkpoint')").empty(), "status created a table");

    const std::string half = std::to_string(clean_run().summary.rejected / 2);
    Run stopped = migrate(db, tmp.file("r.jsonl"), {"--max-rejects", half, "--lanes", "3"});
    REQUIRE_MESSAGE(stopped.status != 0, stopped.said());
    Run part = status(db);
    CHECK_MESSAGE(says(part, "the backfill stopped at"), part.said());
    CHECK_MESSAGE(says(part, "ranges done"), part.said());
    CHECK(state_of(status(db, {"--json"})) == "stopped");

    REQUIRE(migrate(db, tmp.file("r.jsonl")).status == 0);
    Run done = status(db);
    CHECK_MESSAGE(says(done, "already migrated"), done.said());
    CHECK(state_of(status(db, {"--json"})) == "done");
}

TEST_CASE("status while a migrate holds the lock names the holder and the backfill's progress") {
    TestDatabase db;
    load_corpus(db);
    TempDir tmp;
    const std::string half = std::to_string(clean_run().summary.rejected / 2);
    REQUIRE(migrate(db, tmp.file("r.jsonl"), {"--max-rejects", half, "--lanes", "3"}).status != 0);
    Connection holder(db.conninfo(), "lock");
    holder.exec("SELECT pg_advisory_lock(hashtextextended('sluice migrate public', 0))");
    const std::string pid = scalar(holder, "SELECT pg_backend_pid()");
    Run run = status(db);
    CHECK_MESSAGE(run.status == 0, run.said());
    CHECK_MESSAGE(says(run, "a migrate is running (pid " + pid), run.said());
    CHECK_MESSAGE(says(run, "ranges done"), run.said());
    Run json = status(db, {"--json"});
    CHECK(state_of(json) == "running");
    CHECK_MESSAGE(json.out.find("\"pid\": " + pid) != std::string::npos, json.out);
}
