// A chat blob as upstream's 9a1b2c3d4e5f migration sees it after json.loads, kept only as far as
// SPEC §6 reads it: the top-level candidates, history, history.messages and top-level
// `messages` with each message's id, parentId and timestamp (those three whole, since Python
// compares and hashes them). RapidJSON's SAX reader parses; every other member is skipped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::stages::current_message {

enum class Kind : std::uint8_t { null, boolean, number, string, array, object };

inline constexpr std::uint32_t kNone = 0xFFFFFFFF;  // no node: an absent member, or Python's None

// One JSON value. Children (kept ones only) are a linked list in document order.
struct Node {
    Kind kind = Kind::null;
    bool truth = false;           // a boolean's value
    std::string text;             // a string's decoded bytes (a lone surrogate in generalized
                                  // UTF-8: ED A0..BF xx); a number's literal ("NaN", "Infinity",
                                  // "-Infinity" only inside a double-encoded blob)
    std::string key;              // the member's name, when the parent is an object
    std::uint32_t count = 0;      // members or elements in the document, kept or not
    std::uint32_t first = kNone;  // first kept child
    std::uint32_t next = kNone;   // next kept sibling
};

// The parsed blob. Not thread-safe; one per parse thread, reused from chat to chat.
class Blob {
public:
    // Reads `chat`, the column as `chat::text` gives it, as upstream does: json.loads, and when
    // that gives a string, json.loads of its contents (Python's grammar then: NaN and Infinity
    // allowed, integers of at most 4300 digits, no control characters in strings). False when
    // the inner document is not JSON (upstream's `except ValueError`: the blob counts as {}),
    // or the outer one is not (never, for text PostgreSQL's json accepted).
    bool parse(std::string_view chat);

    const Node& node(std::uint32_t i) const { return nodes_[i]; }
    // The document's value; kNone when it was not JSON (then it counts as {}).
    std::uint32_t top() const;
    // Python's int 0: what `x or 0` gives for a falsy x.
    std::uint32_t zero() const { return zero_; }
    // dict.get(name) on the object `object`: its last member of that name, or kNone.
    std::uint32_t get(std::uint32_t object, std::string_view name) const;
    // `object` as a Python dict: each name once, at its first place, with its last value.
    void dict_items(std::uint32_t object, std::vector<std::uint32_t>& out) const;

private:
    bool parse_text(std::string_view text, bool python_grammar);
    std::vector<Node> nodes_;
    std::uint32_t zero_ = kNone;
    std::string work_, inner_;
};

}  // namespace sluice::stages::current_message
