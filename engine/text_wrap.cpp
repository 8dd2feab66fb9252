// Breaking report lines at spaces.
#include "engine/text_wrap.h"

#include <algorithm>
#include <limits>

#include "engine/progress_line.h"

namespace sluice::engine {

namespace {

constexpr std::size_t kClassicWidth = 80;  // the layout's own width: wider terminals get it as it is

bool continuation_byte(char c) {
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

std::size_t leading_spaces(std::string_view s) {
    const std::size_t first = s.find_first_not_of(' ');
    return first == std::string_view::npos ? s.size() : first;
}

std::string_view trim_right(std::string_view s) {
    while (!s.empty() && s.back() == ' ')
        s.remove_suffix(1);
    return s;
}

// Where to break `s`: the last space whose text before it fits `width` columns, past the first word
// after the indentation `floor`; else the first space after that word (a word wider than the room
// stays whole); npos when no space follows a word.
std::size_t break_at(std::string_view s, std::size_t floor, std::size_t width) {
    std::size_t cols = 0, best = std::string_view::npos;
    bool word = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == ' ' && word) {
            if (cols > width) return best != std::string_view::npos ? best : i;
            best = i;
        }
        word = word || (i >= floor && s[i] != ' ');
        if (!continuation_byte(s[i])) ++cols;  // cols: the columns of s[0, i]
    }
    return best;
}

}  // namespace

std::size_t report_width(int fd) {
    return std::min(kClassicWidth, terminal_columns(fd).value_or(kClassicWidth));
}

std::size_t fit_width(int fd) {
    return terminal_columns(fd).value_or(std::numeric_limits<std::size_t>::max());
}

std::size_t columns(std::string_view text) {
    const auto counted = std::count_if(text.begin(), text.end(), [](char c) { return !continuation_byte(c); });
    return static_cast<std::size_t>(counted);
}

std::string wrap(std::string_view line, std::size_t indent, std::size_t width) {
    std::string out, rest(line);
    std::size_t floor = leading_spaces(line);
    while (columns(rest) > width) {
        const std::size_t cut = break_at(rest, floor, width);
        if (cut == std::string_view::npos) break;
        out.append(trim_right(std::string_view(rest).substr(0, cut))).append("\n");
        const std::string_view after = std::string_view(rest).substr(cut);
        rest = std::string(indent, ' ') + std::string(after.substr(leading_spaces(after)));
        floor = indent;
    }
    return out + rest + "\n";
}

std::string wrap_block(std::string_view text, std::size_t width) {
    std::string out;
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        const std::string_view line = text.substr(0, end);
        out += wrap(line, leading_spaces(line) + 2, width);
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
    return out;
}

}  // namespace sluice::engine
