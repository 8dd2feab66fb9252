// Lanes against a real PostgreSQL (see db_fixture.h): K readers and writers over ranges of chat
// give exactly the rows and rejects one lane gives, the plan is stored and kept by a resumed run,
// each range resumes from its own checkpoint, and --max-rejects holds for all lanes together.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/db/db_fixture.h"

using namespace sluice::testing;

namespace {

const std::vector<std::string> kThreeLanes = {"--lanes", "3", "--batch-rows", "5", "--commit-interval", "10ms"};

// The plan as "no lower upper" lines, in range order.
std::vector<std::string> plan_of(TestDatabase& db) {
    return rows(db.sql(),
                "SELECT range_no, coalesce(lower_id, '-'), coalesce(upper_id, '-') FROM sluice_checkpoint"
                " ORDER BY range_no");
}

}  // namespace

TEST_CASE("three lanes write exactly the rows and rejects of one lane, over a stored plan of more ranges than lanes") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    Run run = migrate(db, dir.file("r.jsonl"), kThreeLanes);
    INFO("sluice said:\n" << run.said());
    REQUIRE_MESSAGE(run.status == 0, "a migrate with three lanes failed");
    CHECK_MESSAGE(says(run, "3 lanes read 12 of the plan's 12 ranges"), "the summary does not name the lanes");
    CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == clean_run().fingerprint,
                  "the table differs from one lane's");
    CHECK_MESSAGE(reject_ids(read_rejects(dir.file("r.jsonl"))) == clean_run().rejects, "the rejects differ");
    const Summary s = summary_of(run);
    CHECK_MESSAGE(s.written == clean_run().summary.written, "the summary's messages differ from one lane's");
    CHECK_MESSAGE(s.chats == clean_run().summary.chats, "the summary's chats differ from one lane's");

    // The ranges cover every id once: each starts where the one before ends, the first and the
    // last are open, and their chats add up to the chats the reader selects.
    const std::vector<std::string> plan =
        rows(db.sql(),
             "SELECT count(*), count(*) FILTER (WHERE lower_id IS NULL), count(*) FILTER (WHERE upper_id IS NULL),"
             " count(*) FILTER (WHERE NOT complete), sum(chats) FROM sluice_checkpoint");
    CHECK_MESSAGE(plan.at(0) == "12 1 1 0 " + std::to_string(s.chats),
                  "the plan is not 12 complete ranges: " << plan[0]);
    CHECK_MESSAGE(number(db.sql(),
                         "SELECT count(*) FROM sluice_checkpoint a JOIN sluice_checkpoint b"
                         " ON b.range_no = a.range_no + 1 WHERE b.lower_id IS DISTINCT FROM a.upper_id") == 0,
                  "a range does not start where the one before it ends");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM sluice_checkpoint WHERE chats = 0") == 0,
                  "a range of the plan holds no chat: the weights went wrong");
}

TEST_CASE("a run with lanes stopped part way resumes each range from its own checkpoint, with the same plan") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    // --max-rejects stops the run where it would pass the limit, with some ranges part done.
    Run stopped = migrate(db, dir.file("r.jsonl"), with(kThreeLanes, {"--max-rejects", "4"}));
    INFO("the stopped run said:\n" << stopped.said());
    REQUIRE_MESSAGE(stopped.status == 5, "the run did not stop at --max-rejects");
    const std::vector<std::string> plan = plan_of(db);
    REQUIRE_MESSAGE(plan.size() == 12, "the plan was not stored when the run started");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM sluice_checkpoint WHERE complete") < 12,
                  "every range completed although the run stopped");
    CHECK_MESSAGE(number(db.sql(), "SELECT sum(messages) FROM sluice_checkpoint") ==
                      number(db.sql(), "SELECT count(*) FROM sluice_chat_message"),
                  "the table holds rows no range's checkpoint covers");
    CHECK_MESSAGE(number(db.sql(), "SELECT sum(rejected) FROM sluice_checkpoint") <= 4,
                  "the lanes together passed the limit");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM sluice_reject") <= 4, "the rejects table passed the limit");

    Run resumed = migrate(db, dir.file("r.jsonl"), {"--lanes", "2"});
    INFO("the resumed run said:\n" << resumed.said());
    REQUIRE_MESSAGE(resumed.status == 0, "the resumed run failed");
    CHECK_MESSAGE(says(resumed, "complete (resumed)"), "the rerun did not resume");
    CHECK_MESSAGE(plan_of(db) == plan, "the resumed run made another plan");
    CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == clean_run().fingerprint,
                  "the table differs from a clean run's");
    CHECK_MESSAGE(reject_ids(read_rejects(dir.file("r.jsonl"))) == clean_run().rejects, "the rejects differ");
    CHECK_MESSAGE(number(db.sql(), "SELECT sum(rejected) FROM sluice_checkpoint") == clean_run().summary.rejected,
                  "the checkpoint counts a reject twice or not at all");
}

TEST_CASE("a plan of one range, made by one lane, is kept when the run resumes with more lanes") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    Run stopped = migrate(db, dir.file("r.jsonl"), {"--lanes", "1", "--batch-rows", "5", "--max-rejects", "2"});
    REQUIRE_MESSAGE(stopped.status == 5, "the run did not stop at --max-rejects: " << stopped.said());
    Run resumed = migrate(db, dir.file("r.jsonl"), {"--lanes", "4"});
    INFO("the resumed run said:\n" << resumed.said());
    REQUIRE_MESSAGE(resumed.status == 0, "the resumed run failed");
    CHECK_MESSAGE(says(resumed, "1 lane read 1 of the plan's 1 range"), "the resumed run did not keep the one range");
    CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == clean_run().fingerprint,
                  "the table differs from a clean run's");
}

TEST_CASE("a checkpoint of the earlier one-row layout is brought to ranges, and the run completes exactly") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    Run stopped = migrate(db, dir.file("r.jsonl"), {"--lanes", "1", "--batch-rows", "5", "--max-rejects", "2"});
    REQUIRE_MESSAGE(stopped.status == 5, "the run did not stop at --max-rejects: " << stopped.said());
    // As sluice before lanes left it: one row keyed on job, without ranges or a target.
    db.sql().exec(
        "ALTER TABLE sluice_checkpoint DROP CONSTRAINT sluice_checkpoint_pkey, DROP COLUMN range_no,"
        " DROP COLUMN lower_id, DROP COLUMN upper_id, DROP COLUMN planned_chats, DROP COLUMN target,"
        " ADD PRIMARY KEY (job)");
    REQUIRE(number(db.sql(), "SELECT count(*) FROM sluice_checkpoint") == 1);
    Run resumed = migrate(db, dir.file("r.jsonl"), {"--lanes", "3"});
    INFO("the run over the old layout said:\n" << resumed.said());
    REQUIRE_MESSAGE(resumed.status == 0, "the run over the old layout failed");
    CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == clean_run().fingerprint,
                  "the table differs from a clean run's");
    CHECK_MESSAGE(reject_ids(read_rejects(dir.file("r.jsonl"))) == clean_run().rejects, "the rejects differ");
    CHECK_MESSAGE(number(db.sql(), "SELECT count(*) FROM sluice_checkpoint WHERE NOT complete") == 0,
                  "the checkpoint is not complete");
}
