// One run of a job's lanes, built once for either job and for verify: the in-flight budget, the
// counters and the reject limit the lanes share, one reader and one writer per lane (the job makes
// them, each with connections of its own), the progress display and the pipeline
// (engine/pipeline.h). With several lanes every reader reads in one exported snapshot, so that
// the lanes together read one consistent database. The job keeps only what differs: its reader,
// its transform and its writer. Not thread-safe: the thread that runs the job builds and runs it.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/budget.h"
#include "engine/lane.h"
#include "engine/pipeline.h"
#include "engine/progress.h"
#include "engine/reject_table.h"
#include "engine/shared_snapshot.h"

namespace sluice::engine {

struct LaneSetSettings {
    std::string conninfo;  // where several lanes' shared snapshot is exported
    unsigned lanes = 1;    // at least one
    unsigned parse_threads = 1;
    std::size_t max_inflight_batches = 0, max_inflight_bytes = 0;
    std::optional<std::uint64_t> max_rejects;
    std::uint64_t rejected_before = 0;    // the rejects committed before this run
    std::optional<std::string> snapshot;  // every lane reads in this exported snapshot (verify's own)
};

// Lane k's place in the run, for the job's maker.
struct LaneSeat {
    unsigned index = 0;                   // from 0: its writer's RunCounters::lane_rows
    std::string suffix;                   // of its connections' names: "" alone, " 2" for lane 2 of several
    std::optional<std::string> snapshot;  // the exported snapshot its reader reads in, if any
    bool several = false;                 // it is one of several lanes
};

// What a transform took in, for the progress display.
struct Taken {
    std::uint64_t records = 0;
    std::uint64_t bytes = 0;
};

// Reader: std::unique_ptr<Batch> next(); Writer: void write(Batch&) and bool interrupted().
template <typename Reader, typename Writer>
class LaneSet {
public:
    using Batch = typename decltype(std::declval<Reader&>().next())::element_type;
    using Made = std::pair<std::unique_ptr<Reader>, std::unique_ptr<Writer>>;

    explicit LaneSet(const LaneSetSettings& settings)
        : settings_(settings),
          budget_(settings.max_inflight_batches, settings.max_inflight_bytes),
          counters_(std::max(1u, settings.lanes)),
          limit_(settings.max_rejects, settings.rejected_before) {}

    // Makes every lane's reader and writer with `make(seat)`; throws what `make` throws.
    void build(const std::function<Made(const LaneSeat&)>& make) {
        const unsigned count = std::max(1u, settings_.lanes);
        std::optional<SharedSnapshot> shared;
        if (count > 1 && !settings_.snapshot) shared.emplace(settings_.conninfo);
        for (unsigned k = 0; k < count; ++k) {
            LaneSeat seat{k, count > 1 ? " " + std::to_string(k + 1) : "", settings_.snapshot, count > 1};
            if (shared) seat.snapshot = shared->name();
            Made made = make(seat);
            readers_.push_back(std::move(made.first));
            writers_.push_back(std::move(made.second));
        }
        if (shared) shared->release();  // every reader has imported it
    }

    // Runs every lane to its end with `transform` on the parse threads, the progress display
    // showing `expected` records; returns the seconds it took. Rethrows the first stage's error.
    double run(const std::function<Taken(Batch&)>& transform, ProgressStyle style, std::uint64_t expected,
               ProgressNouns nouns) {
        std::vector<Lane<Batch>> graph;
        for (std::size_t k = 0; k < readers_.size(); ++k)
            graph.push_back(
                {[this, k] { return readers_[k]->next(); }, [this, k](Batch& b) { writers_[k]->write(b); }});
        auto counted = [&](Batch& batch) {
            const Taken taken = transform(batch);
            counters_.records_read += taken.records;
            counters_.bytes_read += taken.bytes;
        };
        const auto started = std::chrono::steady_clock::now();
        {
            ProgressReporter progress(counters_, style, expected, nouns);
            run_lanes<Batch>(graph, counted, settings_.parse_threads, budget_);
        }
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    }

    bool interrupted() const {
        return std::any_of(writers_.begin(), writers_.end(), [](const auto& w) { return w->interrupted(); });
    }
    InflightBudget& budget() { return budget_; }
    RunCounters& counters() { return counters_; }
    RejectLimit& limit() { return limit_; }
    Reader& reader(std::size_t k) { return *readers_[k]; }
    const std::vector<std::unique_ptr<Writer>>& writers() const { return writers_; }

private:
    LaneSetSettings settings_;
    InflightBudget budget_;
    RunCounters counters_;
    RejectLimit limit_;
    std::vector<std::unique_ptr<Reader>> readers_;
    std::vector<std::unique_ptr<Writer>> writers_;
};

}  // namespace sluice::engine
