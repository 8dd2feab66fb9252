// What the preflight's checks share (stages/commands/preflight.cpp runs them; its groups of
// checks live in preflight_*.cpp): the facts found once on its read-only session, and small
// query helpers. Internal to the preflight.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/run_config.h"
#include "engine/pg.h"
#include "stages/chat_message/target.h"
#include "stages/commands/check_result.h"
#include "stages/openwebui.h"

namespace sluice::stages::preflight_checks {

using config::Phase;
using engine::Connection;

// The first column of the first row; "" for no row or NULL.
inline std::string cell(Connection& conn, const std::string& sql,
                        const std::vector<std::optional<std::string>>& params = {}) {
    engine::Result r = conn.exec(sql, params);
    return PQntuples(r.get()) > 0 ? PQgetvalue(r.get(), 0, 0) : "";
}

inline bool yes(Connection& conn, const std::string& sql, const std::vector<std::optional<std::string>>& params = {}) {
    return cell(conn, sql, params) == "t";
}

inline CheckResult result(std::string name, Verdict verdict, std::string detail) {
    return {std::move(name), verdict, std::move(detail)};
}

// What the checks share, found once.
struct Facts {
    explicit Facts(const config::RunConfig& c) : cfg(c) {}
    const config::RunConfig& cfg;
    std::string user;
    bool chat = false;                     // <schema>.chat exists
    bool readable = false;                 // and this user may read it
    bool published = false;                // chat_message exists
    bool building = false;                 // sluice's build table exists
    std::optional<std::string> locked_by;  // a session whose lock on chat any read would wait for
    std::string chat_name() const { return engine::qualified(cfg.schema, openwebui::kChat); }
    std::string name(const char* table) const { return engine::qualified(cfg.schema, table); }
    // The table the phases after schema work on, if there is one yet.
    std::optional<Target> target() const {
        if (published) return Target{cfg.schema, kChatMessage};
        if (building) return Target{cfg.schema, kBuildTable};
        return std::nullopt;
    }
};

// The privileges each phase needs (preflight_privileges.cpp).
CheckResult check_privileges(Connection& conn, const Facts& facts);
// The disk space and time the backfill will take, as two results (preflight_estimates.cpp).
std::vector<CheckResult> estimates(Connection& conn, const Facts& facts);

}  // namespace sluice::stages::preflight_checks
