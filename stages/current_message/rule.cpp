// SPEC §6 step by step, in the order upstream's Python evaluates it (so that every chat it
// raises on is a reject here): candidates, the blob's message map, then path A or path B.
#include "stages/current_message/rule.h"

#include <algorithm>

#include "engine/utf8.h"
#include "stages/current_message/python_compare.h"
#include "stages/shared/python_number.h"

namespace sluice::stages::current_message {

namespace {

// `s` without a leading "<chat id>-".
std::string_view strip(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix ? s.substr(prefix.size()) : s;
}

// Why psycopg2 or PostgreSQL cannot take `s` as text (empty: it can).
std::string unsendable(std::string_view s, const char* what) {
    if (s.find('\0') != std::string_view::npos) return std::string(what) + ": NUL character";
    if (!engine::valid_utf8(s)) return std::string(what) + ": lone UTF-16 surrogate";
    return {};
}

}  // namespace

std::optional<std::string_view> Decision::write(std::optional<std::string_view> current) const {
    if (!reject.empty() || !resolved || result.empty() || result == current) return std::nullopt;
    return std::string_view(result);
}

void Rule::decide(const ChatInput& chat, Decision& out) {
    out = Decision{};
    prefix_.assign(chat.id);
    prefix_.push_back('-');
    collect_row_keys(chat);
    out.path = rows_.empty() ? Path::blob : Path::rows;
    if (chat.chat)
        blob_.parse(*chat.chat);  // a blob that is not JSON counts as {}
    else
        blob_.parse("{}");
    const std::uint32_t top = blob_.top();
    const std::uint32_t doc = top != kNone && blob_.node(top).kind == Kind::object ? top : kNone;
    const std::uint32_t got = blob_.get(doc, "history");
    const std::uint32_t history = got != kNone && blob_.node(got).kind == Kind::object ? got : kNone;
    if (!collect_candidates(chat, doc, history, out)) return;
    if (!collect_blob_messages(doc, history, out)) return;  // built on either path, as upstream does
    out.path == Path::rows ? decide_rows(out) : decide_blob(out);
    if (!out.reject.empty()) {
        out.resolved = false;
        out.ties.clear();
    }
}

// Non-empty strings, stripped, each once: the column, history.currentId, currentId,
// branchPointMessageId. Upstream binds them all in one query: any it cannot send raises.
bool Rule::collect_candidates(const ChatInput& chat, std::uint32_t doc, std::uint32_t history, Decision& out) {
    candidates_.clear();
    auto consider = [&](std::optional<std::string_view> c) {
        if (!c || c->empty()) return;
        const std::string_view s = strip(*c, prefix_);
        for (std::string_view seen : candidates_)
            if (seen == s) return;
        candidates_.push_back(s);
    };
    auto node_text = [&](std::uint32_t v) -> std::optional<std::string_view> {
        if (v == kNone || blob_.node(v).kind != Kind::string) return std::nullopt;
        return std::string_view(blob_.node(v).text);
    };
    consider(chat.current);
    consider(node_text(blob_.get(history, "currentId")));
    consider(node_text(blob_.get(doc, "currentId")));
    consider(node_text(blob_.get(doc, "branchPointMessageId")));
    for (std::string_view c : candidates_) {
        out.reject = unsendable(c, "candidate");
        if (!out.reject.empty()) return false;
    }
    return true;
}

// Path B's map: history.messages when it is a non-empty object, else the top-level list's
// objects with a truthy id (a list or dict id raises: unhashable), a repeated key keeping its
// first place and its last message.
bool Rule::collect_blob_messages(std::uint32_t doc, std::uint32_t history, Decision& out) {
    entries_.clear();
    string_keys_.clear();
    other_keys_.clear();
    const std::uint32_t map = blob_.get(history, "messages");
    blob_.dict_items(map, scratch_);
    for (std::uint32_t v : scratch_) {
        string_keys_.emplace(blob_.node(v).key, entries_.size());
        entries_.push_back(Entry{v, true, v});
    }
    const std::uint32_t list = blob_.get(doc, "messages");
    if (!entries_.empty() || list == kNone || blob_.node(list).kind != Kind::array) return true;
    for (std::uint32_t m = blob_.node(list).first; m != kNone; m = blob_.node(m).next)
        if (blob_.node(m).kind == Kind::object && !insert_list_message(m, out)) return false;
    return true;
}

bool Rule::insert_list_message(std::uint32_t message, Decision& out) {
    const std::uint32_t id = blob_.get(message, "id");
    if (!py_truthy(blob_, id)) return true;
    if (!py_hashable(blob_, id)) {
        out.reject = std::string("messages[].id: unhashable type: '") + py_type_name(blob_, id) + "'";
        return false;
    }
    const std::size_t at = find_blob_key(id);
    if (at != entries_.size()) {
        entries_[at].value = message;  // the first key stays, with the last message
        return true;
    }
    if (blob_.node(id).kind == Kind::string)
        string_keys_.emplace(blob_.node(id).text, entries_.size());
    else
        other_keys_.push_back(entries_.size());
    entries_.push_back(Entry{id, false, message});
    return true;
}

// The entry whose key equals `probe` (a hashable value) under Python's ==, or entries_.size().
std::size_t Rule::find_blob_key(std::uint32_t probe) const {
    const Kind k = probe == kNone ? Kind::null : blob_.node(probe).kind;
    if (k == Kind::string) {
        auto it = string_keys_.find(blob_.node(probe).text);
        return it == string_keys_.end() ? entries_.size() : it->second;
    }
    if (k == Kind::null) return entries_.size();  // no key is None: ids are truthy
    for (std::size_t i : other_keys_)
        if (py_equal(blob_, entries_[i].key, probe)) return i;
    return entries_.size();
}

// Path A's keys: each row's stripped id (an empty one is no key), with its stripped parent and
// `created_at or 0`; a key given twice keeps its first place and the last row's values.
void Rule::collect_row_keys(const ChatInput& chat) {
    rows_.clear();
    row_index_.clear();
    for (const MessageKey& r : chat.rows) {
        const std::string_view key = strip(r.id, prefix_);
        if (key.empty()) continue;
        RowKey k{key, r.parent_id ? std::optional(strip(*r.parent_id, prefix_)) : std::nullopt,
                 r.created_at.value_or(0)};
        auto [it, fresh] = row_index_.emplace(key, rows_.size());
        if (fresh)
            rows_.push_back(k);
        else
            rows_[it->second] = k;
    }
}

// Path A: the first candidate that is a key; else the newest leaf (every tie is an answer).
void Rule::decide_rows(Decision& out) {
    for (std::string_view c : candidates_) {
        if (row_index_.count(c)) {
            out.resolved = true;
            out.result.assign(c);
            return;
        }
    }
    is_parent_.assign(rows_.size(), 0);
    for (const RowKey& r : rows_) {
        if (!r.parent) continue;
        auto it = row_index_.find(*r.parent);
        if (it != row_index_.end()) is_parent_[it->second] = 1;
    }
    const bool cycle = std::find(is_parent_.begin(), is_parent_.end(), 0) == is_parent_.end();
    std::optional<std::int64_t> newest;
    for (std::size_t i = 0; i < rows_.size(); ++i)
        if (cycle || !is_parent_[i]) newest = std::max(newest.value_or(rows_[i].time), rows_[i].time);
    for (std::size_t i = 0; i < rows_.size(); ++i)
        if ((cycle || !is_parent_[i]) && rows_[i].time == *newest) out.ties.emplace_back(rows_[i].key);
    out.resolved = true;
    out.result = out.ties.front();
    if (out.ties.size() == 1) out.ties.clear();
}

// Path B: the first candidate that is a key (an empty one found first: the leaf decides);
// else the newest leaf, the first in the map's order among equals; nothing from an empty map.
void Rule::decide_blob(Decision& out) {
    for (std::string_view c : candidates_) {
        if (!string_keys_.count(c)) continue;
        if (c.empty()) break;
        out.resolved = true;
        out.result.assign(c);
        return;
    }
    if (entries_.empty()) return;
    is_parent_.assign(entries_.size(), 0);
    for (const Entry& e : entries_) {
        const std::uint32_t p = blob_.node(e.value).kind == Kind::object ? blob_.get(e.value, "parentId") : kNone;
        if (!py_hashable(blob_, p)) {
            out.reject = std::string("parentId: unhashable type: '") + py_type_name(blob_, p) + "'";
            return;
        }
        const std::size_t at = find_blob_key(p);
        if (at != entries_.size()) is_parent_[at] = 1;
    }
    const bool cycle = std::find(is_parent_.begin(), is_parent_.end(), 0) == is_parent_.end();
    auto time = [&](const Entry& e) {  // `timestamp or 0`; a message that is no dict: 0
        const std::uint32_t t = blob_.node(e.value).kind == Kind::object ? blob_.get(e.value, "timestamp") : kNone;
        return py_truthy(blob_, t) ? t : blob_.zero();
    };
    std::size_t best = entries_.size();
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        if (!cycle && is_parent_[i]) continue;
        std::string error;
        if (best == entries_.size() || py_greater(blob_, time(entries_[i]), time(entries_[best]), error)) best = i;
        if (!error.empty()) {
            out.reject = "timestamps: " + error;
            return;
        }
    }
    blob_key_text(entries_[best], out);
}

// The text the column stores for a path-B key: a str as it is (unless psycopg2 cannot send
// it), a number or bool as psycopg2's literal read by PostgreSQL.
bool Rule::blob_key_text(const Entry& e, Decision& out) const {
    const Node& n = blob_.node(e.key);
    if (e.named || n.kind == Kind::string) {
        const std::string& text = e.named ? n.key : n.text;
        out.reject = unsendable(text, "result");
        if (!out.reject.empty()) return false;
        out.result = text;
    } else if (n.kind == Kind::boolean) {
        out.result = n.truth ? "true" : "false";
    } else {
        std::string storage;  // "NaN", "Infinity", "-Infinity" pass through as written, as PostgreSQL prints them
        out.result.assign(python_number_text(n.text, storage));
    }
    out.resolved = true;
    return true;
}

}  // namespace sluice::stages::current_message
