// The --log-file: every line sluice writes, each with its date, time and level, appended.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>

#include <filesystem>
#include <fstream>
#include <iterator>
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
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
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

namespace {

// What `write` prints on stderr (fd 2), read back from a file it was pointed at meanwhile.
template <typename Write>
std::string stderr_of(const std::string& dir, Write write) {
    const std::string path = dir + "/stderr";
    std::fflush(stderr);
    const int saved = dup(2);
    const int file = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(file, 2);
    close(file);
    write();
    std::fflush(stderr);
    dup2(saved, 2);
    close(saved);
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("a warning of the report is never hidden: -q prints it on stderr, the file has it at level warning") {
    std::string dir = (std::filesystem::temp_directory_path() / "sluice-log-test-XXXXXX").string();
    REQUIRE(mkdtemp(dir.data()) != nullptr);
    logging::Options options;
    options.verbosity = logging::Verbosity::quiet;
    options.file = dir + "/run.log";
    logging::configure(options);
    const std::string said = stderr_of(dir, [] {
        logging::report_warning("3 messages were not stored; each is in table \"public\".\"sluice_reject\"",
                                "    WARNING: 3 messages were not stored; each is in table\n"
                                "      \"public\".\"sluice_reject\"\n");
        logging::warn("server warning: disk nearly full");
    });
    logging::configure({});
    CHECK_MESSAGE(said.find("sluice: warning: 3 messages were not stored; each is in table") != std::string::npos,
                  "-q hid the warning: " << said);
    const std::vector<std::string> lines = lines_of(dir + "/run.log");
    REQUIRE_MESSAGE(lines.size() == 2, "expected one line per warning in the file, got " << lines.size());
    CHECK_MESSAGE(
        lines[0].find("[warning] 3 messages were not stored; each is in table \"public\".\"sluice_reject\"") !=
            std::string::npos,
        "not one line at level warning: " << lines[0]);
    CHECK_MESSAGE(lines[1].find("[warning] server warning: disk nearly full") != std::string::npos, lines[1]);
    const std::vector<std::string> kept = logging::warnings();
    REQUIRE(kept.size() >= 2);
    CHECK(kept[kept.size() - 2] == "3 messages were not stored; each is in table \"public\".\"sluice_reject\"");
    CHECK(kept.back() == "server warning: disk nearly full");
    std::filesystem::remove_all(dir);
}
