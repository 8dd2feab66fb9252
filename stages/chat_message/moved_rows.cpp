// Moving written rows to the rejects: the reject, the delete and the checkpoint's counts at once.
#include "stages/chat_message/moved_rows.h"

#include <stdexcept>

#include "stages/chat_message/checkpoint.h"
#include "stages/shared/too_many_rejects.h"

namespace sluice::stages {

void move_to_rejects(engine::Connection& conn, const Target& t, const std::vector<RowToReject>& rows,
                     std::optional<std::uint64_t> max_rejects, const std::string& what) {
    if (rows.empty()) return;
    std::optional<Checkpoint> cp = load_checkpoint(conn, t.schema);
    const std::uint64_t rejected = (cp ? cp->rejected : 0) + rows.size();
    if (max_rejects && rejected > *max_rejects) {
        throw TooManyRejectsError(std::to_string(rows.size()) + " " + what + "; rejecting them would make " +
                                  std::to_string(rejected) + " rejects, more than --max-rejects " +
                                  std::to_string(*max_rejects) + " allows");
    }
    const std::string rejects = reject_table(t.schema).qualified_name();
    std::vector<std::string> chats;
    for (const RowToReject& row : rows) {
        conn.exec("INSERT INTO " + rejects +
                      " (id, chat_id, sqlstate, message, found_by, row)"
                      " SELECT id, chat_id, $2, $3, 'server', row_to_json(m) FROM " +
                      t.qualified() + " m WHERE ctid = $1::tid",
                  {row.ctid, row.sqlstate, row.message});
        conn.exec("DELETE FROM " + t.qualified() + " WHERE ctid = $1::tid", {row.ctid});
        chats.push_back(row.chat_id);
    }
    count_moved_to_rejects(conn, t.schema, chats);
}

}  // namespace sluice::stages
