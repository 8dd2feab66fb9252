// The banner's facts, from libpq (where the connection went) and one read-only query.
#include "stages/commands/run_banner.h"

#include <algorithm>
#include <cstdlib>

#include <unistd.h>

#include "engine/lock_watch.h"
#include "engine/log.h"
#include "engine/pg.h"
#include "engine/progress.h"
#include "engine/text_wrap.h"
#include "engine/words.h"
#include "stages/chat_message/checkpoint.h"
#include "stages/chat_message/target.h"
#include "stages/commands/common.h"
#include "stages/current_message/value_writer.h"
#include "stages/openwebui.h"
#include "stages/shared/catalog.h"

namespace sluice::stages {

namespace {

using config::Phase;

// The phases' names, in config::Phase's order.

std::uint64_t number(const engine::Result& r, int column) {
    return std::strtoull(PQgetvalue(r.get(), 0, column), nullptr, 10);
}

// "localhost port 5432", "the local socket in /run/postgresql (port 5432)".
std::string where(const TargetFacts& f) {
    if (f.host.empty() || f.host.front() == '/') return "the local socket in " + f.host + " (port " + f.port + ")";
    return f.host + " port " + f.port;
}

// "  name         text", the text broken at spaces into `width` columns under its first word.
std::string line(const char* name, const std::string& text, std::size_t width) {
    constexpr std::size_t kIndent = 15;
    std::string row = std::string("  ") + name;
    row.resize(std::max(row.size() + 1, kIndent), ' ');
    return engine::wrap(row + text, kIndent, width);
}

std::string phases_line(const config::RunConfig& cfg) {
    std::string text;
    for (std::size_t i = 0; i < cfg.phases.size(); ++i)
        text += (i ? ", " : "") + std::to_string(i + 1) + " " + config::phase_name(cfg.phases[i]);
    if (cfg.stamp_alembic) text += "; publish also moves alembic_version to " + cfg.revision;
    if (cfg.resync) text += "; --resync: every chat is derived again";
    return text;
}

std::string threads_line(const config::RunConfig& cfg) {
    std::string text = engine::plural(cfg.parse_threads, "parse thread") + ", " + engine::plural(cfg.lanes, "lane") +
                       (cfg.lanes == 1 ? " (a reader and a writer)" : " (each a reader and a writer)");
    if (cfg.runs(Phase::indexes)) text += ", " + engine::plural(cfg.index_connections, "index connection");
    return text;
}

std::string chat_line(const config::RunConfig& cfg, const TargetFacts& f) {
    const std::string table = engine::qualified(cfg.schema, openwebui::kChat);
    if (!f.chat) return table + ": not found or not readable (see the checks)";
    if (!f.counted)
        return table + ": about " + engine::plural(f.chats, "chat") + ", " + engine::human_bytes(f.chat_bytes) +
               " (not counted: " + f.locked_by + " locks it; the backfill waits for it)";
    return table + ": " + engine::plural(f.chats, "chat") + ", " + engine::human_bytes(f.chat_bytes) + " stored";
}

// The job, when it is not the default one; empty otherwise (the first job's banner is unchanged).
std::string job_line(const config::RunConfig& cfg, std::size_t width) {
    if (!runs_current_message(cfg)) return {};
    return line("job", "chat.current_message_id (--revision " + cfg.revision + "), every chat", width);
}

// The chats the reader leaves out, as upstream's migration does; empty when there are none.
std::string left_out_line(const TargetFacts& f, std::size_t width) {
    if (!f.counted || f.shared + f.without_user == 0) return {};
    std::string text = "by design: " + engine::plural(f.shared, "shared-link copy", "shared-link copies");
    if (f.without_user) text += ", " + engine::plural(f.without_user, "chat") + " without a user";
    return line("left out", text, width);
}

// A line of the banner; a check's warning says so in `warning`, its one-line form.
struct BannerLine {
    std::string text;
    std::string warning;
};

std::vector<BannerLine> banner_lines(const config::RunConfig& cfg, const TargetFacts& f,
                                     const std::vector<CheckResult>& checks, std::size_t width) {
    std::vector<BannerLine> lines{
        // The headline stays one line where nothing wraps it (engine::log fits it to a terminal).
        {"sluice migrate: about to change database " + engine::quote_ident(f.database) + " on " + where(f) + "\n" +
             line("as user", engine::quote_ident(f.user) + ", schema " + engine::quote_ident(cfg.schema), width) +
             line("server", "PostgreSQL " + f.server_version, width) + line("source", chat_line(cfg, f), width) +
             (runs_current_message(cfg) ? std::string() : left_out_line(f, width)) + job_line(cfg, width) +
             line("phases", phases_line(cfg), width) + line("threads", threads_line(cfg), width) +
             line("rejects",
                  "table " +
                      (runs_current_message(cfg) ? current_message::reject_table(cfg.schema) : reject_table(cfg.schema))
                          .qualified_name() +
                      ", exported to " + cfg.reject_file,
                  width),
         {}}};
    for (const CheckResult& c : checks) {
        if ((c.name == "space" || c.name == "time") && c.verdict == Verdict::ok)
            lines.push_back({line(c.name.c_str(), c.detail, width), {}});
        else if (c.verdict == Verdict::warning)
            lines.push_back({line(c.name.c_str(), "WARNING: " + c.detail, width), c.name + ": " + c.detail});
    }
    return lines;
}

}  // namespace

TargetFacts read_target_facts(const config::RunConfig& cfg, engine::Connection& conn) {
    conn.exec("SET default_transaction_read_only = on");
    TargetFacts f;
    auto text = [](const char* value) { return std::string(value ? value : ""); };
    f.host = text(PQhost(conn.raw()));
    f.port = text(PQport(conn.raw()));
    f.database = text(PQdb(conn.raw()));
    f.user = text(PQuser(conn.raw()));
    f.server_version =
        PQparameterStatus(conn.raw(), "server_version") ? PQparameterStatus(conn.raw(), "server_version") : "?";
    const std::string chat = engine::qualified(cfg.schema, openwebui::kChat);
    if (!relation_exists(conn, cfg.schema, openwebui::kChat)) return f;
    if (std::optional<std::string> who = engine::exclusive_locker(conn, chat)) {
        // Counting would wait for that session: the catalog's figures, which take no lock, will do.
        engine::Result r = conn.exec(
            "SELECT greatest(c.reltuples, 0)::bigint, (c.relpages + coalesce(t.relpages, 0))"
            "::bigint * current_setting('block_size')::bigint FROM pg_class c LEFT JOIN"
            " pg_class t ON t.oid = c.reltoastrelid WHERE c.oid = to_regclass($1)",
            {chat});
        f.chats = number(r, 0);
        f.chat_bytes = number(r, 1);
        f.locked_by = *who;
        f.chat = true;
        return f;
    }
    engine::show_progress("counting the chats in " + chat);
    try {
        // Left out as the reader leaves them out (stages/chat_message/chat_reader.cpp): shared-link copies and no user.
        engine::Result r =
            conn.exec("SELECT count(*), count(*) FILTER (WHERE " + openwebui::chat_is_shared() +
                          "),"
                          " count(*) FILTER (WHERE user_id IS NULL), pg_total_relation_size($1::regclass)"
                          " FROM " +
                          chat,
                      {chat});
        f.chats = number(r, 0);
        f.shared = number(r, 1);
        f.without_user = number(r, 2);
        f.chat_bytes = number(r, 3);
        f.chat = f.counted = true;
    } catch (const engine::PgError& e) {
        if (e.sqlstate() != "42501") throw;  // no SELECT on chat: the preflight's privileges check says so
    }
    engine::show_progress("");
    return f;
}

std::string banner_text(const config::RunConfig& cfg, const TargetFacts& f, const std::vector<CheckResult>& checks,
                        std::size_t width) {
    std::string text;
    for (const BannerLine& l : banner_lines(cfg, f, checks, width))
        text += l.text;
    return text;
}

void report_banner(const config::RunConfig& cfg, const TargetFacts& f, const std::vector<CheckResult>& checks) {
    for (const BannerLine& l : banner_lines(cfg, f, checks, engine::report_width(STDOUT_FILENO))) {
        if (l.warning.empty())
            engine::log::report(l.text);
        else
            engine::log::report_warning(l.warning, l.text);
    }
}

}  // namespace sluice::stages
