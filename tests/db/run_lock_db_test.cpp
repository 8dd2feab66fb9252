// The run lock against a real PostgreSQL: one holder per key and database, who holds it as
// pg_stat_activity knows it, waiting and stopping, and a lock lost with its backend and taken again.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "db_fixture.h"
#include "engine/run_lock.h"

using namespace sluice::testing;
using sluice::engine::LockHolder;
using sluice::engine::RunLock;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr const char* kKey = "sluice test run";
const std::atomic<bool> kNoStop{false};

// The backend pid of the one connection to `db` with this application_name, from
// pg_stat_activity: what the lock's own answer is checked against.
int lock_backend(TestDatabase& db, const std::string& application_name = "sluice lock") {  // one lock at a time
    std::vector<std::string> pids = rows(db.sql(),
                                         "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                                         " AND application_name = $1",
                                         {application_name});
    REQUIRE_MESSAGE(pids.size() == 1, "expected one '" << application_name << "' connection, found: " << joined(pids));
    return std::stoi(pids[0]);
}

// For messages: doctest -s evaluates them for passing checks too, when the optional may be empty.
std::string who(const std::optional<LockHolder>& holder) {
    return holder ? holder->describe() : "nobody";
}

// A backend ends a moment after its client closes: the lock goes with it, not with PQfinish.
bool nobody_holds_within(TestDatabase& db, const std::string& key, std::chrono::milliseconds limit) {
    for (Clock::time_point until = Clock::now() + limit; Clock::now() < until; std::this_thread::sleep_for(20ms))
        if (!RunLock::holder(db.sql(), key)) return true;
    return false;
}

}  // namespace

TEST_CASE("a second lock on the same key is refused and names the first lock's backend") {
    TestDatabase db;
    RunLock first(db.conninfo(), kKey);
    REQUIRE_MESSAGE(!first.try_acquire(), "the first lock on a fresh key was refused");
    const int first_pid = lock_backend(db);

    RunLock second(db.conninfo(), kKey);
    std::optional<LockHolder> refused = second.try_acquire();
    REQUIRE_MESSAGE(refused, "a second lock on a held key was granted");
    CHECK_MESSAGE(refused->pid == first_pid, "the refusal names another backend: " << who(refused));
    CHECK_MESSAGE(refused->application_name == "sluice lock", "the refusal names: " << who(refused));
    CHECK_MESSAGE(!refused->client_addr.empty(), "the refusal does not say where the holder connects from");
    CHECK_MESSAGE(refused->since.size() == 23, "backend_start is not 'YYYY-MM-DD HH:MM:SS UTC': " << refused->since);
    std::string line = refused->describe();
    CHECK_MESSAGE(line.find("pid " + std::to_string(first_pid) + " (sluice lock, ") == 0, line);
    CHECK_MESSAGE(line.find("connected since " + refused->since + ")") != std::string::npos, line);
    CHECK_MESSAGE(line.find('\n') == std::string::npos, "describe() is not one line: " << line);

    CHECK_MESSAGE(!first.try_acquire(), "the holder's own second try was refused");
    CHECK_MESSAGE(first.held(), "held() says the holder does not hold the lock");
    CHECK_MESSAGE(!second.held(), "held() says the refused lock holds it");
}

TEST_CASE("a lock on another key, or in another database, is independent") {
    TestDatabase db, other_db;
    RunLock first(db.conninfo(), kKey);
    REQUIRE_MESSAGE(!first.try_acquire(), "the first lock on a fresh key was refused");

    RunLock other_key(db.conninfo(), std::string(kKey) + " 2");
    std::optional<LockHolder> refused = other_key.try_acquire();
    CHECK_MESSAGE(!refused, "a lock on another key was refused by " << who(refused));
    std::optional<LockHolder> seen = RunLock::holder(other_db.sql(), kKey);
    CHECK_MESSAGE(!seen, "holder() in another database sees " << who(seen));
    RunLock other_database(other_db.conninfo(), kKey);
    refused = other_database.try_acquire();
    CHECK_MESSAGE(!refused, "the same key in another database was refused by " << who(refused));
}

TEST_CASE("holder() finds the lock whatever the sign of each half of its key's hash") {
    TestDatabase db;
    // classid takes the high 32 bits (the bigint's sign among them), objid the low 32 bits: one key
    // for each combination of their top bits, all held at once, each by a connection named for it.
    std::vector<std::unique_ptr<RunLock>> locks;
    for (const char* condition : {"h >= 0 AND h & 2147483648 = 0", "h >= 0 AND h & 2147483648 <> 0",
                                  "h < 0 AND h & 2147483648 = 0", "h < 0 AND h & 2147483648 <> 0"}) {
        std::string key = scalar(db.sql(),
                                 "SELECT s FROM (SELECT 'key ' || i AS s, hashtextextended('key ' || i, 0) AS h"
                                 " FROM generate_series(1, 1000) i) t WHERE " +
                                     std::string(condition) + " ORDER BY s LIMIT 1");
        REQUIRE_MESSAGE(!key.empty(), "no key among 1000 whose hash has " << condition);
        // Every lock's session is "sluice lock": the new one is the backend that was not there before.
        const std::string lock_pids =
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = 'sluice lock' ORDER BY pid";
        const std::vector<std::string> before = rows(db.sql(), lock_pids);
        locks.push_back(std::make_unique<RunLock>(db.conninfo(), key));
        std::vector<std::string> added;
        for (const std::string& pid : rows(db.sql(), lock_pids))
            if (std::find(before.begin(), before.end(), pid) == before.end()) added.push_back(pid);
        REQUIRE_MESSAGE(added.size() == 1, "not one new lock session: " << joined(added));
        REQUIRE_MESSAGE(!locks.back()->try_acquire(), "the lock on '" << key << "' was refused");
        std::optional<LockHolder> seen = RunLock::holder(db.sql(), key);
        REQUIRE_MESSAGE(seen, "holder() does not see the lock on a key whose hash has " << condition);
        CHECK_MESSAGE(seen->pid == std::stoi(added[0]), "holder() names " << who(seen) << " for " << key);
        CHECK_MESSAGE(locks.back()->held(), "held() does not see the lock on a key whose hash has " << condition);
        RunLock second(db.conninfo(), key);
        std::optional<LockHolder> refused = second.try_acquire();
        CHECK_MESSAGE((refused && refused->pid == seen->pid),
                      "a second lock on a key whose hash has " << condition << " was not refused by its holder");
    }
}

TEST_CASE("holder() sees a plain bigint advisory lock on the key's hash and not the two-int lock on its halves") {
    TestDatabase db;
    const auto hash = static_cast<std::uint64_t>(number(db.sql(), "SELECT hashtextextended($1, 0)", {kKey}));
    const std::string high = std::to_string(static_cast<std::int32_t>(hash >> 32));
    const std::string low = std::to_string(static_cast<std::int32_t>(hash & 0xffffffffu));

    {
        Connection other(db.conninfo(), "two-int");
        // Same classid and objid as the key's lock; only objsubid (2, not 1) tells them apart.
        other.exec("SELECT pg_advisory_lock($1::int, $2::int)", {high, low});
        std::optional<LockHolder> seen = RunLock::holder(db.sql(), kKey);
        CHECK_MESSAGE(!seen, "the two-int lock on the hash's halves was taken for the key's: " << who(seen));
        RunLock lock(db.conninfo(), kKey);
        CHECK_MESSAGE(!lock.try_acquire(), "the two-int lock on the hash's halves blocked the key's lock");
    }

    Connection plain(db.conninfo(), "plain");
    plain.exec("SELECT pg_advisory_lock(hashtextextended($1, 0))", {kKey});
    const int plain_pid = static_cast<int>(number(plain, "SELECT pg_backend_pid()"));
    std::optional<LockHolder> seen = RunLock::holder(db.sql(), kKey);
    REQUIRE_MESSAGE(seen, "holder() does not see pg_advisory_lock(hashtextextended(key, 0))");
    CHECK_MESSAGE(seen->pid == plain_pid, "holder() names " << who(seen) << ", not pid " << plain_pid);
    CHECK_MESSAGE(seen->application_name == "sluice plain", "holder() names " << who(seen));
    RunLock lock(db.conninfo(), kKey);
    CHECK_MESSAGE(lock.try_acquire(), "a lock was granted while pg_advisory_lock held the key's hash");
}

TEST_CASE("the lock is released when its holder is destroyed, and then another lock takes it") {
    TestDatabase db;
    auto first = std::make_unique<RunLock>(db.conninfo(), kKey);
    REQUIRE_MESSAGE(!first->try_acquire(), "the first lock on a fresh key was refused");
    RunLock second(db.conninfo(), kKey);
    REQUIRE_MESSAGE(second.try_acquire(), "a second lock on a held key was granted");

    first.reset();
    // The backend ends a moment after the client closes: acquire's polling covers that moment.
    std::optional<LockHolder> still = second.acquire(5s, kNoStop, {});
    CHECK_MESSAGE(!still, "the lock was still held after its holder was destroyed: " << who(still));
    CHECK_MESSAGE(second.held(), "held() says the lock taken after the release is not held");
}

TEST_CASE("acquire waits for the holder to let go of the lock and then takes it") {
    TestDatabase db;
    auto first = std::make_unique<RunLock>(db.conninfo(), kKey);
    REQUIRE_MESSAGE(!first->try_acquire(), "the first lock on a fresh key was refused");
    RunLock second(db.conninfo(), kKey);

    const Clock::time_point start = Clock::now();
    std::thread releaser([&first] {
        std::this_thread::sleep_for(700ms);
        first.reset();
    });
    std::optional<LockHolder> still = second.acquire(20s, kNoStop, {});
    const auto waited = Clock::now() - start;
    releaser.join();
    CHECK_MESSAGE(!still, "acquire gave up while the holder let go: " << who(still));
    CHECK_MESSAGE(waited >= 700ms, "acquire took the lock before the holder let go of it");
    CHECK_MESSAGE(waited < 10s, "acquire took " << std::chrono::duration<double>(waited).count()
                                                << " s to notice a release after 0.7 s");
    CHECK_MESSAGE(second.held(), "held() says the lock acquire took is not held");
}

TEST_CASE("acquire stops waiting for the lock well under a second after stop is set") {
    TestDatabase db;
    RunLock first(db.conninfo(), kKey);
    REQUIRE_MESSAGE(!first.try_acquire(), "the first lock on a fresh key was refused");
    const int first_pid = lock_backend(db);
    RunLock second(db.conninfo(), kKey);

    std::atomic<bool> stop{false};
    Clock::time_point stopped_at;
    std::thread stopper([&] {
        // Between the polls at about 1.0 s and 1.5 s: a stop seen only at the next poll comes 0.4 s late.
        std::this_thread::sleep_for(1100ms);
        stopped_at = Clock::now();
        stop = true;
    });
    std::optional<LockHolder> held_by = second.acquire(60s, stop, {});
    const Clock::time_point returned_at = Clock::now();
    stopper.join();
    REQUIRE_MESSAGE(held_by, "acquire took a lock that another holds");
    CHECK_MESSAGE(held_by->pid == first_pid, "acquire returned " << who(held_by));
    CHECK_MESSAGE(returned_at - stopped_at < 250ms,
                  "acquire returned " << std::chrono::duration<double>(returned_at - stopped_at).count()
                                      << " s after stop was set");
    CHECK_MESSAGE(!second.held(), "a stopped acquire holds the lock");
}

TEST_CASE("acquire tells the waiting callback who holds the lock, and gives up after its wait") {
    TestDatabase db;
    RunLock first(db.conninfo(), kKey);
    REQUIRE_MESSAGE(!first.try_acquire(), "the first lock on a fresh key was refused");
    const int first_pid = lock_backend(db);
    RunLock second(db.conninfo(), kKey);

    std::vector<LockHolder> told;
    auto waiting = [&told](const LockHolder& h) { told.push_back(h); };
    const Clock::time_point start = Clock::now();
    std::optional<LockHolder> held_by = second.acquire(1500ms, kNoStop, waiting);
    const auto waited = Clock::now() - start;
    REQUIRE_MESSAGE(held_by, "acquire took a lock that another holds");
    CHECK_MESSAGE(held_by->pid == first_pid, "acquire returned " << who(held_by));
    CHECK_MESSAGE(waited >= 1500ms, "acquire gave up before its wait had passed");
    CHECK_MESSAGE(waited < 5s, "acquire waited " << std::chrono::duration<double>(waited).count() << " s of 1.5 s");
    REQUIRE_MESSAGE(told.size() == 1, "the callback was called " << told.size() << " times in 1.5 s, not once");
    CHECK_MESSAGE(told[0].pid == first_pid, "the callback was told " << told[0].describe());

    told.clear();
    CHECK_MESSAGE(second.acquire(0ms, kNoStop, waiting), "acquire with no wait took a held lock");
    CHECK_MESSAGE(told.empty(), "acquire with no wait called the waiting callback");
}

TEST_CASE("holder() sees the lock from a third connection and is empty when nobody holds it") {
    TestDatabase db;
    std::optional<LockHolder> before = RunLock::holder(db.sql(), kKey);
    CHECK_MESSAGE(!before, "holder() names a holder of an untaken lock: " << who(before));

    auto lock = std::make_unique<RunLock>(db.conninfo(), kKey);
    REQUIRE_MESSAGE(!lock->try_acquire(), "the first lock on a fresh key was refused");
    std::optional<LockHolder> during = RunLock::holder(db.sql(), kKey);
    REQUIRE_MESSAGE(during, "holder() does not see a held lock");
    CHECK_MESSAGE(during->pid == lock_backend(db), "holder() names " << who(during));
    CHECK_MESSAGE(during->application_name == "sluice lock", "holder() names " << who(during));
    CHECK_MESSAGE(!RunLock::holder(db.sql(), std::string(kKey) + " 2"), "holder() sees a lock on another key");

    lock.reset();
    CHECK_MESSAGE(nobody_holds_within(db, kKey, 5s), "holder() still sees the lock after its holder was destroyed");
}

TEST_CASE("held() turns false when the lock's backend is terminated, and reacquire() takes the lock again") {
    TestDatabase db;
    RunLock lock(db.conninfo(), kKey);
    REQUIRE_MESSAGE(!lock.try_acquire(), "the first lock on a fresh key was refused");
    REQUIRE_MESSAGE(lock.held(), "held() says a fresh lock is not held");
    const int old_pid = lock_backend(db);

    // With a timeout, pg_terminate_backend returns once the backend has gone (PostgreSQL 14+).
    REQUIRE_MESSAGE(scalar(db.sql(), "SELECT pg_terminate_backend($1::int, 5000)", {std::to_string(old_pid)}) == "t",
                    "the lock's backend did not end within 5 s");
    CHECK_MESSAGE(!lock.held(), "held() says a lock whose backend was terminated is held");
    std::optional<LockHolder> gone = RunLock::holder(db.sql(), kKey);
    CHECK_MESSAGE(!gone, "the lock outlived its backend: " << who(gone));

    std::optional<LockHolder> refused = lock.reacquire();
    CHECK_MESSAGE(!refused, "reacquire() was refused by " << who(refused));
    CHECK_MESSAGE(lock.held(), "held() says the reacquired lock is not held");
    const int new_pid = lock_backend(db);
    CHECK_MESSAGE(new_pid != old_pid, "reacquire() did not connect again");
    std::optional<LockHolder> now = RunLock::holder(db.sql(), kKey);
    CHECK_MESSAGE((now && now->pid == new_pid), "holder() does not name the reacquired lock's backend");
}

TEST_CASE("reacquire() after the lock was lost names whoever took the lock meanwhile") {
    TestDatabase db;
    RunLock lock(db.conninfo(), kKey);
    REQUIRE_MESSAGE(!lock.try_acquire(), "the first lock on a fresh key was refused");
    const int old_pid = lock_backend(db);
    REQUIRE_MESSAGE(scalar(db.sql(), "SELECT pg_terminate_backend($1::int, 5000)", {std::to_string(old_pid)}) == "t",
                    "the lock's backend did not end within 5 s");

    RunLock usurper(db.conninfo(), kKey);
    REQUIRE_MESSAGE(!usurper.try_acquire(), "the lock was still held after its backend was terminated");
    const int usurper_pid = lock_backend(db);
    std::optional<LockHolder> refused = lock.reacquire();
    REQUIRE_MESSAGE(refused, "reacquire() took a lock that another holds");
    CHECK_MESSAGE(refused->pid == usurper_pid, "reacquire() names " << who(refused));
    CHECK_MESSAGE(!lock.held(), "held() says a refused reacquire() holds the lock");
}
