// The summary's two forms: lines for the operator, JSON for a script.
#include "stages/commands/run_summary.h"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <libpq-fe.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include <unistd.h>

#include "config/run_config.h"
#include "engine/log.h"
#include "engine/output_file.h"
#include "engine/progress_line.h"
#include "engine/text_wrap.h"
#include "engine/words.h"

namespace sluice::stages {

namespace {

// The JSON names of the skip rules, in SkipRule's order: stable keys for scripts.
const char* const kRuleKeys[] = {"chat_null",          "chat_falsy",          "chat_not_json",      "chat_not_object",
                                 "history_not_object", "messages_not_object", "message_not_object", "role_falsy"};
static_assert(std::size(kRuleKeys) == kSkipRules, "a skip rule without its JSON name");

// The skipped-by-rule list, counts right-aligned in one column.
std::string skipped_lines(const std::array<std::uint64_t, kSkipRules>& skipped) {
    std::size_t width = 0;
    for (std::uint64_t n : skipped)
        if (n > 0) width = std::max(width, std::to_string(n).size());
    if (width == 0) return {};
    std::string text = "    skipped by rule:\n";
    for (std::size_t i = 0; i < kSkipRules; ++i) {
        if (skipped[i] == 0) continue;
        const std::string n = std::to_string(skipped[i]);
        text +=
            "      " + std::string(width - n.size(), ' ') + n + "  " + skip_rule_name(static_cast<SkipRule>(i)) + "\n";
    }
    return text;
}

std::string left_out_lines(const BackfillFigures& f) {
    if (!f.shared_chats) return {};
    std::string text = "    left out by design: " + engine::plural(*f.shared_chats, "shared-link chat");
    if (f.chats_without_user && *f.chats_without_user > 0)
        text += ", " + engine::plural(*f.chats_without_user, "chat") + " without a user";
    return text +
           "\n      (as upstream: a shared link's chat, user_id 'shared-...', copies a chat\n"
           "      that is migrated itself)\n";
}

std::string this_run_line(const BackfillFigures& f) {
    const double secs = f.run_seconds > 0 ? f.run_seconds : 1e-9;
    char rates[96];
    std::snprintf(rates, sizeof rates, "%.0f messages/s, %.1f MiB/s", static_cast<double>(f.run_messages) / secs,
                  static_cast<double>(f.run_bytes) / secs / (1 << 20));
    return "    this run: " + engine::plural(f.run_chats, "chat") + " (" + engine::human_bytes(f.run_bytes) + ") in " +
           engine::human_duration(f.run_seconds) + ": " + rates + "\n" +
           (f.attempts > 1 ? "      (" + std::to_string(f.attempts) +
                                 " attempts: the connection was lost; each "
                                 "resumed from the last commit)\n"
                           : std::string()) +
           (f.run_updated + f.run_removed > 0
                ? "      (" + engine::plural(f.run_updated, "row") + " updated for changed messages, " +
                      engine::plural(f.run_removed, "row") + " removed for messages no longer in their chats)\n"
                : std::string());
}

// A run that found the backfill complete repeats no warning: the verdict still counts the rejects.
bool warns_of_rejects(const BackfillFigures& f) {
    return f.rejected > 0 && f.state != "already complete";
}

std::string rejects_warning_lines(const BackfillFigures& f, std::size_t width) {
    return warns_of_rejects(f) ? engine::wrap("    WARNING: " + rejects_warning(f), 6, width) : std::string();
}

// The summary's lines without the rejects' warning.
std::string backfill_lines(const BackfillFigures& f) {
    if (f.state == "already complete") {
        return "already complete: " + engine::plural(f.messages_written, "message") + " from " +
               engine::plural(f.chats_read, "chat") + ", " + std::to_string(f.rejected) +
               " rejected; nothing to do (--resync derives every chat again)\n" + left_out_lines(f);
    }
    std::string text = f.state + ": " + engine::plural(f.chats_read, "chat") + " read, " +
                       engine::plural(f.messages_written, "message") + " written, " +
                       std::to_string(f.already_present) + " already present, " + std::to_string(f.rejected) +
                       " rejected\n";
    text += skipped_lines(f.skipped) + left_out_lines(f) + this_run_line(f);
    if (f.lanes > 0)
        text += "    " + engine::plural(f.lanes, "lane") + " read " + std::to_string(f.ranges_read) +
                " of the plan's " + engine::plural(f.ranges, "range") + "\n";
    if (!f.primary_key.empty()) text += "    " + f.primary_key + "\n";
    return text;
}

}  // namespace

std::string rejects_warning(const BackfillFigures& f) {
    if (!warns_of_rejects(f)) return {};
    return engine::plural(f.rejected, "message") + (f.rejected == 1 ? " was" : " were") +
           " not stored; each is, with the reason, in table " + f.rejects_table + " (sluice rejects exports them)";
}

std::string backfill_text(const BackfillFigures& f) {
    return backfill_lines(f) + rejects_warning_lines(f, 80);
}

std::string values_text(const ValueFigures& f) {
    std::string text = f.state + ": " + engine::plural(f.chats, "chat") + " judged, " +
                       engine::plural(f.updated, "value") + " written, " + std::to_string(f.rejected) + " rejected\n";
    if (f.state == "already complete") return text;
    const double secs = f.run_seconds > 0 ? f.run_seconds : 1e-9;
    char rate[48];
    std::snprintf(rate, sizeof rate, "%.0f chats/s", static_cast<double>(f.run_chats) / secs);
    text += "    this run: " + engine::plural(f.run_chats, "chat") + ", " + engine::plural(f.run_updated, "value") +
            " written in " + engine::human_duration(f.run_seconds) + ": " + rate + "\n";
    if (f.lanes > 0)
        text += "    " + engine::plural(f.lanes, "lane") + " read " + std::to_string(f.ranges_read) +
                " of the plan's " + engine::plural(f.ranges, "range") + "\n";
    if (f.rejected > 0)
        text +=
            engine::wrap("    WARNING: " + engine::plural(f.rejected, "chat") + (f.rejected == 1 ? " was" : " were") +
                             " left unchanged (Open WebUI's migration would raise on them); each is, with the "
                             "reason, in table " +
                             f.rejects_table,
                         6, 80);
    return text;
}

void report_phase(const std::string& head, const std::string& said, const BackfillFigures* backfill) {
    // (engine::log fits each line to the terminal's width.)
    if (!backfill) {
        engine::log::report(head + said);
        return;
    }
    engine::log::report(head + backfill_lines(*backfill));
    if (warns_of_rejects(*backfill))
        engine::log::report_warning(rejects_warning(*backfill),
                                    rejects_warning_lines(*backfill, engine::report_width(STDOUT_FILENO)));
}

std::string rejects_clause(const RunSummary& s) {
    if (s.values)
        return s.values->rejected == 0 ? "; no chat rejected"
                                       : "; " + engine::plural(s.values->rejected, "chat") +
                                             " rejected, kept in table " + s.values->rejects_table;
    if (!s.backfill) return {};
    if (s.backfill->rejected == 0) return "; no message rejected";
    return "; " + engine::plural(s.backfill->rejected, "message") + " rejected, kept in table " +
           s.backfill->rejects_table;
}

std::string utc_now() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

namespace {

using Writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void key(Writer& w, const char* name) {
    w.Key(name);
}
void text(Writer& w, const char* name, const std::string& value) {
    w.Key(name);
    w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}
void count(Writer& w, const char* name, std::uint64_t value) {
    w.Key(name);
    w.Uint64(value);
}
void seconds(Writer& w, const char* name, double value) {
    w.Key(name);
    w.Double(static_cast<double>(static_cast<long long>(value * 1000 + 0.5)) / 1000);  // to the millisecond
}
void optional_count(Writer& w, const char* name, const std::optional<std::uint64_t>& value) {
    w.Key(name);
    if (value)
        w.Uint64(*value);
    else
        w.Null();
}

void write_phases(Writer& w, const std::vector<PhaseFigures>& phases) {
    key(w, "phases");
    w.StartArray();
    for (const PhaseFigures& p : phases) {
        w.StartObject();
        text(w, "name", p.name);
        seconds(w, "seconds", p.seconds);
        text(w, "outcome", p.outcome);
        text(w, "detail", p.detail);
        w.EndObject();
    }
    w.EndArray();
}

// The end of a backfill's object, either job's: this run's time, attempts, lanes and ranges
// read (closing "this_run"), then the plan's ranges and the rejects table.
template <typename Figures>
void write_run_end(Writer& w, const Figures& f) {
    seconds(w, "seconds", f.run_seconds);
    count(w, "attempts", f.attempts);
    count(w, "lanes", f.lanes);
    count(w, "ranges_read", f.ranges_read);
    w.EndObject();
    count(w, "ranges", f.ranges);
    text(w, "rejects_table", f.rejects_table);
    w.EndObject();
}

void write_backfill(Writer& w, const std::optional<BackfillFigures>& backfill) {
    key(w, "backfill");
    if (!backfill) {
        w.Null();
        return;
    }
    const BackfillFigures& f = *backfill;
    w.StartObject();
    text(w, "state", f.state);
    count(w, "chats_read", f.chats_read);
    count(w, "messages_written", f.messages_written);
    count(w, "already_present", f.already_present);
    count(w, "rejected", f.rejected);
    key(w, "skipped_by_rule");
    w.StartObject();
    for (std::size_t i = 0; i < kSkipRules; ++i)
        count(w, kRuleKeys[i], f.skipped[i]);
    w.EndObject();
    count(w, "bytes", f.bytes);
    optional_count(w, "shared_chats_left_out", f.shared_chats);
    optional_count(w, "chats_without_user_left_out", f.chats_without_user);
    key(w, "this_run");
    w.StartObject();
    count(w, "chats", f.run_chats);
    count(w, "messages", f.run_messages);
    count(w, "updated", f.run_updated);
    count(w, "removed", f.run_removed);
    count(w, "bytes", f.run_bytes);
    write_run_end(w, f);
}

void nullable_text(Writer& w, const char* name, const std::string& value) {
    w.Key(name);
    if (value.empty())
        w.Null();
    else
        w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

void write_target(Writer& w, const RunSummary& s) {
    key(w, "target");
    w.StartObject();
    text(w, "host", s.target.host);
    text(w, "port", s.target.port);
    text(w, "database", s.target.database);
    text(w, "user", s.target.user);
    text(w, "schema", s.schema);
    w.EndObject();
}

void write_checks(Writer& w, const std::vector<CheckFigures>& checks) {
    key(w, "checks");
    w.StartArray();
    for (const CheckFigures& c : checks) {
        w.StartObject();
        text(w, "name", c.name);
        text(w, "verdict", c.verdict);
        text(w, "detail", c.detail);
        w.EndObject();
    }
    w.EndArray();
}

void write_verify(Writer& w, const std::optional<VerifyFigures>& verify) {
    key(w, "verify");
    if (!verify) {
        w.Null();
        return;
    }
    const VerifyFigures& v = *verify;
    w.StartObject();
    text(w, "table", v.table);
    const std::pair<const char*, std::uint64_t> counts[] = {{"chats", v.chats},
                                                            {"chats_with_messages", v.chats_with_messages},
                                                            {"messages_expected", v.expected},
                                                            {"unstorable", v.unstorable},
                                                            {"present", v.present},
                                                            {"rejected", v.rejected},
                                                            {"missing", v.missing},
                                                            {"stale_rejects", v.stale},
                                                            {"unexpected_in_chats", v.unexpected_in_chats},
                                                            {"unexpected_elsewhere", v.unexpected_elsewhere},
                                                            {"chats_count_differs", v.counts_differ},
                                                            {"sampled", v.sampled},
                                                            {"sample_differs", v.differing},
                                                            {"known_rejects", v.known_rejects}};
    for (const auto& [name, n] : counts)
        count(w, name, n);
    text(w, "rejects_from", v.rejects_from);
    w.EndObject();
}

void write_value_verify(Writer& w, const ValueVerifyFigures& v) {
    key(w, "verify");
    w.StartObject();
    text(w, "table", "chat.current_message_id");
    const std::pair<const char*, std::uint64_t> counts[] = {{"chats", v.chats},
                                                            {"agree", v.agree},
                                                            {"disagree", v.disagree},
                                                            {"rejected", v.rejected},
                                                            {"unrecorded_rejects", v.unrecorded_rejects},
                                                            {"known_rejects", v.known_rejects}};
    for (const auto& [name, n] : counts)
        count(w, name, n);
    text(w, "rejects_from", v.rejects_from);
    w.EndObject();
}

void write_values(Writer& w, const ValueFigures& f) {
    key(w, "current_message");
    w.StartObject();
    text(w, "state", f.state);
    count(w, "chats", f.chats);
    count(w, "updated", f.updated);
    count(w, "rejected", f.rejected);
    key(w, "this_run");
    w.StartObject();
    count(w, "chats", f.run_chats);
    count(w, "updated", f.run_updated);
    write_run_end(w, f);
}

// What migrate alone reports: its phases, the backfill (the second job's under its own key), the export.
void write_migrate(Writer& w, const RunSummary& s) {
    write_phases(w, s.phases);
    write_backfill(w, s.backfill);
    if (s.values) write_values(w, *s.values);
    text(w, "reject_file", s.reject_file);
    count(w, "rejects_exported", s.rejects_exported);
}

std::optional<std::uint64_t> rejected_of(const RunSummary& s) {
    if (s.backfill) return s.backfill->rejected;
    if (s.values) return s.values->rejected;
    if (s.verify) return s.verify->rejected;
    if (s.value_verify) return s.value_verify->rejected;
    return std::nullopt;
}

}  // namespace

std::string to_json(const RunSummary& s) {
    rapidjson::StringBuffer buffer;
    Writer w(buffer);
    w.SetIndent(' ', 2);
    w.StartObject();
    text(w, "command", s.command);
    text(w, "version", config::version_number());
    write_target(w, s);
    text(w, "schema", s.schema);
    text(w, "started_at", s.started_at);
    seconds(w, "seconds", s.seconds);
    key(w, "exit_status");
    w.Int(s.exit_status);
    text(w, "outcome", s.outcome);
    nullable_text(w, "verdict", s.verdict);
    nullable_text(w, "error", s.error);
    nullable_text(w, "error_class", s.error_class);
    nullable_text(w, "sqlstate", s.sqlstate);
    // At the top, so that a script need not look inside the backfill: null when it did not run.
    optional_count(w, "rejected", rejected_of(s));
    key(w, "warnings");
    w.StartArray();
    for (const std::string& warning : s.warnings)
        w.String(warning.c_str(), static_cast<rapidjson::SizeType>(warning.size()));
    w.EndArray();
    if (s.command == "migrate") write_migrate(w, s);
    if (s.command == "check") write_checks(w, s.checks);
    if (s.command == "verify" && s.value_verify) write_value_verify(w, *s.value_verify);
    if (s.command == "verify" && !s.value_verify) write_verify(w, s.verify);
    count(w, "peak_memory_bytes", s.peak_memory_bytes);
    w.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

TargetFigures target_of(const std::string& conninfo) {
    TargetFigures t;
    PQconninfoOption* given = PQconninfoParse(conninfo.c_str(), nullptr);
    PQconninfoOption* defaults = PQconndefaults();  // PG* variables and libpq's own defaults
    auto value = [&](const char* keyword) {
        for (PQconninfoOption* o = given; o && o->keyword; ++o)
            if (std::strcmp(o->keyword, keyword) == 0 && o->val && *o->val) return std::string(o->val);
        for (PQconninfoOption* o = defaults; o && o->keyword; ++o)
            if (std::strcmp(o->keyword, keyword) == 0 && o->val && *o->val) return std::string(o->val);
        return std::string();
    };
    t.host = value("host");
    t.port = value("port");
    t.database = value("dbname");
    t.user = value("user");
    if (t.database.empty()) t.database = t.user;  // libpq's own rule
    PQconninfoFree(given);
    PQconninfoFree(defaults);
    return t;
}

void write_summary_json(const RunSummary& summary, const std::string& path) {
    engine::write_output_file(path, "--summary-json", to_json(summary));
}

}  // namespace sluice::stages
