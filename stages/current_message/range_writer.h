// The writer stage of one of migrate's lanes for the second job: the only stage that writes. It
// owns its write connection and a ValueWriter, and commits every few seconds or megabytes, on a
// flush request, at the end of each range and at the end, each time with the range's checkpoint in
// the same transaction, under the run's fence; after a commit it gives the budget back.
// Serial: the pipeline calls write() for one batch at a time, in its lane's reader order.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "engine/budget.h"
#include "engine/progress.h"
#include "engine/reject_table.h"
#include "stages/current_message/chat_keys_batch.h"
#include "stages/current_message/value_writer.h"

namespace sluice::stages::current_message {

struct RangeWriterSettings {
    std::string conninfo;
    std::string schema;
    std::chrono::milliseconds commit_every{5000};
    std::size_t commit_bytes = std::size_t{8} << 20;
    std::string label = "writer";  // the connection's name ("writer 2" in lane 2)
    std::size_t lane = 0;          // its index in RunCounters::lane_rows
};

class RangeWriter {
public:
    // `limit` is shared by every lane's writer: --max-rejects holds for the run as a whole.
    RangeWriter(const RangeWriterSettings& settings, engine::InflightBudget& budget, engine::RunCounters& counters,
                engine::RejectLimit& limit);

    void write(ChatKeysBatch& batch);
    bool interrupted() const { return interrupted_; }

private:
    void add(const ChatKeysBatch& batch);
    void commit();

    RangeWriterSettings settings_;
    engine::InflightBudget& budget_;
    engine::RunCounters& counters_;
    engine::RejectLimit& limit_;
    engine::Connection conn_;
    ValueWriter values_;
    int range_no_ = -1;                    // the range of the open transaction
    std::optional<std::string> last_;      // its last chat added
    bool completes_ = false;               // the range's end came: the commit marks it complete
    std::uint64_t rejects_ = 0;            // the chats rejected in the open transaction
    std::size_t batches_ = 0, bytes_ = 0;  // the budget the open transaction holds
    bool interrupted_ = false;
    std::chrono::steady_clock::time_point started_;
};

}  // namespace sluice::stages::current_message
