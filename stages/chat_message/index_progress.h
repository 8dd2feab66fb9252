// The indexes phase on the progress display: which index each builder connection is building,
// and how far it is, from pg_stat_progress_create_index (blocks of the table scanned, then
// tuples loaded into the tree), polled twice a second on a connection of its own.
// Thread-safe: the builder connections report from their own threads.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/progress_line.h"

namespace sluice::engine {
class Connection;
}

namespace sluice::stages {

class IndexProgress {
public:
    // `total`: the indexes this phase builds. Shows itself on the current display (if any) while
    // it lives; when its connection cannot be made it shows the indexes built, without figures.
    IndexProgress(std::string conninfo, std::size_t total);
    ~IndexProgress();
    IndexProgress(const IndexProgress&) = delete;
    IndexProgress& operator=(const IndexProgress&) = delete;

    // The backend `pid` starts building `index`; then it has built it.
    void started(int pid, const std::string& index);
    void built(int pid);

    // The display's reading (public for the tests): the share of the work done and a line
    // naming what is being built.
    engine::Reading reading();

    struct Building {
        int pid;
        std::string index;
        std::string phase;     // pg_stat_progress_create_index's, e.g. "building index: scanning table"
        double fraction = -1;  // of this index's build; -1: not known yet
    };
    // How far one index build is, from its progress row: scanning the table is counted as the first
    // 60%, sorting as up to 70%, loading the tuples into the tree as the rest (a rough weighting).
    static double build_fraction(const std::string& phase, double blocks_done, double blocks_total, double tuples_done,
                                 double tuples_total);

private:
    void run();
    void poll(engine::Connection& conn);

    std::string conninfo_;
    std::size_t total_, built_ = 0;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool done_ = false;
    std::vector<Building> building_;
    std::thread thread_;
};

}  // namespace sluice::stages
