// The flow graph: K lanes side by side, each a serial reader, parallel transforms, a sequencer
// that restores the reader's order and a serial writer, all in one graph and one task arena. The
// lanes share the arena's N parse threads and the budget they take from, so memory is bounded by
// the budget, not by K. Generic over the batch type (engine/lane.h); one lane is a run of its own.
//
//   read[k] ──► transform[k] (N) ──► in_order[k] ──► bound[k] (4) ──► hand_off[k] ··► write[k]
//      ▲                                                ▲                  │             │
//      │                                                └──────────────────┘             │
//      │                                                a place freed per batch taken    │
//      └─────── InflightBudget: taken by read, given back after a commit ◄───────────────┘
//
// read[k] and write[k] are lane k's threads (engine/lane_threads.h); the arena only parses, on
// threads of its own: the thread that runs the lanes sleeps until they end. (Waiting in the arena,
// it spun between batches, some 50,000 sched_yield calls in a 2-second backfill, on cores the
// server needs.)
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/task_arena.h>

#include "engine/budget.h"
#include "engine/lane.h"
#include "engine/lane_threads.h"

namespace sluice::engine {

// How many of a lane's batches may wait for its writer past the graph: enough that the writer
// finds its next batch there while a freed place is refilled, few enough that a lagging writer
// holds the rest back in the graph, in order.
inline constexpr std::size_t kHandOffBound = 4;

namespace detail {
// A lane's nodes, in data-flow order; made in place, since the graph keeps their addresses.
template <typename Batch>
struct LaneNodes {
    using Ptr = std::shared_ptr<Batch>;
    std::optional<tbb::flow::async_node<tbb::flow::continue_msg, Ptr>> read;  // fed through its gateway
    std::optional<tbb::flow::function_node<Ptr, Ptr>> transform;
    std::optional<tbb::flow::sequencer_node<Ptr>> in_order;
    std::optional<tbb::flow::limiter_node<Ptr>> bound;
    std::optional<tbb::flow::async_node<Ptr, tbb::flow::continue_msg>> hand_off;  // to the writer's thread
};
}  // namespace detail

// Runs the lanes to their ends and rethrows the first error any reader, transform or writer threw;
// after one, the readers stop (the budget is cancelled) and the writers drain what comes.
template <typename Batch>
void run_lanes(const std::vector<Lane<Batch>>& lanes, const std::function<void(Batch&)>& transform,
               unsigned parse_threads, InflightBudget& budget) {
    namespace flow = tbb::flow;
    using Ptr = std::shared_ptr<Batch>;
    LaneThreads<Batch> threads(lanes, parse_threads, budget);
    tbb::task_arena arena(static_cast<int>(parse_threads), 0);  // no slot kept for this thread
    std::optional<flow::graph> graph;                           // made in the arena, which it then runs in
    std::vector<detail::LaneNodes<Batch>> nodes(lanes.size());  // sized once: nodes never move
    arena.execute([&] {
        graph.emplace();
        flow::graph& g = *graph;
        for (std::size_t k = 0; k < lanes.size(); ++k) {
            detail::LaneNodes<Batch>& n = nodes[k];
            n.read.emplace(g, flow::serial, [](const flow::continue_msg&, auto&) {});  // fed by the reader's thread
            // Parallel: the arena bounds all lanes' transforms together.
            n.transform.emplace(g, parse_threads, threads.guard([&transform](Ptr batch) {
                if (batch->kind == BatchKind::data) transform(*batch);
                return batch;
            }));
            // The writer must see its lane's batches in reader order: a checkpoint is "the range up to here".
            n.in_order.emplace(g, [](const Ptr& batch) { return static_cast<std::size_t>(batch->seq); });
            // No deadlock with the budget: a writer waits only on an empty hand-off, so a flush held here reaches it.
            n.bound.emplace(g, kHandOffBound);
            // Serial, and it never blocks: the writer owns its write connection, on its own thread.
            n.hand_off.emplace(g, flow::serial, [&threads, k](Ptr batch, auto& gateway) {
                threads.hand_off(k, std::move(batch), gateway);
            });
            flow::make_edge(*n.read, *n.transform);
            flow::make_edge(*n.transform, *n.in_order);
            flow::make_edge(*n.in_order, *n.bound);
            flow::make_edge(*n.bound, *n.hand_off);
            flow::make_edge(*n.hand_off, n.bound->decrementer());  // the writer took a batch: a place is free
        }
        for (std::size_t k = 0; k < lanes.size(); ++k)
            threads.start(k, nodes[k].read->gateway(), nodes[k].hand_off->gateway());
    });
    threads.wait_for_lanes();                      // asleep, not in the arena
    arena.execute([&] { threads.wait(*graph); });  // at once, unless something failed
    threads.rethrow();
}

}  // namespace sluice::engine
