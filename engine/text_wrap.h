// Text laid out for a reader's terminal: lines broken at spaces, never inside a word, so that a
// terminal narrower than the classic 80 columns does not cut words in two when it wraps them.
// Used by --help, the banner and the summary. Pure functions but report_width(), which asks the
// terminal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::engine {

// The width of the texts laid out for 80 columns (--help, the banner) on `fd`: the terminal's width
// (else $COLUMNS) when narrower; 80 when neither says (a pipe, a file, a container's log).
std::size_t report_width(int fd);

// The most columns a line may take on `fd` to be seen whole: the terminal's (else $COLUMNS); no limit
// when neither says, where nothing wraps it (a long summary line stays one line for a script).
std::size_t fit_width(int fd);

// One line (no '\n' in it) broken at spaces into lines of at most `width` columns, each after the
// first starting with `indent` spaces; a word longer than the room left stays whole, on a line of
// its own. Spacing inside a line that fits is kept as it is. Every line ends with '\n'.
std::string wrap(std::string_view line, std::size_t indent, std::size_t width);

// Each line of `text` wrapped as wrap() does, its continuation lines indented two columns more than
// the line itself: a report's block (lines indented under a headline) keeps its shape.
std::string wrap_block(std::string_view text, std::size_t width);

// Columns `text` takes: UTF-8 code points (each taken as one column).
std::size_t columns(std::string_view text);

}  // namespace sluice::engine
