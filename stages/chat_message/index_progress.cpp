// The index builds' progress: the builders say which index each backend builds, a watcher thread
// asks pg_stat_progress_create_index how far each is, and the display reads both.
#include "stages/chat_message/index_progress.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "engine/pg.h"
#include "engine/progress.h"

namespace sluice::stages {

namespace {

double value(const engine::Result& r, int row, int column) {
    return PQgetisnull(r.get(), row, column) ? 0 : std::atof(PQgetvalue(r.get(), row, column));
}

// "scanning table", "sorting live tuples": the phase without the prefix every one of them has.
std::string short_phase(const std::string& phase) {
    const std::string prefix = "building index: ";
    return phase.rfind(prefix, 0) == 0 ? phase.substr(prefix.size()) : phase;
}

}  // namespace

IndexProgress::IndexProgress(std::string conninfo, std::size_t total) : conninfo_(std::move(conninfo)), total_(total) {
    engine::ProgressDisplay* display = engine::ProgressDisplay::current();
    if (!display) return;  // nobody to show it to
    display->measure([this] { return reading(); });
    thread_ = std::thread([this] { run(); });
}

IndexProgress::~IndexProgress() {
    if (engine::ProgressDisplay* display = engine::ProgressDisplay::current()) display->measure(nullptr);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        done_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void IndexProgress::started(int pid, const std::string& index) {
    std::lock_guard<std::mutex> lock(mutex_);
    building_.push_back({pid, index, "starting", -1});
}

void IndexProgress::built(int pid) {
    std::lock_guard<std::mutex> lock(mutex_);
    building_.erase(std::remove_if(building_.begin(), building_.end(), [&](const Building& b) { return b.pid == pid; }),
                    building_.end());
    ++built_;
}

engine::Reading IndexProgress::reading() {
    std::lock_guard<std::mutex> lock(mutex_);
    engine::Reading r;
    r.total = static_cast<double>(total_);
    r.done = static_cast<double>(built_);
    r.text = "built " + std::to_string(built_) + " of " + std::to_string(total_);
    for (const Building& b : building_) {
        r.done += std::max(0.0, b.fraction);
        r.text += "; " + b.index + ": " + short_phase(b.phase);
        if (b.fraction >= 0) r.text += " " + std::to_string(static_cast<int>(100 * b.fraction)) + "%";
    }
    return r;
}

double IndexProgress::build_fraction(const std::string& phase, double blocks_done, double blocks_total,
                                     double tuples_done, double tuples_total) {
    auto has = [&](const char* words) { return phase.find(words) != std::string::npos; };
    auto share = [](double done, double total) { return total > 0 ? std::clamp(done / total, 0.0, 1.0) : 0.0; };
    if (has("scanning table")) return 0.6 * share(blocks_done, blocks_total);
    if (has("sorting")) return 0.65;
    if (has("loading tuples")) return 0.7 + 0.3 * share(tuples_done, tuples_total);
    return 0;  // initializing, or waiting (CREATE INDEX CONCURRENTLY only)
}

void IndexProgress::poll(engine::Connection& conn) {
    std::vector<std::string> pids;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (const Building& b : building_)
            pids.push_back(std::to_string(b.pid));
    }
    if (pids.empty()) return;
    engine::Result r = conn.exec(
        "SELECT pid, phase, blocks_done, blocks_total, tuples_done, tuples_total"
        " FROM pg_stat_progress_create_index WHERE pid = ANY ($1::int[])",
        {engine::text_array(pids)});
    std::lock_guard<std::mutex> lock(mutex_);
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        const int pid = std::atoi(PQgetvalue(r.get(), i, 0));
        for (Building& b : building_) {
            if (b.pid != pid) continue;
            b.phase = PQgetvalue(r.get(), i, 1);
            b.fraction = build_fraction(b.phase, value(r, i, 2), value(r, i, 3), value(r, i, 4), value(r, i, 5));
        }
    }
}

void IndexProgress::run() {
    try {
        engine::Connection conn(conninfo_, "index progress");
        std::unique_lock<std::mutex> lock(mutex_);
        while (!wake_.wait_for(lock, std::chrono::milliseconds(500), [&] { return done_; })) {
            lock.unlock();
            poll(conn);
            lock.lock();
        }
    } catch (...) {
        // The figures are a courtesy: without them the builds go on, and the display still counts them.
    }
}

}  // namespace sluice::stages
