// The reject export's default name on a real PostgreSQL: cleanup of database A and then a migrate
// and cleanup of database B from the same directory leave two exports, each named for its
// database, A's untouched.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "db_fixture.h"

using namespace sluice::testing;
namespace fs = std::filesystem;

namespace {

// The working directory of this process, and so of the sluice it starts, for a scope.
struct InDirectory {
    fs::path before = fs::current_path();
    explicit InDirectory(const std::string& dir) { fs::current_path(dir); }
    ~InDirectory() { fs::current_path(before); }
};

std::vector<std::string> exports_in(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir))
        names.push_back(entry.path().filename().string());
    return names;
}

std::string database_of(TestDatabase& db) {
    return scalar(db.sql(), "SELECT current_database()");
}

}  // namespace

TEST_CASE("the default reject export of one database is never replaced by a run on another") {
    TestDatabase a, b;
    TempDir dir;
    load_corpus(a);
    load_corpus(b);
    InDirectory here(dir.file(""));
    Run migrated_a = run_sluice({"migrate", "--db", a.conninfo(), "--progress", "none"});
    REQUIRE_MESSAGE(migrated_a.status == 0, migrated_a.said());
    Run cleaned_a = run_sluice({"cleanup", "--db", a.conninfo()});
    REQUIRE_MESSAGE(cleaned_a.status == 0, cleaned_a.said());
    Run migrated_b = run_sluice({"migrate", "--db", b.conninfo(), "--progress", "none"});
    REQUIRE_MESSAGE(migrated_b.status == 0, migrated_b.said());
    Run cleaned_b = run_sluice({"cleanup", "--db", b.conninfo()});
    REQUIRE_MESSAGE(cleaned_b.status == 0, cleaned_b.said());

    const std::vector<std::string> files = exports_in(dir.file(""));
    INFO("files: " << joined(files));
    auto of = [&](TestDatabase& db) {
        std::vector<std::string> found;
        for (const std::string& f : files)
            if (f.rfind("sluice-rejects-" + database_of(db) + "-public-", 0) == 0) found.push_back(f);
        return found;
    };
    // Each database: its migrate's export and its cleanup's, under names of their own.
    REQUIRE_MESSAGE(of(a).size() == 2, "database A's exports are not both there");
    REQUIRE_MESSAGE(of(b).size() == 2, "database B's exports are not both there");
    for (const std::string& f : of(a))
        CHECK_MESSAGE(static_cast<long long>(read_rejects(dir.file(f)).size()) == clean_run().summary.rejected,
                      f << " does not hold A's rejects");
}
