// The operator's view of `sluice migrate` on a real PostgreSQL: it runs the checks of `sluice
// check` first and refuses to start when one fails; it says what it is about to change; log mode
// stamps every line and beats at least every 10 seconds; --log-file, -q, -v and --summary-json;
// errors in plain words, the connection's label kept for the log file; exports to devices, FIFOs
// and symlinks.
#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/db/db_fixture.h"
#include "tests/lib/wrapped_text.h"

using namespace sluice::testing;

namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) lines.push_back(line);
    return lines;
}

long long sluice_relations(TestDatabase& db) {
    return number(db.sql(), "SELECT count(*) FROM pg_class WHERE relname LIKE 'sluice%' OR relname = 'chat_message'");
}

rapidjson::Document json_of(const std::string& path) {
    const std::string text = slurp(path);
    rapidjson::Document d;
    d.Parse(text.c_str(), text.size());
    REQUIRE_MESSAGE((!d.HasParseError() && d.IsObject()), "not a JSON object: " << text);
    return d;
}

// "2026-01-31 12:00:00" at the start of a line: seconds since midnight, or -1.
int seconds_of(const std::string& line) {
    static const std::regex stamp(R"(^\d{4}-\d\d-\d\d (\d\d):(\d\d):(\d\d) )");
    std::smatch m;
    if (!std::regex_search(line, m, stamp)) return -1;
    return std::stoi(m[1]) * 3600 + std::stoi(m[2]) * 60 + std::stoi(m[3]);
}

// migrate in log mode (the fixture's migrate() turns progress off).
Run migrate_in_log_mode(const TestDatabase& db, const std::string& reject_file, const std::vector<std::string>& more) {
    std::vector<std::string> args{"migrate", "--db", db.conninfo(), "--progress", "log", "--reject-file", reject_file};
    args.insert(args.end(), more.begin(), more.end());
    return run_sluice(args);
}

}  // namespace

TEST_CASE(
    "migrate refuses to start while a session that looks like Open WebUI's is connected; --ignore-sessions runs") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    Connection app(db.conninfo(), "app");
    app.exec("SET application_name = ''");  // psycopg2, as Open WebUI uses it, sets none
    const std::string pid = scalar(app, "SELECT pg_backend_pid()");

    Run refused = migrate(db, dir.file("r.jsonl"), {"--summary-json", dir.file("refused.json")});
    INFO("the refused migrate said:\n" << refused.said());
    CHECK_MESSAGE(refused.status == 4, "migrate started beside the app");
    REQUIRE_MESSAGE(refused.error_lines().size() == 1, "the refusal is not one line");
    const std::string line = refused.error_lines()[0];
    CHECK_MESSAGE(contains(line, "not starting, nothing was written"), line);
    CHECK_MESSAGE(contains(line, "sessions: 1 session looks like Open WebUI's: pid " + pid), line);
    CHECK_MESSAGE(contains(line, "--ignore-sessions"), "the line does not say how to go on: " << line);
    CHECK_MESSAGE(sluice_relations(db) == 0, "migrate wrote before refusing");
    const rapidjson::Document summary = json_of(dir.file("refused.json"));
    CHECK(summary["exit_status"].GetInt() == 4);
    CHECK(std::string(summary["outcome"].GetString()) == "refused");
    CHECK_MESSAGE(contains(summary["error"].GetString(), "sessions"), summary["error"].GetString());
    CHECK_MESSAGE(summary["phases"].Size() == 0, "a refused run ran phases");

    Run ignored = migrate(db, dir.file("r.jsonl"), {"--ignore-sessions"});
    INFO("with --ignore-sessions:\n" << ignored.said());
    CHECK_MESSAGE(ignored.status == 0, "--ignore-sessions did not let migrate run");
    CHECK_MESSAGE(says(ignored, "  sessions     WARNING: 1 session looks like Open WebUI's"),
                  "the banner does not show the warning");
    CHECK_MESSAGE(!scalar(db.sql(), "SELECT to_regclass('chat_message')").empty(), "chat_message was not published");
    CHECK_MESSAGE(table_fingerprint(db.sql(), "public") == clean_run().fingerprint,
                  "the table differs from a clean run's");
}

TEST_CASE(
    "migrate starts by saying what it will change: where, as whom, the server, the chats, phases, threads, rejects") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    const std::string dbname = scalar(db.sql(), "SELECT current_database()");
    const std::string port = scalar(db.sql(), "SELECT current_setting('port')");
    const long long chats = number(db.sql(), "SELECT count(*) FROM chat");
    const long long shared = number(db.sql(), "SELECT count(*) FROM chat WHERE user_id LIKE 'shared-%'");
    Run run = migrate(db, dir.file("r.jsonl"), {"--parse-threads", "2", "--lanes", "2", "--index-connections", "3"});
    INFO("sluice said:\n" << run.said());
    REQUIRE(run.status == 0);
    const std::vector<std::string> lines = lines_of(run.out);
    REQUIRE(lines.size() > 6);
    CHECK_MESSAGE(lines[0].rfind("sluice migrate: about to change database \"" + dbname + "\" on ", 0) == 0, lines[0]);
    CHECK_MESSAGE(contains(lines[0], " port " + port), lines[0]);
    CHECK_MESSAGE(lines[1] == "  as user      \"postgres\", schema \"public\"", lines[1]);
    CHECK_MESSAGE(lines[2].rfind("  server       PostgreSQL ", 0) == 0, lines[2]);
    CHECK_MESSAGE(contains(lines[3], "\"public\".\"chat\": " + std::to_string(chats) + " chats"), lines[3]);
    CHECK_MESSAGE(contains(lines[4], "left out     by design: " + std::to_string(shared) + " shared-link copies"),
                  lines[4]);
    CHECK_MESSAGE(contains(run.out, "  phases       1 schema, 2 backfill, 3 indexes, 4 constraints, 5 publish\n"),
                  "no line of phases");
    CHECK_MESSAGE(contains(run.out, "  threads      2 parse threads, 2 lanes (each a reader and a writer), 3 index"),
                  "no line of threads");
    CHECK_MESSAGE((contains(run.out, "table \"public\".\"sluice_reject\", exported to") &&
                   contains(run.out, dir.file("r.jsonl"))),
                  "no line of where the rejects go");
    CHECK_MESSAGE(contains(run.out, "left out by design: " + std::to_string(shared) + " shared-link chats"),
                  "the summary does not count the shared chats");
}

TEST_CASE("one lane's plan counts the chats the reader selects (shared copies and chats without a user left out)") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    db.sql().exec("INSERT INTO chat (id, user_id, chat) SELECT id || '-no-user', NULL, chat FROM chat LIMIT 3");
    const long long selected = number(db.sql(), "SELECT count(*) FROM chat WHERE NOT (user_id LIKE 'shared-%')");
    REQUIRE(number(db.sql(), "SELECT count(*) FROM chat WHERE user_id IS NULL") >= 3);
    REQUIRE(number(db.sql(), "SELECT count(*) FROM chat WHERE user_id LIKE 'shared-%'") > 0);
    Run run = migrate(db, dir.file("r.jsonl"), {"--lanes", "1", "--phases", "schema,backfill"});
    INFO("sluice said:\n" << run.said());
    REQUIRE(run.status == 0);
    CHECK(number(db.sql(), "SELECT sum(planned_chats) FROM sluice_checkpoint") == selected);
    CHECK(number(db.sql(), "SELECT sum(chats) FROM sluice_checkpoint") == selected);
}

TEST_CASE("a one-lane backfill opens six sessions: the lock's, a pooler probe, the checks', control, reader, writer") {
    // Each costs the server a fork and a start, some 10 ms of a run's serial start on 2 cores: the
    // "already done" check and the first pooler probe ride on the lock's connection.
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    const std::string opened = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()";
    const long long before = number(db.sql(), opened);
    Run run = migrate(db, dir.file("r.jsonl"), {"--lanes", "1", "--phases", "schema,backfill"});
    INFO("sluice said:\n" << run.said());
    REQUIRE(run.status == 0);
    // A session is surely counted once its backend has ended: wait for sluice's to be gone.
    REQUIRE(wait_until([&] {
        return number(db.sql(),
                      "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND"
                      " backend_type = 'client backend' AND pid <> pg_backend_pid()") == 0;
    }));
    CHECK(number(db.sql(), opened) - before == 6);
}

TEST_CASE("the banner names the user and never the password, even when migrate then refuses") {
    TestDatabase db;
    load_corpus(db);
    db.sql().exec("DROP ROLE IF EXISTS sluice_banner");
    db.sql().exec("CREATE ROLE sluice_banner LOGIN PASSWORD 'b4nner-s3cret-77'");
    HbaLine scram("host all sluice_banner 127.0.0.1/32 scram-sha-256");
    TempDir tmp;
    Run run = run_sluice({"migrate", "--db", db.conninfo() + " user=sluice_banner password=b4nner-s3cret-77",
                          "--progress", "none", "--reject-file", tmp.file("r.jsonl")});
    CHECK_MESSAGE(run.status == 4, "a user without privileges was not refused: " << run.said());
    CHECK_MESSAGE(says(run, "  as user      \"sluice_banner\", schema"), run.said());
    CHECK_MESSAGE(!contains(run.said(), "b4nner-s3cret-77"), "the password was printed");
    db.sql().exec("DROP OWNED BY sluice_banner");
    db.sql().exec("DROP ROLE sluice_banner");
}

TEST_CASE("--summary-json holds the human summary's figures, phase by phase, and the exit status") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    Run run = migrate(db, dir.file("r.jsonl"), {"--summary-json", dir.file("s.json")});
    INFO("sluice said:\n" << run.said());
    REQUIRE(run.status == 0);
    const Summary human = summary_of(run);
    const rapidjson::Document d = json_of(dir.file("s.json"));
    CHECK(d["exit_status"].GetInt() == 0);
    CHECK(std::string(d["outcome"].GetString()) == "done");
    CHECK(d["error"].IsNull());
    REQUIRE(d["phases"].Size() == 5);
    const char* names[] = {"schema", "backfill", "indexes", "constraints", "publish"};
    for (rapidjson::SizeType i = 0; i < 5; ++i) {
        CHECK(std::string(d["phases"][i]["name"].GetString()) == names[i]);
        CHECK(d["phases"][i]["seconds"].GetDouble() >= 0);
    }
    const rapidjson::Value& b = d["backfill"];
    CHECK(static_cast<long long>(b["chats_read"].GetUint64()) == human.chats);
    CHECK(static_cast<long long>(b["messages_written"].GetUint64()) == human.written);
    CHECK(static_cast<long long>(b["already_present"].GetUint64()) == human.present);
    CHECK(static_cast<long long>(b["rejected"].GetUint64()) == human.rejected);
    CHECK(static_cast<long long>(b["shared_chats_left_out"].GetUint64()) ==
          number(db.sql(), "SELECT count(*) FROM chat WHERE user_id LIKE 'shared-%'"));
    CHECK(b["this_run"]["chats"].GetUint64() == b["chats_read"].GetUint64());
    CHECK(d["rejects_exported"].GetUint64() == b["rejected"].GetUint64());
    CHECK(d["peak_memory_bytes"].GetUint64() > (1u << 20));
}

TEST_CASE("exports to a null device, a FIFO and symlinks leave each what it was and reach the file meant") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    namespace fs = std::filesystem;
    // As root, a null device of our own: the host's /dev/null is never put at risk. Without root
    // /dev/null itself, which the old code could not replace either (its directory is not writable).
    std::string null = "/dev/null";
    if (geteuid() == 0) {
        null = dir.file("null");
        REQUIRE(::mknod(null.c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);
    }
    auto char_device = [](const std::string& path) {
        struct stat st {};
        return ::lstat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
    };
    const std::string summary = dir.file("summary-link.json"), summary_target = dir.file("summary.json");
    fs::create_symlink(summary_target, summary);
    Run run = migrate(db, null, {"--summary-json", summary});
    INFO("migrate said:\n" << run.said());
    REQUIRE(run.status == 0);
    CHECK_MESSAGE(char_device(null), "the reject file replaced the null device " << null << " with a file");
    CHECK_MESSAGE(fs::is_symlink(summary), "--summary-json replaced the symlink with a file");
    CHECK_MESSAGE(json_of(summary_target)["exit_status"].GetInt() == 0, "the symlink's target did not get the summary");

    const std::string fifo = dir.file("rejects.pipe");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    // The reader opens first, without blocking, and reads until sluice has ended and the pipe is
    // empty: a FIFO that sluice replaced leaves it with nothing rather than waiting forever.
    const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
    REQUIRE(reader >= 0);
    std::atomic<bool> ended{false};
    auto read_back = std::async(std::launch::async, [&] {
        std::string got;
        char buf[4096];
        for (;;) {
            const bool last = ended.load();
            const ssize_t n = ::read(reader, buf, sizeof buf);
            if (n > 0)
                got.append(buf, static_cast<std::size_t>(n));
            else if (last)
                return got;
            else
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    });
    Run exported = run_sluice({"rejects", "--db", db.conninfo(), "--output", fifo});
    ended = true;
    const std::string got = read_back.get();
    ::close(reader);
    REQUIRE_MESSAGE(exported.status == 0, exported.said());
    CHECK_MESSAGE(lines_of(got).size() == static_cast<std::size_t>(summary_of(run).rejected),
                  "the FIFO's reader did not get every reject");
    CHECK_MESSAGE(fs::is_fifo(fifo), "sluice rejects --output replaced the FIFO");

    const std::string kept = dir.file("kept-link.jsonl"), kept_target = dir.file("kept.jsonl");
    fs::create_symlink(kept_target, kept);
    Run cleanup = run_sluice({"cleanup", "--db", db.conninfo(), "--reject-file", kept});
    REQUIRE_MESSAGE(cleanup.status == 0, cleanup.said());
    CHECK_MESSAGE(fs::is_symlink(kept), "cleanup's reject export replaced the symlink");
    CHECK_MESSAGE(read_rejects(kept_target).size() == static_cast<std::size_t>(summary_of(run).rejected),
                  "the symlink's target did not get cleanup's export");
}

TEST_CASE("log mode stamps every line with the time and says when each phase starts and ends; -q keeps the verdict") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    Run run = migrate_in_log_mode(db, dir.file("r.jsonl"), {"--log-file", dir.file("run.log")});
    INFO("sluice said:\n" << run.said());
    REQUIRE(run.status == 0);
    for (const std::string& line : lines_of(run.out + run.err))
        CHECK_MESSAGE(seconds_of(line) >= 0, "a line without its time: " << line);
    for (const std::string phase : {"1/5 schema", "2/5 backfill", "3/5 indexes", "4/5 constraints", "5/5 publish"}) {
        CHECK_MESSAGE(contains(run.err, " phase " + phase + ": started\n"), phase << " has no start line");
        CHECK_MESSAGE(contains(run.err, " phase " + phase + ": done in "), phase << " has no end line");
    }
    const std::string log = slurp(dir.file("run.log"));
    CHECK_MESSAGE(contains(log, "[info] phase 2/5 backfill: started"), "the log file lacks the phases");
    CHECK_MESSAGE(contains(log, "[info]   backfill "), "the log file lacks the summary");
    CHECK_MESSAGE(contains(log, "[debug] check:   sessions"), "the log file lacks the checks");
    CHECK_MESSAGE(contains(log, "[info] sluice migrate: done in"), "the log file lacks the verdict");

    // --resync: a run with work to do (without it, the database is already migrated: one line too).
    Run quiet = migrate(db, dir.file("r.jsonl"), {"-q", "--resync"});
    CHECK_MESSAGE(quiet.status == 0, quiet.said());
    CHECK_MESSAGE(lines_of(quiet.out).size() == 1, "-q printed more than the verdict: " << quiet.said());
    CHECK_MESSAGE(quiet.out.rfind("sluice migrate: done in ", 0) == 0, quiet.said());
    for (const std::string& line : lines_of(quiet.err))  // the rejects' warning, which -q never hides
        CHECK_MESSAGE(line.rfind("sluice: warning: ", 0) == 0, "-q printed more than warnings: " << quiet.said());
    Run done = migrate(db, dir.file("r.jsonl"), {"-q"});
    CHECK_MESSAGE(done.status == 0, done.said());
    CHECK_MESSAGE(lines_of(done.out).size() == 1, "-q printed more than the verdict: " << done.said());
    CHECK_MESSAGE(done.out.rfind("sluice migrate: already migrated (", 0) == 0, done.said());
}

TEST_CASE("in log mode a phase that waits still beats at least every 10 seconds, and the wait is named") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    REQUIRE(migrate(db, dir.file("r.jsonl"), {"--phases", "schema"}).status == 0);
    // Another tool's session (a sluice-named one would be ended as an earlier run's leftover).
    Connection other(db.conninfo(), "other");
    other.exec("SET application_name = 'psql'");
    other.exec("BEGIN");
    other.exec("LOCK TABLE sluice_chat_message IN ACCESS EXCLUSIVE MODE");
    auto running = std::async(std::launch::async, [&] {
        return migrate_in_log_mode(db, dir.file("r.jsonl"), {"--phases", "backfill"});
    });
    std::this_thread::sleep_for(std::chrono::seconds(13));
    other.exec("ROLLBACK");
    Run run = running.get();
    INFO("sluice said:\n" << run.said());
    REQUIRE(run.status == 0);
    int last = -1, beats = 0;
    for (const std::string& line : lines_of(run.err)) {
        const int at = seconds_of(line);
        REQUIRE_MESSAGE(at >= 0, "a line without its time: " << line);
        if (last >= 0) CHECK_MESSAGE(at - last <= 10, "no line for " << at - last << " s before: " << line);
        last = at;
        if (contains(line, "phase 1/1 backfill: ") && contains(line, " in)")) ++beats;
    }
    CHECK_MESSAGE(beats >= 2, "fewer than two heartbeats in a 13 s wait");
    CHECK_MESSAGE(contains(run.err, "for a lock held by pid"), "the lock wait was not named");
}

TEST_CASE("an error is one plain line, without the connection's label; the log file and -v keep the detail") {
    TempDir dir;
    const std::string url = "postgresql://postgres@127.0.0.1:1/none?connect_timeout=5";
    Run plain = run_sluice({"migrate", "--db", url, "--progress", "none", "--reject-file", dir.file("r.jsonl"),
                            "--log-file", dir.file("run.log")});
    INFO("sluice said:\n" << plain.said());
    CHECK(plain.status == 3);
    REQUIRE(plain.error_lines().size() == 1);
    CHECK_MESSAGE(plain.error_lines()[0].rfind("sluice: cannot connect: ", 0) == 0,
                  "an internal label before the message: " << plain.error_lines()[0]);
    const std::string log = slurp(dir.file("run.log"));
    CHECK_MESSAGE(contains(log, "[error] cannot connect: "), log);
    // the first connection a migrate opens is its lock's, which also asks whether anything is left to write
    CHECK_MESSAGE(contains(log, "[error] lock: cannot connect: "), "the log file lacks the connection: " << log);
    CHECK_MESSAGE(contains(log, "(SQLSTATE 08001)"), log);

    Run verbose =
        run_sluice({"migrate", "--db", url, "--progress", "none", "--reject-file", dir.file("r.jsonl"), "-v"});
    CHECK_MESSAGE(verbose.error_lines().size() == 2, "-v did not add the detail line: " << verbose.said());
    CHECK_MESSAGE(contains(verbose.err, "sluice: lock: cannot connect: "), verbose.said());
}

namespace {

// A chat whose one message PostgreSQL cannot store (an object as role): a reject in every run.
void add_a_reject(TestDatabase& db) {
    insert_chat(db, "reject-me", chat_of({{"m1", message(R"({"not": "a role"})", R"("hi")")}}));
}

}  // namespace

TEST_CASE(
    "-q keeps the rejects' warning; the log file has it at level warning; the verdict and the JSON's top level "
    "count the rejects") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    add_a_reject(db);
    Run run = migrate(db, dir.file("r.jsonl"),
                      {"-q", "--log-file", dir.file("run.log"), "--summary-json", dir.file("s.json")});
    INFO("sluice said:\n" << run.said());
    REQUIRE(run.status == 0);
    const long long rejected = number(db.sql(), "SELECT count(*) FROM sluice_reject");
    REQUIRE(rejected > 0);
    const std::string count = std::to_string(rejected) + (rejected == 1 ? " message" : " messages");
    CHECK_MESSAGE(contains(run.err, "sluice: warning: " + count + (rejected == 1 ? " was" : " were") + " not stored"),
                  "-q hid the rejects' warning");
    CHECK_MESSAGE(lines_of(run.out).size() == 1, "-q printed more than the verdict on stdout");
    CHECK_MESSAGE(contains(run.out, "sluice migrate: done in "), run.out);
    CHECK_MESSAGE(contains(run.out, "; " + count + " rejected, kept in table \"public\".\"sluice_reject\""),
                  "the verdict does not count the rejects: " << run.out);

    const std::string log = slurp(dir.file("run.log"));
    CHECK_MESSAGE(contains(log, "[warning] " + count), "the log file lacks the warning at level warning:\n" << log);
    CHECK_MESSAGE(!contains(log, "[info]     WARNING"), "the log file has the warning at level info:\n" << log);

    const rapidjson::Document d = json_of(dir.file("s.json"));
    REQUIRE_MESSAGE(d.HasMember("rejected"), "no top-level rejected");
    CHECK(d["rejected"].GetUint64() == static_cast<std::uint64_t>(rejected));
    REQUIRE_MESSAGE((d.HasMember("warnings") && d["warnings"].IsArray()), "no top-level warnings list");
    bool listed = false;
    for (const auto& w : d["warnings"].GetArray())
        listed = listed || contains(w.GetString(), count);
    CHECK_MESSAGE(listed, "the warnings list lacks the rejects");

    // Without -q the warning stands in the summary, on stdout, as before.
    Run again = migrate(db, dir.file("r.jsonl"), {"--resync"});
    CHECK_MESSAGE(contains(again.out, "    WARNING: " + count), again.said());
}

TEST_CASE("a check's warning is kept by -q, in migrate's banner and in check, and logged at level warning") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    Connection app(db.conninfo(), "app");  // looks like Open WebUI: no application_name, the same user
    app.exec("SET application_name = ''");
    Run checked = run_sluice({"check", "--db", db.conninfo(), "--ignore-sessions", "-q", "--reject-file",
                              dir.file("r.jsonl"), "--log-file", dir.file("check.log")});
    INFO("check said:\n" << checked.said());
    CHECK(checked.status == 0);
    CHECK_MESSAGE(contains(checked.err, "sluice: warning: sessions: "), "-q hid check's warning");
    CHECK_MESSAGE(contains(slurp(dir.file("check.log")), "[warning] sessions: "), "not at level warning");
    Run run = migrate(db, dir.file("r.jsonl"), {"--ignore-sessions", "-q"});
    INFO("migrate said:\n" << run.said());
    CHECK(run.status == 0);
    CHECK_MESSAGE(contains(run.err, "sluice: warning: sessions: "), "-q hid the banner's warning");
}

TEST_CASE("on a narrow terminal the banner, the summary and --help break their lines at spaces, never inside a word") {
    TestDatabase db;
    TempDir dir;
    load_corpus(db);
    add_a_reject(db);
    REQUIRE(migrate(db, dir.file("r.jsonl")).status == 0);  // then each --resync below says the same
    for (const std::size_t width : {60, 45}) {
        const std::vector<std::string> narrow{"COLUMNS=" + std::to_string(width)};
        Run run = migrate(db, dir.file("r.jsonl"), {"--resync"}, narrow);
        INFO("at " << width << " columns sluice said:\n" << run.said());
        REQUIRE(run.status == 0);
        CHECK_MESSAGE(too_wide(run.out, width).empty(), "a line a terminal would cut: " << too_wide(run.out, width)[0]);
        const Run wide = migrate(db, dir.file("r.jsonl"), {"--resync"});
        CHECK_MESSAGE(words_of(run.out).size() == words_of(wide.out).size(), "words were cut or lost");
        for (const char* command : {"migrate", "check"}) {
            Run help = run_sluice({command, "--help"}, narrow);
            CHECK_MESSAGE(too_wide(help.out, width).empty(), command << " --help: " << too_wide(help.out, width)[0]);
            CHECK_MESSAGE(words_of(help.out) == words_of(run_sluice({command, "--help"}).out),
                          command << " --help lost or cut a word at " << width << " columns");
        }
    }
}
