// SPEC §6's rule for one chat: the value `chat.current_message_id` gets under Open WebUI's
// alembic 9a1b2c3d4e5f, from the chat's id, the column's value, the `chat` blob and the chat's
// chat_message keys. Pure: no database; one Rule per thread (it reuses its buffers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "stages/current_message/python_json.h"

namespace sluice::stages::current_message {

// One chat_message row as the migration reads it.
struct MessageKey {
    std::string_view id;
    std::optional<std::string_view> parent_id;  // nullopt: SQL NULL
    std::optional<std::int64_t> created_at;
};

// One chat as the job's reader gives it.
struct ChatInput {
    std::string_view id;
    std::optional<std::string_view> current;  // current_message_id; nullopt: NULL (or no column yet)
    std::optional<std::string_view> chat;     // chat::text; nullopt: SQL NULL
    std::vector<MessageKey> rows;             // the chat's chat_message rows, in any order
};

enum class Path : std::uint8_t {
    rows,  // path A: the chat has chat_message rows (a stripped id that is not empty)
    blob,  // path B: the blob's messages decide
};

struct Decision {
    Path path = Path::blob;
    bool resolved = false;  // the rule gave a result (possibly "", which is never written)
    std::string result;
    // Path A, when the newest leaf decided: every newest leaf (result first). Upstream reads the
    // rows without ORDER BY, so any of them is its answer; verify accepts each.
    std::vector<std::string> ties;
    // Not empty: upstream raises on this chat (why, as Python says it); nothing is written.
    std::string reject;

    // The value to write: the result when it is not empty and differs from `current`.
    std::optional<std::string_view> write(std::optional<std::string_view> current) const;
};

class Rule {
public:
    // Thread-compatible: one Rule per thread. The decision owns its texts.
    void decide(const ChatInput& chat, Decision& out);

private:
    // Path B's map, as upstream's dict of the blob's messages.
    struct Entry {
        std::uint32_t key;    // the node whose member name is the key (dict form) or the id (list form)
        bool named;           // the key is the node's member name
        std::uint32_t value;  // the message
    };
    bool collect_candidates(const ChatInput& chat, std::uint32_t top, std::uint32_t history, Decision& out);
    bool collect_blob_messages(std::uint32_t top, std::uint32_t history, Decision& out);
    std::size_t find_blob_key(std::uint32_t probe) const;
    bool insert_list_message(std::uint32_t message, Decision& out);
    void collect_row_keys(const ChatInput& chat);
    void decide_rows(Decision& out);
    void decide_blob(Decision& out);
    bool blob_key_text(const Entry& e, Decision& out) const;

    Blob blob_;
    std::string prefix_;
    std::vector<std::string_view> candidates_;
    std::vector<Entry> entries_;                                     // path B, in dict order
    std::unordered_map<std::string_view, std::size_t> string_keys_;  // path B's str keys
    std::vector<std::size_t> other_keys_;                            // path B's number and bool keys
    struct RowKey {
        std::string_view key;
        std::optional<std::string_view> parent;
        std::int64_t time;
    };
    std::vector<RowKey> rows_;  // path A, in dict order
    std::unordered_map<std::string_view, std::size_t> row_index_;
    std::vector<std::uint32_t> scratch_;
    std::vector<char> is_parent_;
};

}  // namespace sluice::stages::current_message
