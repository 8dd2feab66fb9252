// The status command: the lock's holder from pg_locks, the progress from the checkpoint table, the
// phase from what sluice's sessions run, each read with SELECT alone.
#include "stages/commands/status.h"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "config/phase.h"
#include "engine/pg.h"
#include "engine/progress_line.h"
#include "engine/run_lock.h"
#include "stages/chat_message/checkpoint.h"
#include "stages/chat_message/target.h"
#include "stages/commands/common.h"
#include "stages/shared/catalog.h"

namespace sluice::stages {

namespace {

struct Progress {
    std::uint64_t ranges = 0, ranges_complete = 0, chats = 0, planned_chats = 0, messages = 0, rejected = 0;
    double chats_per_second = 0;  // this run's, from its ranges' commit times; 0: unknown
};

struct State {
    std::optional<engine::LockHolder> holder;
    std::optional<Progress> progress;
    std::string phase;  // while a migrate runs
    std::string state;  // "running", "stopped", "done", "not started"
    std::string said;   // one line for the operator
};

// The checkpoint summed; the rate over the ranges this run committed (updated since its lock's
// session connected), from the first commit time to the last.
std::optional<Progress> progress_of(engine::Connection& conn, const std::string& schema, const std::string& since) {
    if (!checkpoint_readable(conn, schema)) return std::nullopt;
    engine::Result r = conn.exec(
        "SELECT count(*), count(*) FILTER (WHERE complete), coalesce(sum(chats), 0), coalesce(sum(planned_chats), 0),"
        " coalesce(sum(messages), 0), coalesce(sum(rejected), 0),"
        " coalesce(sum(chats) FILTER (WHERE updated_at >= $2::timestamptz), 0),"
        " coalesce(extract(epoch FROM max(updated_at) - $2::timestamptz), 0)"
        " FROM " +
            engine::qualified(schema, "sluice_checkpoint") + " WHERE job = $1",
        {fence_key(), since.empty() ? std::nullopt : std::optional<std::string>(since)});
    auto n = [&](int column) { return std::strtoull(PQgetvalue(r.get(), 0, column), nullptr, 10); };
    if (n(0) == 0) return std::nullopt;
    Progress p{n(0), n(1), n(2), n(3), n(4), n(5), 0};
    const double seconds = std::atof(PQgetvalue(r.get(), 0, 7));
    if (seconds > 0) p.chats_per_second = static_cast<double>(n(6)) / seconds;
    return p;
}

// What sluice's other sessions are running, as a phase's name; "" when none is active or visible.
std::string running_phase(engine::Connection& conn) {
    engine::Result r = conn.exec(
        "SELECT coalesce(string_agg(query, ' '), '') FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name LIKE 'sluice %' AND state = 'active' AND pid <> pg_backend_pid()");
    const std::string queries = PQgetvalue(r.get(), 0, 0);
    auto has = [&](const char* text) { return queries.find(text) != std::string::npos; };
    // Most telling first: a COPY runs beside the key's duplicate checks, an index beside nothing.
    using config::Phase, config::phase_name;
    if (has("PRIMARY KEY")) return std::string(phase_name(Phase::backfill)) + ": adding the primary key";
    if (has("CREATE INDEX") || has("CREATE UNIQUE INDEX")) return phase_name(Phase::indexes);
    if (has("VALIDATE CONSTRAINT") || has("FOREIGN KEY")) return phase_name(Phase::constraints);
    if (has("COPY")) return phase_name(Phase::backfill);
    if (has("RENAME")) return phase_name(Phase::publish);
    return "";
}

std::string ranges_text(const Progress& p) {
    return std::to_string(p.ranges_complete) + " of " + std::to_string(p.ranges) + " ranges done, " +
           std::to_string(p.chats) + (p.planned_chats ? " of " + std::to_string(p.planned_chats) : "") +
           " chats read, " + std::to_string(p.messages) + " messages written, " + std::to_string(p.rejected) +
           " rejected";
}

std::string rate_text(const Progress& p) {
    if (p.chats_per_second <= 0) return "";
    std::string text = "; " + std::to_string(static_cast<long long>(p.chats_per_second + 0.5)) + " chats/s";
    if (p.planned_chats > p.chats)
        text += ", about " +
                engine::human_duration(static_cast<double>(p.planned_chats - p.chats) / p.chats_per_second) + " left";
    return text;
}

State running_state(engine::Connection& conn, const std::string& schema, const engine::LockHolder& holder) {
    State s;
    s.holder = holder;
    s.state = "running";
    s.progress = progress_of(conn, schema, holder.since);
    s.phase = running_phase(conn);
    if (s.phase.empty())
        s.phase = !s.progress                                        ? "starting"
                  : s.progress->ranges_complete < s.progress->ranges ? phase_name(config::Phase::backfill)
                                                                     : "after the backfill";
    s.said = "a migrate is running (" + holder.describe() + "): " + s.phase;
    if (s.progress) s.said += "; " + ranges_text(*s.progress) + rate_text(*s.progress);
    return s;
}

State resting_state(engine::Connection& conn, const std::string& schema) {
    State s;
    s.progress = progress_of(conn, schema, "");
    const bool published = !relation_exists(conn, schema, kBuildTable) && relation_exists(conn, schema, kChatMessage);
    if (s.progress && s.progress->ranges_complete < s.progress->ranges) {
        s.state = "stopped";
        s.said = "no migration running; the backfill stopped at " + ranges_text(*s.progress) +
                 ": run sluice migrate to resume it";
    } else if (published) {
        s.state = "done";
        s.said = "no migration running; already migrated (chat_message is published)";
        if (s.progress) s.said += ": " + ranges_text(*s.progress);
    } else if (s.progress) {
        s.state = "stopped";
        s.said = "no migration running; the backfill is complete, not published yet: run sluice migrate to finish";
    } else {
        s.state = "not started";
        s.said = "no migration running; nothing started";
    }
    return s;
}

void print_json(const config::RunConfig& cfg, const State& s) {
    rapidjson::StringBuffer buffer;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("schema");
    w.String(cfg.schema.c_str());
    w.Key("state");
    w.String(s.state.c_str());
    w.Key("phase");
    if (s.phase.empty())
        w.Null();
    else
        w.String(s.phase.c_str());
    w.Key("lock_holder");
    if (!s.holder)
        w.Null();
    else {
        w.StartObject();
        w.Key("pid");
        w.Int(s.holder->pid);
        w.Key("application_name");
        w.String(s.holder->application_name.c_str());
        w.Key("since");
        w.String(s.holder->since.c_str());
        w.EndObject();
    }
    w.Key("progress");
    if (!s.progress)
        w.Null();
    else {
        const Progress& p = *s.progress;
        w.StartObject();
        const std::pair<const char*, std::uint64_t> counts[] = {{"ranges", p.ranges},
                                                                {"ranges_done", p.ranges_complete},
                                                                {"chats_read", p.chats},
                                                                {"chats_planned", p.planned_chats},
                                                                {"messages_written", p.messages},
                                                                {"rejected", p.rejected}};
        for (const auto& [name, n] : counts) {
            w.Key(name);
            w.Uint64(n);
        }
        w.Key("chats_per_second");
        if (p.chats_per_second > 0)
            w.Double(p.chats_per_second);
        else
            w.Null();
        w.Key("seconds_left");
        if (p.chats_per_second > 0 && p.planned_chats > p.chats)
            w.Double(static_cast<double>(p.planned_chats - p.chats) / p.chats_per_second);
        else
            w.Null();
        w.EndObject();
    }
    w.Key("said");
    w.String(s.said.c_str());
    w.EndObject();
    std::cout << buffer.GetString() << "\n";
}

}  // namespace

int status(const config::RunConfig& cfg) {
    engine::Connection conn(cfg.db_url, "status");
    conn.exec("SET default_transaction_read_only = on");  // it only reads, and says so to the server
    std::optional<engine::LockHolder> holder = engine::RunLock::holder(conn, lock_key(cfg.schema));
    const State s = holder ? running_state(conn, cfg.schema, *holder) : resting_state(conn, cfg.schema);
    if (cfg.json)
        print_json(cfg, s);
    else
        std::cout << "sluice status: schema " << engine::quote_ident(cfg.schema) << ": " << s.said << "\n";
    return 0;
}

}  // namespace sluice::stages
