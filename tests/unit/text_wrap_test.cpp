// Lines broken at spaces for a narrow terminal: never inside a word, spacing kept where a line fits.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "engine/text_wrap.h"
#include "tests/lib/wrapped_text.h"

using sluice::testing::words_of;

using sluice::engine::columns;
using sluice::engine::wrap;
using sluice::engine::wrap_block;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

// Each line fits `width`, unless it is one word (after its indentation) that cannot.
void check_fits(const std::string& text, std::size_t width) {
    const std::vector<std::string> wide = sluice::testing::too_wide(text, width);
    CHECK_MESSAGE(wide.empty(), "wider than " << width << ": '" << wide.front() << "'");
}

}  // namespace

TEST_CASE("a line is broken at spaces, its continuation indented, and no word is cut") {
    const std::string line =
        "  backfill         6.9s  complete: 10313 chats read, 150614 messages written, "
        "0 already present, 330 rejected";
    for (std::size_t width : {80, 60, 40, 20}) {
        const std::string text = wrap(line, 4, width);
        check_fits(text, width);
        CHECK_MESSAGE(words_of(text) == words_of(line), "words changed at " << width << ":\n" << text);
        const std::vector<std::string> lines = lines_of(text);
        for (std::size_t i = 1; i < lines.size(); ++i)
            CHECK_MESSAGE(lines[i].rfind("    ", 0) == 0, "a continuation without its indent: " << lines[i]);
    }
    CHECK_MESSAGE(wrap(line, 4, 200) == line + "\n", "a line that fits was changed");
    CHECK_MESSAGE(wrap("  a  b   c", 2, 80) == "  a  b   c\n", "the spacing of a line that fits was changed");
}

TEST_CASE("a word wider than the room stays whole on a line of its own") {
    const std::string text = wrap("see \"public\".\"a_very_long_table_name_indeed\" now", 2, 20);
    CHECK_MESSAGE(text == "see\n  \"public\".\"a_very_long_table_name_indeed\"\n  now\n", text);
}

TEST_CASE("columns count UTF-8 characters, not bytes") {
    CHECK(columns("schéma") == 6);
    CHECK_MESSAGE(wrap("ééééé ééééé", 0, 5) == "ééééé\nééééé\n", wrap("ééééé ééééé", 0, 5));
}

TEST_CASE("a block keeps its shape: each line's continuation goes two columns under it") {
    const std::string block =
        "  backfill  complete: 10 chats read, 20 messages written\n"
        "    skipped by rule:\n"
        "         2  chat is SQL NULL\n";
    const std::string text = wrap_block(block, 30);
    CHECK_MESSAGE(text ==
                      "  backfill  complete: 10 chats\n"
                      "    read, 20 messages written\n"
                      "    skipped by rule:\n"
                      "         2  chat is SQL NULL\n",
                  text);
}

TEST_CASE("--help fits a narrow terminal without cutting a word") {
    using sluice::config::Command;
    for (Command topic : {Command::help, Command::migrate, Command::check, Command::verify, Command::cleanup}) {
        const std::string wide = sluice::config::help_text(topic, 80);
        for (std::size_t width : {60, 40}) {
            const std::string narrow = sluice::config::help_text(topic, width);
            check_fits(narrow, width);
            CHECK_MESSAGE(words_of(narrow) == words_of(wide), "a word was cut or lost at " << width << " columns");
        }
    }
}
