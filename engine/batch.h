// What a batch carries besides its identity: its rows, encoded for binary COPY, and the rows it
// could not store. (The batch type itself belongs to a job: see stages/chat_batch.h.)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::engine {

// A row that cannot be stored, with why; written whole to the reject file.
struct Reject {
    std::string key;       // the row's identity (its primary key)
    std::string group;     // the source record it came from
    std::string sqlstate;  // PostgreSQL's, or the one PostgreSQL would give
    std::string message;
    std::string row_json;  // the row as a JSON object
    bool by_server = false;  // PostgreSQL refused it (else the transform found it unstorable)
};

// Binary COPY tuples and where each one starts, so any range of rows can be sent again.
struct Rows {
    std::string tuples;
    std::vector<std::size_t> starts;

    std::size_t count() const { return starts.size(); }
    std::string_view tuple(std::size_t i) const {
        std::size_t end = i + 1 < starts.size() ? starts[i + 1] : tuples.size();
        return std::string_view(tuples).substr(starts[i], end - starts[i]);
    }
    // The bytes of rows [first, last) as one contiguous range.
    std::string_view range(std::size_t first, std::size_t last) const {
        std::size_t from = first < starts.size() ? starts[first] : tuples.size();
        std::size_t to = last < starts.size() ? starts[last] : tuples.size();
        return std::string_view(tuples).substr(from, to - from);
    }
};

}  // namespace sluice::engine
