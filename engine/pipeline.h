// The flow graph: one serial reader, N parallel transforms, a sequencer that restores reader
// order, one serial writer; and K such lanes side by side. Generic over the batch type, which
// must carry `kind` and `seq`.
//
//     read (serial) ──► transform (N) ──► in_order (sequencer) ──► write (serial)
//        ▲                                                            │
//        └──────────── InflightBudget: taken by read, given back after commit ◄┘
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include "engine/budget.h"

namespace sluice::engine {

// End of stream is a batch of its own, never inferred from an empty one. A flush batch asks
// the writer to commit what it holds: the reader sends one before it waits for budget. A
// range_end batch says the reader has read one part of its input (a key range) to its end.
enum class BatchKind : std::uint8_t { data, flush, range_end, end };

template <typename Batch>
struct PipelineStages {
    std::function<std::unique_ptr<Batch>()> read;  // the next batch; the last one is of kind end
    std::function<void(Batch&)> transform;         // called concurrently on different batches
    std::function<void(Batch&)> write;             // called once per batch, in `seq` order
};

// One lane: a reader and a writer of its own, in its own order. The transform is the run's.
template <typename Batch>
struct Lane {
    std::function<std::unique_ptr<Batch>()> read;  // the lane's next batch; its last is of kind end
    std::function<void(Batch&)> write;             // once per batch of the lane, in the lane's `seq` order
};

namespace detail {
// The first exception any stage throws; it cancels the budget so a waiting reader wakes up.
class FirstError {
public:
    explicit FirstError(InflightBudget& budget) : budget_(budget) {}
    template <typename F>
    auto guard(F&& body) {
        return [this, body](auto&&... args) {
            try {
                return body(std::forward<decltype(args)>(args)...);
            } catch (...) {
                record(std::current_exception());
                throw;
            }
        };
    }
    void record(std::exception_ptr e) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = e;
        budget_.cancel();
    }
    void rethrow() {
        if (error_) std::rethrow_exception(error_);
    }

private:
    InflightBudget& budget_;
    std::mutex mutex_;
    std::exception_ptr error_;
};

// The batches a lane's writer thread has yet to write, in order; a null one: no more will come.
// Unbounded, because the budget bounds what is in flight.
template <typename Ptr>
class HandOff {
public:
    void push(Ptr batch) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            queue_.push_back(std::move(batch));
        }
        ready_.notify_one();
    }
    Ptr pop() {
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
}  // namespace detail

// K lanes, each the pipeline of the diagram at the top, in one graph and one task arena: the
// lanes share the arena's N parse threads, and the budget they take from, so memory is bounded
// by the budget, not by K. A lane's reader and writer block on the network for most of their
// time, so each runs on a thread of its own, outside the arena: the reader feeds the graph
// through its node's gateway, the writer takes the lane's batches from a hand-off queue. The
// arena's threads then only ever parse, and none of them spins while a stage waits.
//
//     read[k] (own thread) ──► transform[k] (N) ──► in_order[k] (sequencer) ──► write[k] (own thread)
template <typename Batch>
void run_lanes(const std::vector<Lane<Batch>>& lanes, const std::function<void(Batch&)>& transform,
               unsigned parse_threads, InflightBudget& budget) {
    namespace flow = tbb::flow;
    using Ptr = std::shared_ptr<Batch>;
    tbb::global_control allow(tbb::global_control::max_allowed_parallelism, parse_threads);
    tbb::task_arena arena(static_cast<int>(parse_threads));
    detail::FirstError first_error(budget);
    std::vector<detail::HandOff<Ptr>> to_writer(lanes.size());
    std::vector<std::thread> writers;
    for (std::size_t k = 0; k < lanes.size(); ++k) {
        writers.emplace_back([&, k] {
            bool failed = false;  // then the rest is only drained: the run is stopping
            for (Ptr batch; (batch = to_writer[k].pop());) {
                if (failed) continue;
                try {
                    lanes[k].write(*batch);
                } catch (...) {
                    first_error.record(std::current_exception());
                    failed = true;
                }
                if (batch->kind == BatchKind::end) return;
            }
        });
    }
    arena.execute([&] {
        flow::graph g;
        struct Nodes {
            std::optional<flow::async_node<flow::continue_msg, Ptr>> read;  // fed through its gateway
            std::optional<flow::function_node<Ptr, Ptr>> transform;
            std::optional<flow::sequencer_node<Ptr>> in_order;
            std::optional<flow::function_node<Ptr>> write;  // hands the batch to the writer's thread
        };
        std::vector<Nodes> nodes(lanes.size());  // sized once: nodes never move
        for (std::size_t k = 0; k < lanes.size(); ++k) {
            Nodes& n = nodes[k];
            n.read.emplace(g, flow::serial, [](const flow::continue_msg&, auto&) {});
            // Parse threads: parallel; the arena bounds all lanes' transforms together.
            n.transform.emplace(g, parse_threads, first_error.guard([&transform](Ptr batch) {
                if (batch->kind == BatchKind::data) transform(*batch);
                return batch;
            }));
            // The writer must see its lane's batches in reader order: a checkpoint is "the range up to here".
            n.in_order.emplace(g, [](const Ptr& batch) { return static_cast<std::size_t>(batch->seq); });
            // Serial, and it never blocks: the lane's writer owns its write connection, on its thread.
            n.write.emplace(g, flow::serial, [&to_writer, k](Ptr batch) {
                to_writer[k].push(std::move(batch));
                return flow::continue_msg();
            });
            flow::make_edge(*n.read, *n.transform);
            flow::make_edge(*n.transform, *n.in_order);
            flow::make_edge(*n.in_order, *n.write);
        }
        std::vector<std::thread> readers;
        for (std::size_t k = 0; k < lanes.size(); ++k) {
            auto& gateway = nodes[k].read->gateway();
            gateway.reserve_wait();  // wait_for_all() returns only once every reader has ended
            readers.emplace_back([&, k] {
                try {
                    for (bool ended = false; !ended;) {
                        Ptr batch(lanes[k].read());
                        ended = batch->kind == BatchKind::end;
                        gateway.try_put(batch);
                    }
                } catch (...) {
                    first_error.record(std::current_exception());
                }
                gateway.release_wait();
            });
        }
        try {
            g.wait_for_all();
        } catch (...) {
            // Already recorded by the stage that threw; rethrown below.
        }
        for (auto& t : readers) t.join();  // before the nodes they feed go
    });
    for (auto& queue : to_writer) queue.push(nullptr);  // a lane whose end never came (a stage failed)
    for (auto& t : writers) t.join();
    first_error.rethrow();
}

// One lane: the pipeline of the diagram at the top.
template <typename Batch>
void run_pipeline(const PipelineStages<Batch>& stages, unsigned parse_threads, InflightBudget& budget) {
    run_lanes<Batch>({Lane<Batch>{stages.read, stages.write}}, stages.transform, parse_threads, budget);
}

}  // namespace sluice::engine
