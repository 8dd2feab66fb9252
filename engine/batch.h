// What a batch carries besides its identity: its rows, encoded for binary COPY, and the rows it
// could not store. (The batch type itself belongs to each job, under stages/.)
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
    std::string row_json;    // the row as a JSON object
    bool by_server = false;  // PostgreSQL refused it (else the transform found it unstorable)
};

// Binary COPY tuples and where each one starts, so any range of rows can be sent again. A large
// field value may stay where it lies, in memory that outlives the rows (the chat text its batch
// keeps): `tuples` then holds its length only, and `outside` the value and the offset in
// `tuples` where it belongs. One huge chat is then held once, not once more in its rows.
struct Rows {
    struct Outside {
        std::size_t at;  // where the value belongs in `tuples`, right after its length
        std::string_view bytes;
    };
    std::string tuples;
    std::vector<std::size_t> starts;
    std::vector<Outside> outside;  // in the order of `at`

    std::size_t count() const { return starts.size(); }
    // Tuple i whole: a view of `tuples`, or, when a value of it lies outside, assembled in `storage`.
    std::string_view tuple(std::size_t i, std::string& storage) const;
    // Tuple i of rows that keep no value outside (those a transform gives its callers).
    std::string_view tuple(std::size_t i) const;
    // Tuple i up to its first value outside (whole when none): enough for its leading fields.
    std::string_view head(std::size_t i) const;
    // The bytes of rows [first, last) in order: pieces of `tuples` and the values outside between.
    std::vector<std::string_view> pieces(std::size_t first, std::size_t last) const;
    void clear();

private:
    std::size_t start(std::size_t i) const { return i < starts.size() ? starts[i] : tuples.size(); }
};

}  // namespace sluice::engine
