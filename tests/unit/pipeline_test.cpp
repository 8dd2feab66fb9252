// The flow graph without a database: lanes of counting readers, a transform that marks what it
// saw, writers that record. Order per lane, end of stream, the first error, draining, stopping.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine/budget.h"
#include "engine/pipeline.h"

using sluice::engine::BatchKind;
using sluice::engine::InflightBudget;

namespace {

// Batches alive, and budget taken and given back, across a run: what must balance at its end.
struct Ledger {
    std::atomic<int> alive{0};
    std::atomic<int> taken{0};
    std::atomic<int> given_back{0};
    std::atomic<int> dropped{0};  // freed without a commit: drained after a failure
};

struct TestBatch {
    BatchKind kind = BatchKind::data;
    std::uint64_t seq = 0;
    int value = 0;  // the reader's count of data batches in its lane
    bool transformed = false;
    bool interrupted = false;  // an end sent because the run was asked to stop
    bool in_budget = false;    // holds a place in the budget until committed
    Ledger* ledger = nullptr;

    explicit TestBatch(Ledger& l) : ledger(&l) { ++ledger->alive; }
    TestBatch(const TestBatch&) = delete;
    TestBatch& operator=(const TestBatch&) = delete;
    ~TestBatch() {
        if (in_budget) ++ledger->dropped;
        --ledger->alive;
    }
};

// What a lane's reader does: `batches` data batches (each taking one place in the budget, as
// sluice's reader does), then its end; `throw_at` throws instead of reading that batch.
struct ReaderScript {
    int batches = 100;
    int throw_at = -1;
    bool throw_when_cancelled = false;  // else it ends its lane, as sluice's reader does
};

// What a lane's writer saw, in the order it saw it.
struct Seen {
    std::vector<int> values;
    std::vector<bool> transformed;
    int ends = 0;
    bool interrupted = false;
    int writes_after_end = 0;
};

struct Harness {
    explicit Harness(std::size_t lanes, std::size_t budget_batches = 8)
        : budget(budget_batches, 1 << 30), scripts(lanes), seen(lanes), fail_writer_at(lanes, -1) {}

    InflightBudget budget;
    Ledger ledger;
    std::vector<ReaderScript> scripts;
    std::vector<Seen> seen;
    std::vector<int> fail_writer_at;  // the writer throws at this value
    int fail_transform_at = -1;       // the transform throws at this value (any lane)
    std::atomic<bool> stop{false};
    std::atomic<int> readers_stopped_by_cancel{0};
    std::thread::id runner;  // the thread that called run_lanes
    std::mutex parsers_mutex;
    std::vector<std::thread::id> parsers;  // the thread of each transform, in the order they ran

    std::unique_ptr<TestBatch> read(std::size_t k, std::uint64_t& seq, int& count) {
        auto batch = std::make_unique<TestBatch>(ledger);
        batch->seq = seq++;
        if (stop.load() || count >= scripts[k].batches) {
            batch->kind = BatchKind::end;
            batch->interrupted = stop.load();
            return batch;
        }
        if (count == scripts[k].throw_at) throw std::runtime_error("reader " + std::to_string(k) + " failed");
        if (!budget.take(1, true)) {  // cancelled: another stage failed
            ++readers_stopped_by_cancel;
            if (scripts[k].throw_when_cancelled) throw std::runtime_error("reader " + std::to_string(k) + " cancelled");
            batch->kind = BatchKind::end;
            batch->interrupted = true;
            return batch;
        }
        ++ledger.taken;
        batch->in_budget = true;
        batch->value = count++;
        return batch;
    }

    void write(std::size_t k, TestBatch& batch) {
        Seen& s = seen[k];
        if (s.ends > 0) ++s.writes_after_end;
        if (batch.kind == BatchKind::end) {
            ++s.ends;
            s.interrupted = batch.interrupted;
            return;
        }
        if (batch.value == fail_writer_at[k]) throw std::runtime_error("writer " + std::to_string(k) + " failed");
        s.values.push_back(batch.value);
        s.transformed.push_back(batch.transformed);
        if (batch.in_budget) {  // committed at once
            batch.in_budget = false;
            ++ledger.given_back;
            budget.give_back(1, 1);
        }
    }

    void transform(TestBatch& batch) {
        {
            std::lock_guard<std::mutex> lock(parsers_mutex);
            parsers.push_back(std::this_thread::get_id());
        }
        if (batch.value == fail_transform_at) throw std::runtime_error("transform failed");
        // Later batches finish first now and then: only the sequencer restores the order.
        if (batch.value % 5 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
        batch.transformed = true;
    }

    // run_lanes over these lanes with `threads` parse threads; a run that hangs fails the suite
    // (abort) rather than holding it up.
    void run(unsigned threads = 3) {
        std::vector<sluice::engine::Lane<TestBatch>> lanes;
        for (std::size_t k = 0; k < scripts.size(); ++k) {
            auto seq = std::make_shared<std::uint64_t>(0);
            auto count = std::make_shared<int>(0);
            lanes.push_back(
                {[this, k, seq, count] { return read(k, *seq, *count); }, [this, k](TestBatch& b) { write(k, b); }});
        }
        auto body = [&] {
            runner = std::this_thread::get_id();
            sluice::engine::run_lanes<TestBatch>(
                lanes, [this](TestBatch& b) { transform(b); }, threads, budget);
        };
        within_seconds(20, body);
    }

    static void within_seconds(int seconds, const std::function<void()>& body) {
        std::mutex m;
        std::condition_variable done_cv;
        bool done = false;
        std::exception_ptr error;
        std::thread runner([&] {
            try {
                body();
            } catch (...) {
                error = std::current_exception();
            }
            std::lock_guard<std::mutex> lock(m);
            done = true;
            done_cv.notify_one();
        });
        std::unique_lock<std::mutex> lock(m);
        if (!done_cv.wait_for(lock, std::chrono::seconds(seconds), [&] { return done; })) {
            std::fprintf(stderr, "pipeline_test: run_lanes still running after %d s: it hangs\n", seconds);
            std::abort();
        }
        lock.unlock();
        runner.join();
        if (error) std::rethrow_exception(error);
    }

    std::vector<int> counting(int n) const {
        std::vector<int> v;
        for (int i = 0; i < n; ++i)
            v.push_back(i);
        return v;
    }

    // Every batch read was freed, and every place it took in the budget given back or dropped with it.
    void check_nothing_lost() const {
        CHECK_MESSAGE(ledger.alive.load() == 0, "batches still held after the run");
        CHECK_MESSAGE(ledger.taken.load() == ledger.given_back.load() + ledger.dropped.load(),
                      "places taken from the budget neither given back nor dropped");
    }
};

bool all_true(const std::vector<bool>& v) {
    for (bool b : v)
        if (!b) return false;
    return true;
}

}  // namespace

TEST_CASE("each lane's writer gets its lane's batches transformed, in the reader's order, then the end") {
    for (std::size_t lanes : {1u, 3u}) {
        CAPTURE(lanes);
        Harness h(lanes);
        for (auto& s : h.scripts)
            s.batches = 300;
        h.run();
        for (std::size_t k = 0; k < lanes; ++k) {
            CAPTURE(k);
            CHECK_MESSAGE(h.seen[k].values == h.counting(300), "a lane's batches reached its writer out of order");
            CHECK_MESSAGE(all_true(h.seen[k].transformed), "a batch reached the writer untransformed");
            CHECK_MESSAGE(h.seen[k].ends == 1, "the writer did not see its lane's end exactly once");
            CHECK_MESSAGE(h.seen[k].writes_after_end == 0, "the writer was called after its lane's end");
        }
        h.check_nothing_lost();
    }
}

TEST_CASE("the thread that runs the lanes parses nothing: it sleeps until they end, the arena's threads parse") {
    // Waiting in the arena, that thread took parse work and spun between batches (sched_yield on
    // every idle moment) on cores the server needs.
    for (unsigned threads : {1u, 2u}) {
        CAPTURE(threads);
        Harness h(2);
        for (auto& s : h.scripts)
            s.batches = 200;
        h.run(threads);
        CHECK(h.parsers.size() == 400);
        const auto by_runner = std::count(h.parsers.begin(), h.parsers.end(), h.runner);
        CHECK_MESSAGE(by_runner == 0, "the thread that runs the lanes parsed batches");
        CHECK(h.seen[0].values == h.counting(200));
        CHECK(h.seen[1].values == h.counting(200));
        h.check_nothing_lost();
    }
}

TEST_CASE("a lane's end of stream ends that lane only: an empty lane and a short one do not hold the others") {
    Harness h(3);
    h.scripts[0].batches = 0;
    h.scripts[1].batches = 3;
    h.scripts[2].batches = 200;
    h.run(1);  // one parse thread: every batch goes through the same one
    CHECK(h.seen[0].values.empty());
    CHECK(h.seen[1].values == h.counting(3));
    CHECK(h.seen[2].values == h.counting(200));
    for (const Seen& s : h.seen) {
        CHECK_MESSAGE(s.ends == 1, "a lane's writer did not see its end");
        CHECK_MESSAGE(!s.interrupted, "an end of stream was taken for a stop");
    }
    h.check_nothing_lost();
}

TEST_CASE("the first error is rethrown, whichever stage threw it, and the run stops") {
    Harness h(3);
    for (auto& s : h.scripts)
        s.batches = 1000000;  // only a stop ends them
    std::string expected;
    SUBCASE("from a reader") {
        h.scripts[1].throw_at = 20;
        expected = "reader 1 failed";
    }
    SUBCASE("from a transform") {
        h.fail_transform_at = 30;
        expected = "transform failed";
    }
    SUBCASE("from a writer") {
        h.fail_writer_at[2] = 25;
        expected = "writer 2 failed";
    }
    // What the first error causes fails too, later: a reader that finds the budget cancelled throws.
    for (auto& s : h.scripts)
        s.throw_when_cancelled = true;
    CHECK_THROWS_WITH_AS(h.run(), expected.c_str(), std::runtime_error);
    CHECK_MESSAGE(h.readers_stopped_by_cancel.load() >= 2, "the other readers did not stop after the error");
    h.check_nothing_lost();
}

TEST_CASE("a failing writer drains its lane: its reader and the others stop, nothing hangs, nothing is lost") {
    Harness h(3, /*budget_batches=*/4);  // a small budget: readers wait for it, so only its cancel frees them
    for (auto& s : h.scripts)
        s.batches = 1000000;
    h.fail_writer_at[1] = 10;
    CHECK_THROWS_WITH_AS(h.run(), "writer 1 failed", std::runtime_error);
    CHECK_MESSAGE(h.readers_stopped_by_cancel.load() == 3, "not every reader was stopped by the failure");
    CHECK_MESSAGE(h.seen[1].values == h.counting(10), "the failed writer wrote after its failure");
    for (std::size_t k : {0u, 2u}) {
        CAPTURE(k);
        CHECK_MESSAGE(h.seen[k].ends == 1, "another lane's writer did not get to its end");
        CHECK_MESSAGE(h.seen[k].interrupted, "another lane ended as if its input were done");
    }
    h.check_nothing_lost();
}

TEST_CASE("a failing reader stops the other lanes, whose writers still get their ends") {
    Harness h(3, /*budget_batches=*/4);
    for (auto& s : h.scripts)
        s.batches = 1000000;
    h.scripts[0].throw_at = 15;
    CHECK_THROWS_WITH_AS(h.run(), "reader 0 failed", std::runtime_error);
    CHECK_MESSAGE(h.readers_stopped_by_cancel.load() == 2, "the other readers went on after the failure");
    CHECK_MESSAGE(h.seen[0].values == h.counting(15), "the failed lane lost batches read before the failure");
    CHECK_MESSAGE(h.seen[0].ends == 0, "the failed lane's writer saw an end its reader never sent");
    for (std::size_t k : {1u, 2u})
        CHECK(h.seen[k].ends == 1);
    h.check_nothing_lost();
}

TEST_CASE("a stop request ends every lane at a batch boundary, in order, without an error") {
    Harness h(3);
    for (auto& s : h.scripts)
        s.batches = 1000000;
    // The stop comes once the writers have committed 50 batches between them.
    std::thread stopper([&] {
        while (h.ledger.given_back.load() < 50)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        h.stop = true;
    });
    CHECK_NOTHROW(h.run());
    stopper.join();
    for (std::size_t k = 0; k < 3; ++k) {
        CAPTURE(k);
        CHECK_MESSAGE(h.seen[k].values == h.counting(static_cast<int>(h.seen[k].values.size())),
                      "a stopped lane skipped or reordered batches");
        CHECK_MESSAGE(h.seen[k].ends == 1, "a stopped lane's writer did not see its end");
        CHECK_MESSAGE(h.seen[k].interrupted, "a lane's end did not say it was a stop");
    }
    h.check_nothing_lost();
}

TEST_CASE("a reader waiting for budget is not stuck behind the hand-off's bound: its flush reaches the writer") {
    // A writer that commits only on a flush or at the end, as sluice's may; a budget far larger
    // than the bound, so that the batches the reader waits on sit behind the bound, uncommitted.
    Harness h(1, /*budget_batches=*/4 * sluice::engine::kHandOffBound);
    std::uint64_t seq = 0;
    int count = 0, pending = 0;
    const int total = 200;
    bool flushed = false;
    std::vector<sluice::engine::Lane<TestBatch>> lanes{{
        [&] {
            auto batch = std::make_unique<TestBatch>(h.ledger);
            batch->seq = seq++;
            if (count == total) {
                batch->kind = BatchKind::end;
                return batch;
            }
            if (!h.budget.try_take(1, true)) {
                if (!flushed) {  // ask the writer to commit before waiting
                    flushed = true;
                    batch->kind = BatchKind::flush;
                    return batch;
                }
                if (!h.budget.take(1, true)) throw std::runtime_error("budget cancelled");
            }
            flushed = false;
            ++h.ledger.taken;
            batch->value = count++;
            return batch;
        },
        [&](TestBatch& batch) {
            if (batch.kind == BatchKind::data) {
                h.seen[0].values.push_back(batch.value);
                ++pending;
                return;
            }
            h.ledger.given_back += pending;  // a commit: everything held goes back
            h.budget.give_back(pending, pending);
            pending = 0;
        },
    }};
    Harness::within_seconds(20, [&] {
        sluice::engine::run_lanes<TestBatch>(
            lanes, [](TestBatch& b) { b.transformed = true; }, 2, h.budget);
    });
    CHECK(h.seen[0].values == h.counting(total));
    CHECK(h.ledger.taken.load() == h.ledger.given_back.load());
    CHECK(h.ledger.alive.load() == 0);
}
