// The Open WebUI chat transform (SPEC §2): one `chat` row (id, user_id, chat JSON text) becomes
// the binary COPY tuples of its `chat_message` rows, exactly as upstream's alembic revision
// 8452d01d26d7 derives them. A pure function of (row, now): no database, no shared state.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/batch.h"
#include "engine/copy_binary.h"

namespace sluice::stages {

// One row as the reader selects it. `chat` is empty for SQL NULL.
struct ChatRow {
    std::string_view id;
    std::string_view user_id;
    std::optional<std::string_view> chat;
};

// Why a chat or a message gave no row, for the summary. Chats count in the chat_* and history/
// messages rules; single messages in message_not_object and role_falsy.
enum class SkipRule : std::uint8_t {
    chat_null,
    chat_falsy,
    chat_not_json,
    chat_not_object,
    history_not_object,
    messages_not_object,
    message_not_object,
    role_falsy,
};
inline constexpr std::size_t kSkipRules = 8;
const char* skip_rule_name(SkipRule rule);

// What one batch's worth of chats produced. Owned by the caller; reused across batches.
struct TransformOutput {
    engine::Rows rows;
    std::vector<engine::Reject> rejects;
    std::array<std::uint64_t, kSkipRules> skipped{};
    // JSON values at least this large stay in the chat's text (rows.outside), which the caller
    // then keeps as long as the rows; by default every value is copied into the rows.
    std::size_t outside_from = std::numeric_limits<std::size_t>::max();

    void clear();
};

// The chat_message columns in the order the tuples hold them.
const std::vector<engine::Column>& chat_message_columns();

// Turns chats into rows. One per parse thread: it keeps its scratch buffers between chats, so
// it is not thread-safe, and cheap to reuse.
class ChatTransform {
public:
    // `now`: seconds since the epoch, taken once when the run starts. `validate_utf8`: the chat
    // text may hold bytes that are not UTF-8 (a source database that is not UTF-8, untrusted
    // input): a message whose columns would receive such bytes (its key, a text or JSON column,
    // the chat's id or user_id) is rejected with SQLSTATE 22021, its neighbours kept.
    explicit ChatTransform(std::int64_t now, bool validate_utf8 = false);
    ~ChatTransform();
    ChatTransform(const ChatTransform&) = delete;
    ChatTransform& operator=(const ChatTransform&) = delete;

    void run(const ChatRow& chat, TransformOutput& out);

private:
    struct Scratch;
    std::int64_t now_;
    bool validate_utf8_;
    std::unique_ptr<Scratch> scratch_;
};

// The timestamp rule: int(float(t)), milliseconds to seconds, then the window [2020, now + 1 day].
std::int64_t normalize_timestamp(std::optional<std::int64_t> t, std::int64_t now);

}  // namespace sluice::stages
