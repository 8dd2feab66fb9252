// Test tool for the second job's reader and writer (tests/e2e/current_message_apply_test.py): reads
// a database at Open WebUI's 856c5b02fb54 in K ranges of chat ids (ChatKeysReader), decides each
// chat (Rule) and writes each range (ValueWriter) in one transaction with a stand-in checkpoint:
// a row per range done in sluice_current_message_apply_done, so a rerun skips the ranges done.
//   current_message_apply CONNINFO [--schema S] [--ranges K] [--batch-rows N] [--fail-range I]
// --fail-range I: range I's checkpoint fails after its UPDATE ran (a failing write): the tool
// exits 1 and the range must have changed nothing. Prints one line: ranges, chats, updated, rejected.
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "engine/pg.h"
#include "stages/current_message/chat_keys_reader.h"
#include "stages/current_message/value_writer.h"

using namespace sluice;
namespace cm = stages::current_message;

namespace {

struct Options {
    std::string conninfo, schema = "public";
    int ranges = 1, fail_range = -1;
    std::size_t batch_rows = 64;  // small: a range spans several batches, hence several add()s
};

Options parse(int argc, char** argv) {
    Options o;
    if (argc < 2) throw std::invalid_argument("no CONNINFO");
    o.conninfo = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string name = argv[i], value = argv[i + 1];
        if (name == "--schema")
            o.schema = value;
        else if (name == "--ranges")
            o.ranges = std::atoi(value.c_str());
        else if (name == "--batch-rows")
            o.batch_rows = std::strtoul(value.c_str(), nullptr, 10);
        else if (name == "--fail-range")
            o.fail_range = std::atoi(value.c_str());
        else
            throw std::invalid_argument("unknown option " + name);
    }
    if (o.ranges < 1) throw std::invalid_argument("--ranges must be at least 1");
    return o;
}

// K ranges of about equal chats, in "C" order, covering every id.
std::vector<cm::IdRange> plan(engine::Connection& conn, const Options& o) {
    engine::Result ids =
        conn.exec("SELECT id FROM " + engine::qualified(o.schema, "chat") + " ORDER BY id COLLATE \"C\"");
    const int n = PQntuples(ids.get());
    std::vector<cm::IdRange> out(static_cast<std::size_t>(o.ranges));
    for (int k = 1; k < o.ranges; ++k) {
        const int at = n * k / o.ranges;
        if (at < n) out[k].lo = out[k - 1].hi = PQgetvalue(ids.get(), at, 0);
    }
    return out;
}

std::string done_table(const Options& o) {
    return engine::qualified(o.schema, "sluice_current_message_apply_done");
}

bool done(engine::Connection& conn, const Options& o, int k) {
    engine::Result r = conn.exec("SELECT count(*) FROM " + done_table(o) + " WHERE range_no = $1", {std::to_string(k)});
    return std::string_view(PQgetvalue(r.get(), 0, 0)) != "0";
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Options o = parse(argc, argv);
        engine::Connection conn(o.conninfo, "writer");
        // The schema phase's stand-in; the job's state tables.
        conn.exec("ALTER TABLE " + engine::qualified(o.schema, "chat") +
                  " ADD COLUMN IF NOT EXISTS current_message_id text");
        cm::reject_table(o.schema).create(conn);
        conn.exec("CREATE TABLE IF NOT EXISTS " + done_table(o) + " (range_no int PRIMARY KEY)");

        cm::ChatKeysSettings settings;
        settings.conninfo = o.conninfo;
        settings.schema = o.schema;
        settings.batch_rows = o.batch_rows;
        cm::ChatKeysReader reader(settings);
        cm::ValueWriter writer(conn, o.schema);
        cm::Rule rule;
        cm::ValueTally total;
        const std::vector<cm::IdRange> ranges = plan(conn, o);
        for (int k = 0; k < static_cast<int>(ranges.size()); ++k) {
            if (done(conn, o, k)) continue;
            reader.open(ranges[k]);
            for (cm::ChatKeysBatch batch; reader.next(batch); batch = cm::ChatKeysBatch()) {
                cm::decide_all(batch, rule);
                writer.add(batch);
            }
            total.add(writer.commit([&](engine::Connection& c, const cm::ValueTally&) {
                c.exec("INSERT INTO " + done_table(o) + " VALUES ($1)", {std::to_string(k)});
                if (k == o.fail_range) c.exec("SELECT 1/0");  // the range's write fails after its UPDATE
            }));
        }
        reader.finish();
        std::cout << "ranges " << ranges.size() << ", chats " << total.chats << ", updated " << total.updated
                  << ", rejected " << total.rejected << '\n';
    } catch (const std::exception& e) {
        std::cerr << "current_message_apply: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
