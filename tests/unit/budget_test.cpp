// The in-flight budget: what fits, what waits, and the signal that asks the writer to commit.
#include <doctest/doctest.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/budget.h"

using sluice::engine::InflightBudget;

TEST_CASE("the budget caps batches and bytes, and lets one oversized record through alone") {
    InflightBudget budget(2, 100);
    CHECK(budget.try_take(60, true));
    CHECK_FALSE(budget.try_take(50, false));  // 110 bytes would exceed the cap
    CHECK(budget.try_take(40, false));
    CHECK_FALSE(budget.try_take(1, true));  // bytes are full
    budget.give_back(1, 100);
    CHECK(budget.try_take(500, true));  // nothing in flight: anything fits, alone
    CHECK_FALSE(budget.try_take(1, true));
    budget.give_back(1, 500);
    CHECK(budget.try_take(1, true));
    CHECK(budget.try_take(1, true));
    CHECK_FALSE(budget.try_take(1, true));  // the third batch slot does not exist
}

TEST_CASE("wanted() tells the writer a taker found no room, until the next give_back") {
    InflightBudget budget(4, 100);
    CHECK_FALSE(budget.wanted());
    CHECK(budget.try_take(80, true));
    CHECK_FALSE(budget.wanted());  // it fitted
    CHECK_FALSE(budget.try_take(30, false));
    CHECK(budget.wanted());
    budget.give_back(1, 80);
    CHECK_FALSE(budget.wanted());
}

TEST_CASE("take waits for a give_back, and cancel wakes it for good") {
    InflightBudget budget(1, 100);
    REQUIRE(budget.try_take(100, true));
    std::thread writer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        CHECK(budget.wanted());  // the reader below is waiting
        budget.give_back(1, 100);
    });
    CHECK(budget.take(100, true));
    writer.join();

    std::thread stopper([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        budget.cancel();
    });
    CHECK_FALSE(budget.take(100, true));
    stopper.join();
    CHECK_FALSE(budget.try_take(1, true));  // cancelled: nothing is taken any more
}

TEST_CASE("while a record larger than the cap waits, nobody else takes, so the budget drains and it gets in") {
    InflightBudget budget(8, 100);
    REQUIRE(budget.try_take(60, true));  // another lane's batch in flight
    bool big_taken = false;
    std::thread big([&] { big_taken = budget.take(500, true); });  // needs everything given back
    while (!budget.wanted())
        std::this_thread::yield();
    CHECK_FALSE(budget.try_take(10, true));  // it would fit, but the big record waits for the budget to drain
    CHECK(budget.wanted());                  // and the writers are asked to commit
    budget.give_back(1, 60);
    big.join();
    CHECK(big_taken);
    CHECK_FALSE(budget.try_take(10, true));  // the big record is alone in flight
    budget.give_back(1, 500);
    CHECK(budget.try_take(10, true));
}

TEST_CASE("readers waiting for ordinary room do not hold back one that fits") {
    InflightBudget budget(8, 100);
    REQUIRE(budget.try_take(90, true));
    bool taken = false;
    std::thread waiter([&] { taken = budget.take(50, true); });  // 140 would pass the cap: it waits
    while (!budget.wanted())
        std::this_thread::yield();
    CHECK(budget.try_take(10, true));  // 100: fits, and nobody needs the budget to drain
    budget.give_back(2, 100);
    waiter.join();
    CHECK(taken);
}
