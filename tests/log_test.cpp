// The --log-file: every line sluice writes, each with its date, time and level, appended.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "engine/log.h"

namespace logging = sluice::engine::log;

namespace {

std::vector<std::string> lines_of(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

}  // namespace

TEST_CASE("the log file gets every line with its time and level, the details that -v alone shows on stderr included") {
    std::string dir = (std::filesystem::temp_directory_path() / "sluice-log-test-XXXXXX").string();
    REQUIRE(mkdtemp(dir.data()) != nullptr);
    const std::string file = dir + "/run.log";
    std::ofstream(file) << "an earlier run's line\n";
    logging::Options options;
    options.verbosity = logging::Verbosity::quiet;  // the console stays quiet: this test reads the file
    options.file = file;
    logging::configure(options);
    CHECK(logging::has_file());
    CHECK(logging::quiet());
    logging::report("  backfill   1.0s  complete\n    this run: 1 chat\n");
    logging::debug("index connection 1 (pid 7): building ix_chat_message_user_id");
    logging::file_only("phase 2/5 backfill: 40% (4.0s in)");
    logging::configure({});  // back to the defaults: the file is closed
    CHECK(!logging::has_file());

    const std::vector<std::string> lines = lines_of(file);
    REQUIRE_MESSAGE(lines.size() == 5, "expected the earlier line and four more, got " << lines.size());
    CHECK_MESSAGE(lines[0] == "an earlier run's line", "the file was not appended to");
    const std::regex stamped(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [+-]\d\d:\d\d \[(info|debug)\] .+)");
    for (std::size_t i = 1; i < lines.size(); ++i)
        CHECK_MESSAGE(std::regex_match(lines[i], stamped), "no time or level: " << lines[i]);
    CHECK_MESSAGE(lines[1].find("[info]   backfill   1.0s  complete") != std::string::npos, lines[1]);
    CHECK_MESSAGE(lines[2].find("[info]     this run: 1 chat") != std::string::npos, "a block is one line a line");
    CHECK_MESSAGE(lines[3].find("[debug] index connection 1") != std::string::npos, lines[3]);
    CHECK_MESSAGE(lines[4].find("[info] phase 2/5 backfill") != std::string::npos, lines[4]);
    std::filesystem::remove_all(dir);
}

TEST_CASE("a log file that cannot be opened is refused, naming the option and the file") {
    logging::Options options;
    options.file = "/nonexistent-dir/sluice.log";
    try {
        logging::configure(options);
        FAIL("a log file in a missing directory was accepted");
    } catch (const std::runtime_error& e) {
        CHECK_MESSAGE(std::string(e.what()).find("--log-file: cannot write '/nonexistent-dir/sluice.log'") == 0,
                      e.what());
    }
    CHECK_MESSAGE(!std::filesystem::exists("/nonexistent-dir"), "the refused log file's directory was made");
    options.file = std::filesystem::temp_directory_path().string();  // a directory
    CHECK_THROWS_AS(logging::configure(options), std::runtime_error);
    logging::configure({});
}
