// Checks on text broken into lines for a terminal, shared by the unit and the database tests.
#pragma once

#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

namespace sluice::testing {

// The words of `text`, in order: the same list before and after a re-wrap means no word was cut.
// An option's "default: X; env: Y" is two lines where one is too narrow: a word's final ';' goes.
inline std::vector<std::string> words_of(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> words;
    for (std::string w; in >> w;)
        words.push_back(w.back() == ';' ? w.substr(0, w.size() - 1) : w);
    return words;
}

// The lines of `text` wider than `width` columns (UTF-8 characters) that a terminal would have to
// cut: those with a space after their indentation (a single word wider than the terminal cannot
// be helped).
inline std::vector<std::string> too_wide(const std::string& text, std::size_t width) {
    std::vector<std::string> wide;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        std::size_t columns = 0;
        for (char c : line)
            columns += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        const std::size_t first = line.find_first_not_of(' ');
        if (columns > width && first != std::string::npos && line.find(' ', first) != std::string::npos)
            wide.push_back(line);
    }
    return wide;
}

}  // namespace sluice::testing
