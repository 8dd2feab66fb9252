// Each decided chat against its column: agree, disagree, rejected.
#include "stages/current_message/verify_values.h"

#include <algorithm>
#include <string>

#include "engine/copy_binary.h"

namespace sluice::stages::current_message {

namespace {

std::string quoted(std::optional<std::string_view> text) {
    if (!text) return "NULL";
    std::string out;
    engine::append_json_string(out, *text);
    return out;
}

// Nothing to write, or the column holds a value upstream could have written as well.
bool agrees(const ChatInput& chat, const Decision& d) {
    if (!d.write(chat.current)) return true;
    return chat.current && std::find(d.ties.begin(), d.ties.end(), *chat.current) != d.ties.end();
}

}  // namespace

void ValueCheck::check(const ChatKeysBatch& batch) {
    for (std::size_t i = 0; i < batch.count(); ++i)
        check_chat(batch.chats[i], batch.decisions[i]);
}

void ValueCheck::check_chat(const ChatInput& chat, const Decision& d) {
    ++tally_.chats;
    if (!d.reject.empty()) {
        if (known_reject_(chat.id))
            ++tally_.rejected;
        else
            tally_.unrecorded.add(quoted(chat.id) + " (" + d.reject + ")");
        return;
    }
    if (agrees(chat, d)) {
        ++tally_.agree;
        return;
    }
    tally_.disagree.add(quoted(chat.id) + ": holds " + quoted(chat.current) + ", the rule gives " + quoted(d.result));
}

}  // namespace sluice::stages::current_message
