// The flow graph: one serial reader, N parallel transforms, a sequencer that restores reader
// order, one serial writer. Generic over the batch type, which must carry `kind` and `seq`.
//
//     read (serial) ──► transform (N) ──► in_order (sequencer) ──► write (serial)
//        ▲                                                            │
//        └──────────── InflightBudget: taken by read, given back after commit ◄┘
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
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
    void rethrow() {
        if (error_) std::rethrow_exception(error_);
    }

private:
    void record(std::exception_ptr e) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = e;
        budget_.cancel();
    }
    InflightBudget& budget_;
    std::mutex mutex_;
    std::exception_ptr error_;
};
}  // namespace detail

// K lanes, each the pipeline above, in one graph and one task arena, so that they share the
// parse threads; the budget they take from is shared too, so memory is bounded by it, not by K.
//
//     read[k] (serial) ──► transform[k] (N) ──► in_order[k] (sequencer) ──► write[k] (serial)
template <typename Batch>
void run_lanes(const std::vector<Lane<Batch>>& lanes, const std::function<void(Batch&)>& transform,
               unsigned parse_threads, InflightBudget& budget) {
    namespace flow = tbb::flow;
    using Ptr = std::shared_ptr<Batch>;
    // Each lane's reader and writer spend most of their time blocked on the network, so they get
    // a thread each beyond the parse threads: N transforms can always run, and no more than N+2K
    // threads ever spin when there is nothing to do.
    const int threads = static_cast<int>(parse_threads + 2 * lanes.size());
    tbb::global_control allow(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads));
    tbb::task_arena arena(threads);
    detail::FirstError first_error(budget);
    arena.execute([&] {
        flow::graph g;
        struct Nodes {
            bool ended = false;  // only the lane's serial input_node touches it
            std::optional<flow::input_node<Ptr>> read;
            std::optional<flow::function_node<Ptr, Ptr>> transform;
            std::optional<flow::sequencer_node<Ptr>> in_order;
            std::optional<flow::function_node<Ptr>> write;
        };
        std::vector<Nodes> nodes(lanes.size());  // sized once: nodes never move
        for (std::size_t k = 0; k < lanes.size(); ++k) {
            const Lane<Batch>& lane = lanes[k];
            Nodes& n = nodes[k];
            n.read.emplace(g, first_error.guard([&lane, &n](tbb::flow_control& control) -> Ptr {
                if (n.ended) {
                    control.stop();
                    return nullptr;
                }
                Ptr batch(lane.read());
                n.ended = batch->kind == BatchKind::end;
                return batch;
            }));
            // Parse threads: parallel; the arena bounds all lanes' transforms together.
            n.transform.emplace(g, parse_threads, first_error.guard([&transform](Ptr batch) {
                if (batch->kind == BatchKind::data) transform(*batch);
                return batch;
            }));
            // The writer must see its lane's batches in reader order: a checkpoint is "the range up to here".
            n.in_order.emplace(g, [](const Ptr& batch) { return static_cast<std::size_t>(batch->seq); });
            // Serial: the lane's writer owns its write connection.
            n.write.emplace(g, flow::serial, first_error.guard([&lane](Ptr batch) {
                lane.write(*batch);
                return flow::continue_msg();
            }));
            flow::make_edge(*n.read, *n.transform);
            flow::make_edge(*n.transform, *n.in_order);
            flow::make_edge(*n.in_order, *n.write);
        }
        for (Nodes& n : nodes) n.read->activate();
        try {
            g.wait_for_all();
        } catch (...) {
            // Already recorded by the stage that threw; rethrown below.
        }
    });
    first_error.rethrow();
}

// One lane: the pipeline of the diagram at the top.
template <typename Batch>
void run_pipeline(const PipelineStages<Batch>& stages, unsigned parse_threads, InflightBudget& budget) {
    run_lanes<Batch>({Lane<Batch>{stages.read, stages.write}}, stages.transform, parse_threads, budget);
}

}  // namespace sluice::engine
