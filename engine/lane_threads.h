// The threads of a run's lanes, beside the flow graph and outside its arena: each lane's reader,
// which feeds the lane's read node through its gateway, and its writer, which takes the lane's
// batches from a hand-off queue. Both block on the network for most of their time, so none of them
// is an arena thread: those only ever parse, and none of them waits on a stage. Also the run's
// first error, whichever thread or stage throws it. (oneTBB's fgbzip2 example keeps its reading and
// writing threads in such a class beside its graph.)
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>

#include "engine/budget.h"
#include "engine/lane.h"

namespace sluice::engine {

// How a run ends: the lanes whose writers have had their ends, and the first exception that a
// thread or a stage throws (the later ones are what it caused). Recording one cancels the budget,
// so that a reader waiting for room wakes up and ends its lane. Thread-safe.
class RunEnd {
public:
    explicit RunEnd(InflightBudget& budget) : budget_(budget) {}
    void record(std::exception_ptr error);
    void rethrow();  // the first error, if there was one
    void lane_ended();
    // Sleeps until `lanes` lanes have ended or an error is recorded.
    void wait_for(std::size_t lanes);
    // `body`, recording what it throws before the exception goes on.
    template <typename F>
    auto guard(F body) {
        return [this, body](auto&&... args) {
            try {
                return body(std::forward<decltype(args)>(args)...);
            } catch (...) {
                record(std::current_exception());
                throw;
            }
        };
    }

private:
    InflightBudget& budget_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::exception_ptr error_;
    std::size_t ended_ = 0;
};

// The batches a lane's writer has yet to take, in order; a null one: no more will come. It stays
// short without a bound of its own: the graph lets only so many batches through to it.
template <typename Ptr>
class HandOffQueue {
public:
    void push(Ptr batch) {  // never blocks: it is called from the graph
        {
            std::lock_guard<std::mutex> lock(mutex_);
            queue_.push_back(std::move(batch));
        }
        ready_.notify_one();
    }
    Ptr pop() {  // waits for a batch
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [&] { return !queue_.empty(); });
        Ptr batch = std::move(queue_.front());
        queue_.pop_front();
        return batch;
    }

private:
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<Ptr> queue_;
};

// One per run of the graph (engine/pipeline.h), made before the graph's arena. Its owner calls
// start() for each lane once the graph's nodes and edges exist, then wait_for_lanes(), wait() and
// rethrow() once each; none of them throws before rethrow(). The lanes' readers and writers are
// each called from one thread only; the transform's guard and hand_off() from the graph's.
template <typename Batch>
class LaneThreads {
public:
    using Ptr = std::shared_ptr<Batch>;
    using ReadGateway = typename tbb::flow::async_node<tbb::flow::continue_msg, Ptr>::gateway_type;
    using HandOffGateway = typename tbb::flow::async_node<Ptr, tbb::flow::continue_msg>::gateway_type;

    LaneThreads(const std::vector<Lane<Batch>>& lanes, unsigned parse_threads, InflightBudget& budget)
        : lanes_(lanes),
          // The arena's threads and this one: TBB would otherwise start one per core.
          allow_(tbb::global_control::max_allowed_parallelism, parse_threads + 1),
          end_(budget),
          queues_(lanes.size()) {
        readers_.reserve(lanes.size());  // no reallocation once threads run: start() cannot fail halfway
        writers_.reserve(lanes.size());
    }

    // A stage's body whose exception stops the run (the graph cancels itself; this wakes the readers).
    template <typename F>
    auto guard(F body) {
        return end_.guard(std::move(body));
    }
    // Lane k's hand_off node: the batch leaves the graph for the writer's queue. The graph's wait
    // lasts until the writer has taken it, so the graph cannot end with a batch still on its way.
    void hand_off(std::size_t k, Ptr batch, HandOffGateway& gateway) {
        gateway.reserve_wait();
        queues_[k].push(std::move(batch));
    }
    // Lane k's writer, then its reader, whose batches must find the writer there.
    void start(std::size_t k, ReadGateway& read, HandOffGateway& hand_off);
    // Until every lane's writer has had its end, or something failed; the caller sleeps meanwhile,
    // outside the arena.
    void wait_for_lanes() { end_.wait_for(lanes_.size()); }
    // Until the graph has passed on all it can, then ends the writers whose end never came (a
    // stage failed) and joins every thread.
    void wait(tbb::flow::graph& graph);
    void rethrow() { end_.rethrow(); }

private:
    void read(std::size_t k, ReadGateway& gateway);
    void write(std::size_t k, HandOffGateway& gateway);

    const std::vector<Lane<Batch>>& lanes_;
    tbb::global_control allow_;
    RunEnd end_;
    std::vector<HandOffQueue<Ptr>> queues_;  // sized once: lane k's writer takes from queues_[k]
    std::vector<std::thread> readers_;
    std::vector<std::thread> writers_;
};

template <typename Batch>
void LaneThreads<Batch>::start(std::size_t k, ReadGateway& read, HandOffGateway& hand_off) {
    bool reserved = false;
    try {
        writers_.emplace_back([this, k, &hand_off] { write(k, hand_off); });
        read.reserve_wait();  // the graph's wait ends only once every reader has ended
        reserved = true;
        readers_.emplace_back([this, k, &read] { this->read(k, read); });
    } catch (...) {  // no thread to be had: the lanes that started stop, this one's writer ends in wait()
        if (reserved) read.release_wait();
        end_.record(std::current_exception());
    }
}

template <typename Batch>
void LaneThreads<Batch>::wait(tbb::flow::graph& graph) {
    try {
        graph.wait_for_all();
    } catch (...) {
        end_.record(std::current_exception());  // a stage's, recorded already by its guard
    }
    for (auto& t : readers_)
        t.join();  // they have ended: each held the graph's wait until then
    for (auto& queue : queues_)
        queue.push(nullptr);  // for a lane whose end never came
    for (auto& t : writers_)
        t.join();
}

template <typename Batch>
void LaneThreads<Batch>::read(std::size_t k, ReadGateway& gateway) {
    try {
        for (bool ended = false; !ended;) {
            Ptr batch(lanes_[k].read());
            ended = batch->kind == BatchKind::end;
            gateway.try_put(std::move(batch));
        }
    } catch (...) {
        end_.record(std::current_exception());
    }
    gateway.release_wait();
}

template <typename Batch>
void LaneThreads<Batch>::write(std::size_t k, HandOffGateway& gateway) {
    bool failed = false;  // then the rest is only drained: the run is stopping
    for (Ptr batch; (batch = queues_[k].pop());) {
        gateway.try_put(tbb::flow::continue_msg());  // taken: its place behind the bound is free
        gateway.release_wait();
        try {
            if (!failed) lanes_[k].write(*batch);
        } catch (...) {
            end_.record(std::current_exception());
            failed = true;
        }
        if (batch->kind == BatchKind::end) break;
    }
    end_.lane_ended();
}

}  // namespace sluice::engine
