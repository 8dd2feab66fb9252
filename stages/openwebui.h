// A leaf: it includes nothing of sluice, so every layer (config too) may read it.
// The facts of Open WebUI's schema that sluice's jobs depend on, each written once: the tables,
// upstream's chat_message (its columns, keys and seven indexes), the alembic revisions each job
// moves between, and which chats the app itself migrates. Every other file reads them here.
#pragma once

#include <string>

namespace sluice::stages::openwebui {

inline constexpr const char* kChat = "chat";
inline constexpr const char* kChatMessage = "chat_message";
inline constexpr const char* kAlembicVersion = "alembic_version";

// The first job (chat.chat -> chat_message): alembic 8452d01d26d7 and the revision before it.
inline constexpr const char* kRevisionBefore = "374d2f66af06";
inline constexpr const char* kRevisionAfter = "8452d01d26d7";
// The second job (chat.current_message_id): 9a1b2c3d4e5f and the revision before it.
inline constexpr const char* kCurrentMessageRevisionBefore = "856c5b02fb54";
inline constexpr const char* kCurrentMessageRevisionAfter = "9a1b2c3d4e5f";

// The jobs sluice runs, each named by the revision it takes the database to (`--revision`); the
// first is the default.
struct Job {
    const char* revision;
    const char* what;
};
inline constexpr Job kJobs[] = {
    {kRevisionAfter, "chat_message"},
    {kCurrentMessageRevisionAfter, "chat.current_message_id"},
};

struct ColumnSpec {
    const char* name;
    const char* type;  // as format_type() prints it
    bool not_null;
};

// Upstream's chat_message (alembic 8452d01d26d7), in its column order.
inline constexpr ColumnSpec kColumns[] = {
    {"id", "text", true},
    {"chat_id", "text", true},
    {"user_id", "text", false},
    {"role", "text", true},
    {"parent_id", "text", false},
    {"content", "json", false},
    {"output", "json", false},
    {"model_id", "text", false},
    {"files", "json", false},
    {"sources", "json", false},
    {"embeds", "json", false},
    {"done", "boolean", false},
    {"status_history", "json", false},
    {"error", "json", false},
    {"usage", "json", false},
    {"created_at", "bigint", false},
    {"updated_at", "bigint", false},
};

// Columns that Open WebUI's migrations after 8452d01d26d7 add: their presence means the app
// has migrated past this revision and the table is in use.
inline constexpr const char* kLaterColumns[] = {"meta", "context_summary"};

inline constexpr const char* kPrimaryKey = "chat_message_pkey";
inline constexpr const char* kForeignKey = "chat_message_chat_id_fkey";

// The index upstream's migration creates first: the name sluice's placeholder view holds while it
// builds (stages/chat_message/target.h).
inline constexpr const char* kReservedIndex = "ix_chat_message_chat_id";

struct IndexSpec {
    const char* name;
    const char* columns;
};

// The seven indexes of chat_message, with upstream's names, in the order its migration creates them.
inline constexpr IndexSpec kIndexes[] = {
    {kReservedIndex, "chat_id"},
    {"ix_chat_message_user_id", "user_id"},
    {"ix_chat_message_model_id", "model_id"},
    {"ix_chat_message_created_at", "created_at"},
    {"chat_message_chat_parent_idx", "chat_id, parent_id"},
    {"chat_message_model_created_idx", "model_id, created_at"},
    {"chat_message_user_created_idx", "user_id, created_at"},
};

// A shared-link copy of a chat (its user_id is "shared-" and the original's id): upstream's
// migration leaves these out, and so does every job. `alias` is the chat table's, with its dot
// ("c."), or empty.
inline std::string chat_is_shared(const std::string& alias = "") {
    return alias + "user_id LIKE 'shared-%'";
}
inline std::string chat_is_selected(const std::string& alias = "") {
    return "NOT (" + chat_is_shared(alias) + ")";
}

// Selects the chats a job migrates: shared-link copies and chats without a user (NULL is not
// selected either) are left out. The SQL is appended after FROM <chat>.
inline const std::string kSelectedChats = " WHERE " + chat_is_selected();

}  // namespace sluice::stages::openwebui
