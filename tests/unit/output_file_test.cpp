// engine/output_file: an export replaces a regular file whole, and writes a device, a FIFO or a
// symlink's target without replacing the device, the FIFO or the link.
#include <doctest/doctest.h>

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "engine/output_file.h"

namespace fs = std::filesystem;
using sluice::engine::OutputFile;
using sluice::engine::write_output_file;

namespace {

class Folder {
public:
    Folder() {
        std::string pattern = (fs::temp_directory_path() / "sluice-output-test-XXXXXX").string();
        REQUIRE_MESSAGE(mkdtemp(pattern.data()) != nullptr, "mkdtemp failed in " << pattern);
        path_ = pattern;
    }
    ~Folder() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    fs::path path_;
};

std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream all;
    all << in.rdbuf();
    return all.str();
}

bool is_char_device(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
}

}  // namespace

TEST_CASE("an export replaces a regular file whole and leaves no partial file; an unfinished one leaves the old") {
    Folder dir;
    const std::string path = dir.file("r.jsonl");
    std::ofstream(path) << "old\n";
    write_output_file(path, "test export", "new\n");
    CHECK_MESSAGE(read(path) == "new\n", "the file was not replaced");
    CHECK_MESSAGE(!fs::exists(path + ".partial"), "the partial file was left");
    {
        OutputFile unfinished(path, "test export");
        unfinished.write("half");
    }
    CHECK_MESSAGE(read(path) == "new\n", "an unfinished export touched the file");
    CHECK_MESSAGE(!fs::exists(path + ".partial"), "an unfinished export left its partial file");
}

TEST_CASE("an export through a symlink writes the link's target, and the link stays a link") {
    Folder dir;
    const std::string target = dir.file("target.jsonl"), link = dir.file("link.jsonl");
    std::ofstream(target) << "old\n";
    fs::create_symlink(target, link);
    write_output_file(link, "test export", "data\n");
    CHECK_MESSAGE(fs::is_symlink(link), "the symlink was replaced by a file");
    CHECK_MESSAGE(read(target) == "data\n", "the link's target did not get the data");

    const std::string dangling = dir.file("dangling.jsonl"), later = dir.file("later.jsonl");
    fs::create_symlink(later, dangling);
    write_output_file(dangling, "test export", "made\n");
    CHECK_MESSAGE(fs::is_symlink(dangling), "a dangling symlink was replaced by a file");
    CHECK_MESSAGE(read(later) == "made\n", "a dangling symlink's target was not created with the data");
}

TEST_CASE("an export to a FIFO reaches its reader and the FIFO stays a FIFO") {
    Folder dir;
    const std::string fifo = dir.file("pipe");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    std::string got;
    std::thread reader([&] { got = read(fifo); });
    write_output_file(fifo, "test export", "through the pipe\n");
    reader.join();
    CHECK_MESSAGE(got == "through the pipe\n", "the reader did not get the data");
    CHECK_MESSAGE(fs::is_fifo(fifo), "the FIFO was replaced");
    CHECK_MESSAGE(!fs::exists(fifo + ".partial"), "a partial file was made beside the FIFO");
}

TEST_CASE("an export to a null device leaves it a character device, and to a symlink to one too") {
    Folder dir;
    // As root, a null device of our own (the host's /dev/null is not put at risk); else /dev/null,
    // which a non-root user could not replace anyway.
    std::string null = "/dev/null";
    if (geteuid() == 0) {
        null = dir.file("null");
        REQUIRE(::mknod(null.c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);
    }
    write_output_file(null, "test export", "discarded\n");
    CHECK_MESSAGE(is_char_device(null), null << " is no longer a character device");
    const std::string link = dir.file("to-null");
    fs::create_symlink(null, link);
    write_output_file(link, "test export", "discarded\n");
    CHECK_MESSAGE(fs::is_symlink(link), "the symlink to the null device was replaced");
    CHECK_MESSAGE(is_char_device(null), null << " is no longer a character device after a write through a link");
    CHECK_MESSAGE(!fs::exists(null + ".partial"), "a partial file was made beside the device");
}

TEST_CASE("an export that cannot be written names the file") {
    Folder dir;
    const std::string path = dir.file("no-such-dir/r.jsonl");
    try {
        write_output_file(path, "test export", "x");
        FAIL("writing into a missing directory did not throw");
    } catch (const std::runtime_error& e) {
        CHECK_MESSAGE(std::string(e.what()).find("test export " + path) == 0, "the error was: " << e.what());
    }
}
