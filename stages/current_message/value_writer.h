// The second job's writer: the decided values of a lane's chats go by binary COPY into a work
// table of the session (TEMP, emptied at every commit), then one set-based UPDATE applies those
// that differ, the rejected chats replace whatever the job's rejects table held for the chats
// committed, and the caller's checkpoint runs: all in one transaction, so a kill between two
// commits loses nothing and committing the same chats again changes nothing.
// Not thread-safe: one lane's writer thread owns it and its connection.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "engine/pg.h"
#include "engine/reject_table.h"
#include "stages/current_message/chat_keys_batch.h"

namespace sluice::stages::current_message {

// The job's rejects: one row per chat upstream would raise on (chat_id, the value it keeps,
// sqlstate 22000, why as Python says it).
inline constexpr const char* kRejectTable = "sluice_current_message_reject";
engine::RejectTable reject_table(const std::string& schema);

// What one commit did.
struct ValueTally {
    std::uint64_t chats = 0;     // chats committed (decided or rejected)
    std::uint64_t updated = 0;   // rows of chat the UPDATE changed
    std::uint64_t rejected = 0;  // chats rejected
    void add(const ValueTally& other);
};

class ValueWriter {
public:
    // `conn` is the lane's write connection; the job's rejects table must exist (reject_table().create()).
    ValueWriter(engine::Connection& conn, std::string schema);
    ~ValueWriter();  // rolls back what was not committed
    ValueWriter(const ValueWriter&) = delete;
    ValueWriter& operator=(const ValueWriter&) = delete;

    // Adds a decided batch to the open transaction, opening it: its chats must follow those added
    // since the last commit in id order. Throws PgError (the transaction is then rolled back).
    void add(const ChatKeysBatch& batch);
    // Applies what was added, runs `checkpoint` on the same connection with what it did, and
    // commits. When anything throws, nothing of it is committed.
    ValueTally commit(const std::function<void(engine::Connection&, const ValueTally&)>& checkpoint);
    // Abandons what was added since the last commit.
    void rollback();
    bool pending() const { return open_; }

private:
    void begin();
    void apply(ValueTally& tally);

    engine::Connection& conn_;
    std::string schema_;
    engine::RejectTable rejects_;
    bool open_ = false;
    std::string first_, last_;  // the chat ids the open transaction covers, inclusive
    std::uint64_t chats_ = 0;
    std::string tuples_;  // binary COPY buffer, reused
};

}  // namespace sluice::stages::current_message
