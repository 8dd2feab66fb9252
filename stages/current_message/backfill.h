// The second job's compute-and-write phase (migrate's "backfill"): the plan of id ranges (made once,
// weighed as the first job's), then K lanes of reader -> Rule::decide -> writer on the engine's
// pipeline, each commit with its range's checkpoint; resumes where a stopped or killed run left off.
#pragma once

#include <atomic>
#include <cstddef>

#include "config/job_settings.h"
#include "engine/pg.h"
#include "engine/progress.h"
#include "stages/current_message/checkpoint.h"

namespace sluice::stages::current_message {

// What one run of the phase did, and the checkpoint's totals after it.
struct ValuesReport {
    Progress before, totals;      // as the run found the checkpoint, and as it left it
    std::uint64_t rejects = 0;    // the rejects table's rows at the end
    unsigned lanes = 0;           // lanes this run read with (0: none)
    std::size_t ranges_left = 0;  // ranges this run read
    double seconds = 0;
    bool interrupted = false;
    bool already_complete = false;
};

// Runs the phase with `control` for the plan and the checkpoint, and the lanes' own connections.
// Returns when every range is committed or `stop` is set (then report.interrupted); throws
// TooManyRejectsError past --max-rejects and engine::PgError on a lost connection (a rerun resumes).
ValuesReport backfill(const config::JobSettings& cfg, engine::Connection& control, const std::atomic<bool>& stop,
                      engine::ProgressStyle style);

}  // namespace sluice::stages::current_message
