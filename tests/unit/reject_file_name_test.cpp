// The reject export's default name: the database and schema in it, made safe for a file name,
// the run's UTC time, and never a name already in use.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "stages/commands/reject_file_name.h"

using sluice::stages::default_reject_file;

namespace {
constexpr std::time_t kAt = 1764959400;  // 2025-12-05 18:30:00 UTC
}

TEST_CASE("the default reject file names the database, the schema and the UTC time") {
    const std::string name = default_reject_file("openwebui", "public", kAt, [](const std::string&) { return false; });
    CHECK_MESSAGE(name == "sluice-rejects-openwebui-public-20251205T183000Z.jsonl", "got " << name);
}

TEST_CASE("characters a file name cannot safely hold are replaced in the default reject file") {
    const std::string name =
        default_reject_file("my db/../x", "Schéma*", kAt, [](const std::string&) { return false; });
    CHECK_MESSAGE(name.find('/') == std::string::npos, "a slash reached the name: " << name);
    CHECK_MESSAGE(name.find(' ') == std::string::npos, "a space reached the name: " << name);
    CHECK_MESSAGE(name.find('*') == std::string::npos, "a '*' reached the name: " << name);
    CHECK_MESSAGE(name.rfind("sluice-rejects-my_db_.._x-Sch", 0) == 0, "got " << name);
}

TEST_CASE("a default reject file name in use is never taken again: the next free one is") {
    const std::set<std::string> in_use{"sluice-rejects-d-s-20251205T183000Z.jsonl",
                                       "sluice-rejects-d-s-20251205T183000Z-2.jsonl"};
    const std::string name =
        default_reject_file("d", "s", kAt, [&](const std::string& n) { return in_use.count(n) > 0; });
    CHECK_MESSAGE(name == "sluice-rejects-d-s-20251205T183000Z-3.jsonl", "got " << name);
}
