// The rules of SPEC §2 applied to one scanned chat: selection of messages, the text, JSON,
// boolean and timestamp columns, and the rejects for values PostgreSQL cannot store.
#include "stages/chat_message/chat_transform.h"

#include <algorithm>
#include <cstring>
#include <deque>

#include "engine/utf8.h"
#include "stages/chat_message/chat_scan.h"
#include "stages/shared/python_number.h"

namespace sluice::stages {

using scan::Type;
using scan::Value;

namespace {

constexpr std::int64_t kMinTimestamp = 1577836800;  // 2020-01-01, upstream's lower bound
constexpr std::int64_t kMillisecondsAbove = 10'000'000'000;

// A text column's value, or why the message cannot be stored.
struct Text {
    bool is_null = false;
    std::string_view text;
    const char* problem = nullptr;  // set: the message is rejected
    const char* sqlstate = nullptr;
};

// Bytes that are not UTF-8 (a SQL_ASCII source stores them): sluice's connections speak UTF-8,
// and the server refuses them there, in text and json columns alike.
constexpr Text kNotUtf8 = {false,
                           {},
                           "holds bytes that are not valid UTF-8 (written as \\u00XX in the row), which a "
                           "UTF-8 connection cannot store",
                           "22021"};
constexpr Text kNulOrSurrogate = {false,
                                  {},
                                  "holds a NUL character or a lone UTF-16 surrogate, which a text "
                                  "column cannot store",
                                  "22021"};

// The member names of the fields, as the source spells them (for reject messages and rows).
constexpr const char* kFieldNames[scan::field_count] = {"role",          "parentId", "model",    "content", "output",
                                                        "files",         "sources",  "embeds",   "error",   "usage",
                                                        "statusHistory", "done",     "timestamp"};

// The JSON columns, which the server takes as they are written (checked for UTF-8 only when
// the source is not UTF-8).
constexpr scan::Field kJsonFields[] = {scan::content, scan::output,         scan::files, scan::sources,
                                       scan::embeds,  scan::status_history, scan::error, scan::usage};

bool truthy(const Value& v, std::string_view doc) {
    switch (v.type) {
        case Type::absent:
        case Type::null:
        case Type::json_false:
            return false;
        case Type::json_true:
            return true;
        case Type::number:
            return scan::number_is_truthy(v.raw(doc));
        case Type::string:
            return v.end - v.begin > 2;  // more than the two quotes
        case Type::object:
        case Type::array:
            return !v.empty;
    }
    return false;
}

Text text_column(const Value& v, std::string_view doc, std::string& storage) {
    switch (v.type) {
        case Type::absent:
        case Type::null:
            return {true, {}, nullptr, nullptr};
        case Type::json_true:
            return {false, "true", nullptr, nullptr};
        case Type::json_false:
            return {false, "false", nullptr, nullptr};
        case Type::number:
            return {false, python_number_text(v.raw(doc), storage), nullptr, nullptr};
        case Type::string: {
            std::string_view s = scan::string_text(v.raw(doc), storage);
            if (engine::storable_as_text(s)) return {false, s, nullptr, nullptr};
            // Escapes are ASCII: bytes that are not UTF-8 in the literal came from the source as such.
            return engine::valid_utf8(v.raw(doc)) ? kNulOrSurrogate : kNotUtf8;
        }
        case Type::object:
            return {false, {}, "holds a JSON object, which a text column cannot store", "42804"};
        case Type::array:
            return {false, {}, "holds a JSON array, which a text column cannot store", "42804"};
    }
    return {};
}

// `done` as upstream binds message.get("done", True) through SQLAlchemy's Boolean: absent is
// true, null is SQL NULL, a number equal to 0 or 1 is false or true; anything else fails.
enum class Done : std::uint8_t { yes, no, null, unstorable };

Done done_column(const Value& v, std::string_view doc) {
    switch (v.type) {
        case Type::absent:
        case Type::json_true:
            return Done::yes;
        case Type::json_false:
            return Done::no;
        case Type::null:
            return Done::null;
        case Type::number: {
            std::optional<bool> b = python_number_as_bool(v.raw(doc));
            return !b ? Done::unstorable : *b ? Done::yes : Done::no;
        }
        default:
            return Done::unstorable;
    }
}

std::string_view json_column(const Value& v, std::string_view doc) {
    return v.type == Type::absent ? std::string_view("null") : v.raw(doc);
}

void count(TransformOutput& out, SkipRule rule) {
    ++out.skipped[static_cast<std::size_t>(rule)];
}

}  // namespace

const char* skip_rule_name(SkipRule rule) {
    switch (rule) {
        case SkipRule::chat_null:
            return "chat is SQL NULL";
        case SkipRule::chat_falsy:
            return "chat is empty (null, {}, [], \"\", 0, false)";
        case SkipRule::chat_not_json:
            return "chat is a string that does not hold JSON";
        case SkipRule::chat_not_object:
            return "chat is not a JSON object";
        case SkipRule::history_not_object:
            return "chat.history is absent or not an object";
        case SkipRule::messages_not_object:
            return "history.messages is absent or not an object";
        case SkipRule::message_not_object:
            return "message is not an object";
        case SkipRule::role_falsy:
            return "message role is absent or empty";
    }
    return "?";
}

void TransformOutput::clear() {
    rows.clear();
    rejects.clear();
    skipped.fill(0);
}

const std::vector<engine::Column>& chat_message_columns() {
    using engine::ColumnKind;
    static const std::vector<engine::Column> columns = {
        {"id", ColumnKind::text},
        {"chat_id", ColumnKind::text},
        {"user_id", ColumnKind::text},
        {"role", ColumnKind::text},
        {"parent_id", ColumnKind::text},
        {"content", ColumnKind::json},
        {"output", ColumnKind::json},
        {"model_id", ColumnKind::text},
        {"files", ColumnKind::json},
        {"sources", ColumnKind::json},
        {"embeds", ColumnKind::json},
        {"done", ColumnKind::boolean},
        {"status_history", ColumnKind::json},
        {"error", ColumnKind::json},
        {"usage", ColumnKind::json},
        {"created_at", ColumnKind::int8},
        {"updated_at", ColumnKind::int8},
    };
    return columns;
}

std::int64_t normalize_timestamp(std::optional<std::int64_t> t, std::int64_t now) {
    if (!t) return now;
    std::int64_t v = *t;
    if (v > kMillisecondsAbove) v /= 1000;  // positive here, so this is Python's //
    if (v < kMinTimestamp || v > now + 86400) return now;
    return v;
}

struct ChatTransform::Scratch {
    scan::Result result;
    std::string work;                      // a surrogate-disarmed copy of the document, when one is needed
    std::string decoded;                   // the document inside a double-encoded chat
    std::vector<std::string_view> keys;    // each message's decoded key
    std::deque<std::string> escaped_keys;  // storage for keys that held escapes (stable addresses)
    std::vector<std::pair<std::string_view, std::uint32_t>> order;  // for duplicate detection
    std::string text[4];                                            // decoded role, parentId, model, timestamp
};

ChatTransform::ChatTransform(std::int64_t now, bool validate_utf8)
    : now_(now), validate_utf8_(validate_utf8), scratch_(std::make_unique<Scratch>()) {}
ChatTransform::~ChatTransform() = default;

namespace {

// Python dict semantics for repeated message keys: the first position, the last value.
// `keys[i]` is message i's decoded key.
void apply_last_wins(scan::Result& r, std::vector<std::string_view>& keys,
                     std::vector<std::pair<std::string_view, std::uint32_t>>& order) {
    if (r.messages.size() < 2) return;
    order.clear();
    for (std::uint32_t i = 0; i < r.messages.size(); ++i)
        order.emplace_back(keys[i], i);
    std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t i = 0; i < order.size();) {
        std::size_t j = i;
        while (j + 1 < order.size() && order[j + 1].first == order[i].first)
            ++j;
        if (j > i) {
            r.messages[order[i].second] = r.messages[order[j].second];
            for (std::size_t k = i + 1; k <= j; ++k)
                r.messages[order[k].second].live = false;
        }
        i = j + 1;
    }
}

struct MessageContext {
    const ChatRow& chat;
    std::string_view doc;
    const scan::Message& m;
    std::string_view key;         // decoded
    std::string* text;            // four scratch strings for decoded text columns
    bool check_utf8;              // the source is not UTF-8: JSON columns are checked too
    const char* bad_chat_column;  // "chat_id" or "user_id" when the chat row's own value is not UTF-8
    bool doc_is_text;             // `doc` is the chat's text itself (not decoded): values may stay in it
};

void append_message_id(std::string& out, const MessageContext& c) {
    out.append(c.chat.id);
    out.push_back('-');
    out.append(c.key);
}

// The message as the reject's row: valid UTF-8 JSON (bytes that are not UTF-8 as \u00XX escapes).
std::string message_json(const MessageContext& c) {
    std::string id;
    append_message_id(id, c);
    std::string out = "{\"id\":";
    engine::append_json_string(out, id);
    out += ",\"chat_id\":";
    engine::append_json_string(out, c.chat.id);
    out += ",\"user_id\":";
    engine::append_json_string(out, c.chat.user_id);
    for (std::size_t f = 0; f < scan::field_count; ++f) {
        const Value& v = c.m.fields[f];
        if (v.type == Type::absent) continue;
        out += ",\"";
        out += kFieldNames[f];
        out += "\":";
        engine::append_json_escaping_invalid_utf8(out, v.raw(c.doc));
    }
    out.push_back('}');
    return out;
}

void reject_message(const MessageContext& c, const char* column, const Text& why, TransformOutput& out) {
    engine::Reject& rej = out.rejects.emplace_back();
    append_message_id(rej.key, c);
    rej.group.assign(c.chat.id);
    rej.sqlstate = why.sqlstate;
    rej.message = std::string(column) + " " + why.problem;
    rej.row_json = message_json(c);
}

// Rejects the message when the id, a JSON column or the chat row's own values cannot be stored.
bool rejected_for_bytes(const MessageContext& c, TransformOutput& out) {
    if (!engine::storable_as_text(c.key)) {
        Text why = engine::valid_utf8(c.m.key.raw(c.doc)) ? kNulOrSurrogate : kNotUtf8;
        reject_message(c, "the message key", why, out);
        return true;
    }
    if (!c.check_utf8) return false;
    if (c.bad_chat_column) {
        reject_message(c, c.bad_chat_column, kNotUtf8, out);
        return true;
    }
    for (scan::Field f : kJsonFields) {
        if (!engine::valid_utf8(c.m.fields[f].raw(c.doc))) {
            reject_message(c, kFieldNames[f], kNotUtf8, out);
            return true;
        }
    }
    return false;
}

// Emits the message's row, or rejects it when a column cannot take its value.
void emit_row(const MessageContext& c, std::int64_t now, TransformOutput& out) {
    const scan::Message& m = c.m;
    Text role = text_column(m.fields[scan::role], c.doc, c.text[0]);
    Text parent = text_column(m.fields[scan::parent_id], c.doc, c.text[1]);
    Text model = text_column(m.fields[scan::model], c.doc, c.text[2]);
    if (role.problem) return reject_message(c, "role", role, out);
    if (parent.problem) return reject_message(c, "parentId", parent, out);
    if (model.problem) return reject_message(c, "model", model, out);
    if (rejected_for_bytes(c, out)) return;
    Done done = done_column(m.fields[scan::done], c.doc);
    if (done == Done::unstorable) {
        return reject_message(c, "done",
                              {false,
                               {},
                               "is neither true, false, null, 0 nor 1, which the boolean "
                               "column done cannot store",
                               "22P02"},
                              out);
    }
    const Value& ts = m.fields[scan::timestamp];
    std::optional<std::int64_t> t;
    if (ts.type == Type::absent)
        t = now;
    else if (ts.type == Type::number)
        t = python_int_of_float(ts.raw(c.doc), false);
    else if (ts.type == Type::string)
        t = python_int_of_float(scan::string_text(ts.raw(c.doc), c.text[3]), true);
    std::int64_t created = normalize_timestamp(t, now);

    std::string_view key = c.key;
    auto size = [](const Text& v) { return v.is_null ? 0 : v.text.size(); };
    const std::size_t outside_from = c.doc_is_text ? out.outside_from : std::numeric_limits<std::size_t>::max();
    std::size_t payload = c.chat.id.size() + 1 + key.size() + c.chat.id.size() + c.chat.user_id.size() + size(role) +
                          size(parent) + size(model) + (done == Done::null ? 0 : 1) + 2 * 8;
    for (scan::Field f : kJsonFields) {
        const std::size_t n = json_column(m.fields[f], c.doc).size();
        payload += n < outside_from ? n : 0;
    }

    out.rows.starts.push_back(out.rows.tuples.size());
    engine::TupleEncoder row(out.rows.tuples);
    auto text = [&](const Text& v) { v.is_null ? row.null() : row.bytes(v.text); };
    auto json = [&](scan::Field f) {
        const std::string_view value = json_column(m.fields[f], c.doc);
        if (value.size() < outside_from) return row.bytes(value);
        out.rows.outside.push_back({row.length_only(value.size()), value});
    };
    row.begin_row(17, payload);
    char* id = row.reserve(c.chat.id.size() + 1 + key.size());
    std::memcpy(id, c.chat.id.data(), c.chat.id.size());
    id[c.chat.id.size()] = '-';
    std::memcpy(id + c.chat.id.size() + 1, key.data(), key.size());
    row.bytes(c.chat.id);
    row.bytes(c.chat.user_id);
    text(role);
    text(parent);
    json(scan::content);
    json(scan::output);
    text(model);
    json(scan::files);
    json(scan::sources);
    json(scan::embeds);
    if (done == Done::null)
        row.null();
    else
        row.boolean(done == Done::yes);
    json(scan::status_history);
    json(scan::error);
    json(scan::usage);
    row.int8(created);
    row.int8(created);
}

}  // namespace

void ChatTransform::run(const ChatRow& chat, TransformOutput& out) {
    if (!chat.chat) return count(out, SkipRule::chat_null);
    std::string_view doc = *chat.chat;
    scan::Result& r = scratch_->result;

    auto reject_chat = [&](const std::string& why) {
        engine::Reject& rej = out.rejects.emplace_back();
        rej.key.assign(chat.id);
        rej.group.assign(chat.id);
        rej.sqlstate = "22P02";
        rej.message = "chat " + why;
        rej.row_json = "{\"id\":";
        engine::append_json_string(rej.row_json, chat.id);
        rej.row_json += ",\"user_id\":";
        engine::append_json_string(rej.row_json, chat.user_id);
        rej.row_json += ",\"chat\":";
        engine::append_json_string(rej.row_json, doc);
        rej.row_json += "}";
    };
    // Bytes that are not UTF-8 do not stop the scan: only the messages whose columns they reach
    // are rejected (emit_row), as PostgreSQL would refuse those rows and no others.
    scan::scan_document(doc, r, scratch_->work, validate_utf8_);
    if (r.outcome == scan::Outcome::unparsable) return reject_chat("JSON could not be parsed: " + r.error);

    if (r.top.type == Type::string) {  // double-encoded: the document is inside the string
        if (r.top.end - r.top.begin == 2) return count(out, SkipRule::chat_falsy);
        if (!scan::decode_string_literal(r.top.raw(doc), scratch_->decoded, scan::LoneSurrogate::keep_escape)) {
            return count(out, SkipRule::chat_not_json);
        }
        doc = scratch_->decoded;
        scan::scan_document(doc, r, scratch_->work, /*strict=*/true);
        if (r.outcome == scan::Outcome::unparsable) return count(out, SkipRule::chat_not_json);
    } else if (!truthy(r.top, doc)) {
        return count(out, SkipRule::chat_falsy);
    }
    switch (r.outcome) {
        case scan::Outcome::top_not_object:
            return count(out, SkipRule::chat_not_object);
        case scan::Outcome::history_not_object:
            return count(out, SkipRule::history_not_object);
        case scan::Outcome::messages_not_object:
            return count(out, SkipRule::messages_not_object);
        default:
            break;
    }
    std::vector<std::string_view>& keys = scratch_->keys;
    keys.clear();
    std::size_t escaped = 0;
    for (const scan::Message& m : r.messages) {
        std::string_view raw = m.key.raw(doc);
        if (raw.find('\\') == std::string_view::npos) {
            keys.push_back(raw.substr(1, raw.size() - 2));
            continue;
        }
        if (escaped == scratch_->escaped_keys.size()) scratch_->escaped_keys.emplace_back();
        keys.push_back(scan::string_text(raw, scratch_->escaped_keys[escaped++]));
    }
    apply_last_wins(r, keys, scratch_->order);

    const char* bad_chat_column = !validate_utf8_                     ? nullptr
                                  : !engine::valid_utf8(chat.id)      ? "chat_id"
                                  : !engine::valid_utf8(chat.user_id) ? "user_id"
                                                                      : nullptr;
    const bool doc_is_text = doc.data() == chat.chat->data();  // else the scratch copy of a double-encoded chat
    for (std::size_t i = 0; i < r.messages.size(); ++i) {
        const scan::Message& m = r.messages[i];
        if (!m.live) continue;
        if (!m.is_object) {
            count(out, SkipRule::message_not_object);
            continue;
        }
        if (!truthy(m.fields[scan::role], doc)) {
            count(out, SkipRule::role_falsy);
            continue;
        }
        emit_row({chat, doc, m, keys[i], scratch_->text, validate_utf8_, bad_chat_column, doc_is_text}, now_, out);
    }
}

}  // namespace sluice::stages
