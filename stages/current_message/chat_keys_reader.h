// The second job's reader: one connection, one REPEATABLE READ READ ONLY snapshot (its own, or
// the run's exported one), and per id range one cursor over a single query that gives each chat
// its id, its current_message_id, its blob and its chat_message keys (id, parent_id, created_at,
// aggregated per chat in id order). Rows come in single-row mode, so a batch is cut by rows and
// bytes before more is held. Serial: one lane's reader thread alone calls it.
#pragma once

#include <optional>
#include <string>

#include "engine/cursor.h"
#include "engine/pg.h"
#include "stages/current_message/chat_keys_batch.h"

namespace sluice::stages::current_message {

// Chat ids [lo, hi) in byte order (COLLATE "C": the same on every server, whatever the column's
// collation); an absent bound is open. The migrate's plan gives (lo, hi] instead (its ranges, as
// the first job's plan makes them, end at a chat; a resumed one starts after the last committed).
struct IdRange {
    std::optional<std::string> lo;
    std::optional<std::string> hi;
    bool after_lo = false;  // lo itself is left out
    bool upto_hi = false;   // hi itself is read
};

struct ChatKeysSettings {
    std::string conninfo;
    std::string schema = "public";
    std::size_t fetch_rows = 500;
    std::size_t batch_rows = 500;
    std::size_t batch_bytes = std::size_t{4} << 20;
    std::optional<std::string> snapshot;  // pg_export_snapshot()'s name: read in that snapshot
    std::string label = "reader";
};

class ChatKeysReader {
public:
    // Connects and opens the snapshot; throws PgError when `chat` cannot be read.
    explicit ChatKeysReader(const ChatKeysSettings& settings);

    // Starts reading `range` (the previous one must be read to its end).
    void open(const IdRange& range);
    // Fills `batch` (which must be empty) with the range's next chats, in id order; false, the
    // batch left empty, when the range has no more.
    bool next(ChatKeysBatch& batch);
    // Ends the snapshot.
    void finish();

    // The query, for a cursor: $1 and $2 are the bounds that `range` has, in that order.
    static std::string query(const std::string& schema, bool has_column, const IdRange& range);

private:
    void add(ChatKeysBatch& batch, engine::Result row);

    ChatKeysSettings settings_;
    engine::Connection conn_;
    bool has_column_ = false;
    engine::Cursor cursor_;   // over the range being read
    engine::Result pending_;  // read, not yet in a batch (it would have passed the batch's bytes)
};

}  // namespace sluice::stages::current_message
