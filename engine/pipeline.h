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

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include "engine/budget.h"

namespace sluice::engine {

// End of stream is a batch of its own, never inferred from an empty one. A flush batch asks
// the writer to commit what it holds: the reader sends one before it waits for budget.
enum class BatchKind : std::uint8_t { data, flush, end };

template <typename Batch>
struct PipelineStages {
    std::function<std::unique_ptr<Batch>()> read;  // the next batch; the last one is of kind end
    std::function<void(Batch&)> transform;         // called concurrently on different batches
    std::function<void(Batch&)> write;             // called once per batch, in `seq` order
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

template <typename Batch>
void run_pipeline(const PipelineStages<Batch>& stages, unsigned parse_threads, InflightBudget& budget) {
    namespace flow = tbb::flow;
    using Ptr = std::shared_ptr<Batch>;
    // The reader and the writer spend most of their time blocked on the network, so they get
    // two threads beyond the parse threads: N transforms can always run.
    const int threads = static_cast<int>(parse_threads) + 2;
    tbb::global_control allow(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads));
    tbb::task_arena arena(threads);
    detail::FirstError first_error(budget);
    arena.execute([&] {
        flow::graph g;
        bool ended = false;  // only the serial input_node touches it
        flow::input_node<Ptr> read(g, first_error.guard([&](tbb::flow_control& control) -> Ptr {
            if (ended) {
                control.stop();
                return nullptr;
            }
            Ptr batch(stages.read());
            ended = batch->kind == BatchKind::end;
            return batch;
        }));
        // Parse threads: parallel, as many as configured; batches carry all their state.
        flow::function_node<Ptr, Ptr> transform(g, parse_threads, first_error.guard([&](Ptr batch) {
            if (batch->kind == BatchKind::data) stages.transform(*batch);
            return batch;
        }));
        // The writer must see batches in reader order: the checkpoint is "everything up to here".
        flow::sequencer_node<Ptr> in_order(g, [](const Ptr& batch) { return static_cast<std::size_t>(batch->seq); });
        // Serial: the writer owns the only write connection.
        flow::function_node<Ptr> write(g, flow::serial, first_error.guard([&](Ptr batch) {
            stages.write(*batch);
            return flow::continue_msg();
        }));
        flow::make_edge(read, transform);
        flow::make_edge(transform, in_order);
        flow::make_edge(in_order, write);
        read.activate();
        try {
            g.wait_for_all();
        } catch (...) {
            // Already recorded by the stage that threw; rethrown below.
        }
    });
    first_error.rethrow();
}

}  // namespace sluice::engine
