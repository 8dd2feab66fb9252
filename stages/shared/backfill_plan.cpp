// Planning the ranges in one query over chat's heap.
#include "stages/shared/backfill_plan.h"

#include <cstdlib>

#include "stages/openwebui.h"

namespace sluice::stages {

std::vector<PlannedRange> plan_id_ranges(engine::Connection& conn, const std::string& schema, unsigned count,
                                         const std::string& where, const std::string& id,
                                         std::optional<std::uint64_t> counted) {
    const std::string chat = engine::qualified(schema, openwebui::kChat);
    std::vector<PlannedRange> ranges;
    if (count <= 1) {
        PlannedRange& whole = ranges.emplace_back();
        if (counted) {
            whole.planned_chats = *counted;
        } else {
            engine::Result n = conn.exec("SELECT count(*) FROM " + chat + where);
            whole.planned_chats = std::strtoull(PQgetvalue(n.get(), 0, 0), nullptr, 10);
        }
        return ranges;
    }
    // Each chat goes to the part its first byte falls in; 64 bytes stand for the row itself, so
    // that chats without JSON still count for something.
    const std::string weight = "coalesce(pg_column_size(chat), 0)::float8 + 64";
    engine::Result parts = conn.exec(
        "SELECT max(id), count(*) FROM (SELECT id, floor((sum(w) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING) - w)"
        " * $1::float8 / sum(w) OVER ()) AS part FROM (SELECT " +
            id + " AS id, " + weight + " AS w FROM " + chat + where + ") weighed) parted GROUP BY part ORDER BY part",
        {std::to_string(count)});
    const int n = PQntuples(parts.get());
    for (int i = 0; i < n || ranges.empty(); ++i) {
        PlannedRange& r = ranges.emplace_back();
        r.no = i;
        if (i > 0) r.lower = PQgetvalue(parts.get(), i - 1, 0);
        if (i + 1 < n) r.upper = PQgetvalue(parts.get(), i, 0);  // the last range has no upper bound
        if (i < n) r.planned_chats = std::strtoull(PQgetvalue(parts.get(), i, 1), nullptr, 10);
    }
    return ranges;
}

}  // namespace sluice::stages
