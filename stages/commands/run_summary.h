// The figures of a migrate run, gathered as it goes: what the human summary prints and what
// --summary-json writes, the same figures in both. main finishes it (exit status, error) and
// writes the JSON, since only main knows how the run ends.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "stages/chat_message/chat_transform.h"

namespace sluice::stages {

struct PhaseFigures {
    std::string name;     // "schema", "backfill", ...
    double seconds = 0;   // every attempt, reconnect waits included
    std::string outcome;  // "done", "interrupted" or "failed"
    std::string detail;   // what the phase said, its first line
};

struct BackfillFigures {
    std::string state;  // "complete", "complete (resumed)", "interrupted" or "already complete"
    // Over every run of this backfill, as its checkpoint holds them.
    std::uint64_t chats_read = 0, messages_written = 0, already_present = 0, rejected = 0;
    std::array<std::uint64_t, kSkipRules> skipped{};
    std::uint64_t bytes = 0;  // chat JSON read
    // Chats the reader leaves out by design (counted when the run starts): the copies that
    // Open WebUI's share links make (user_id 'shared-...'), and chats without a user.
    std::optional<std::uint64_t> shared_chats, chats_without_user;
    // This run, from its start to its end, every reconnect attempt included.
    std::uint64_t run_chats = 0, run_messages = 0, run_bytes = 0;
    // --resync: rows present and different, updated (counted in messages_written too), and rows
    // of messages no longer in their chat, removed.
    std::uint64_t run_updated = 0, run_removed = 0;
    double run_seconds = 0;
    unsigned attempts = 1;
    unsigned lanes = 0;           // lanes this run read with (0: it read nothing)
    std::size_t ranges_read = 0;  // ranges of the plan this run read
    std::size_t ranges = 0;       // ranges of the plan
    std::string primary_key;      // what adding the build table's key did, if this run added it
    std::string rejects_table;    // where each rejected message is, with the reason
};

// The second job's compute-and-write (--revision 9a1b2c3d4e5f): chats judged, values written,
// chats rejected, over every run as its checkpoint holds them, and this run's share.
struct ValueFigures {
    std::string state;  // "complete", "complete (resumed)", "interrupted" or "already complete"
    std::uint64_t chats = 0, updated = 0, rejected = 0;
    std::uint64_t run_chats = 0, run_updated = 0;
    double run_seconds = 0;
    unsigned attempts = 1;
    unsigned lanes = 0;
    std::size_t ranges_read = 0, ranges = 0;
    std::string rejects_table;
};

// Where a command ran: what a script needs to tell one database from another (never a password).
struct TargetFigures {
    std::string host, port, database, user;
};

// One check of `sluice check`, as the JSON gives it.
struct CheckFigures {
    std::string name;
    std::string verdict;  // "ok", "skipped", "warning" or "failed"
    std::string detail;
};

// What `sluice verify` found, as its report prints it.
struct VerifyFigures {
    std::string table;  // chat_message, or the build table before publish
    std::uint64_t chats = 0, chats_with_messages = 0, expected = 0, unstorable = 0, present = 0, rejected = 0;
    std::uint64_t missing = 0, stale = 0, unexpected_in_chats = 0, unexpected_elsewhere = 0, counts_differ = 0;
    std::uint64_t sampled = 0, differing = 0;
    std::string rejects_from;  // the table or the export file the known rejects were read from
    std::uint64_t known_rejects = 0;
};

// What `sluice verify --revision 9a1b2c3d4e5f` found: chat.current_message_id against the rule.
struct ValueVerifyFigures {
    std::uint64_t chats = 0, agree = 0, disagree = 0, rejected = 0, unrecorded_rejects = 0;
    std::string rejects_from;  // the table or the export file the known rejects were read from
    std::uint64_t known_rejects = 0;
};

struct RunSummary {
    std::string command = "migrate";
    TargetFigures target;
    std::string schema;
    std::string started_at;  // UTC, ISO 8601
    double seconds = 0;
    std::vector<PhaseFigures> phases;  // the phases that ran, in order
    std::optional<BackfillFigures> backfill;
    std::optional<ValueFigures> values;  // the second job's backfill instead
    std::string reject_file;
    std::uint64_t rejects_exported = 0;
    std::uint64_t peak_memory_bytes = 0;
    int exit_status = 0;
    std::string outcome;               // "done", "interrupted", "failed", "refused" or "lock held"
    std::string error;                 // the line main printed, if the run failed
    std::string verdict;               // the command's last line, without "sluice COMMAND: "
    std::string error_class;           // "cannot connect", "not ready", "too many rejects", "lock held", ... or empty
    std::string sqlstate;              // the failure's SQLSTATE, when PostgreSQL (or libpq) gave one
    std::vector<CheckFigures> checks;  // check: each check's outcome
    std::optional<VerifyFigures> verify;             // verify: its counts
    std::optional<ValueVerifyFigures> value_verify;  // verify of the second job: its counts
    std::vector<std::string> warnings;               // every warning the run gave, as engine::log::warnings() has them
};

// The backfill's lines of the human summary (the first without indent, the others under it), the
// rejects' warning last, in 80 columns.
std::string backfill_text(const BackfillFigures& figures);

// The second job's backfill in the summary's lines, its rejects' warning last.
std::string values_text(const ValueFigures& figures);

// The rejects' warning as one line ("330 messages were not stored; each is, ..."), or empty when
// the figures give none to make.
std::string rejects_warning(const BackfillFigures& figures);

// Reports a phase's lines, `head` then what it said; for the backfill (`backfill` not null) its
// figures, with the rejects as a warning that -q keeps.
void report_phase(const std::string& head, const std::string& said, const BackfillFigures* backfill);

// What the final verdict adds: "; 330 messages rejected, kept in table ..." or "; no message
// rejected"; empty when the backfill did not run.
std::string rejects_clause(const RunSummary& summary);

// "2026-01-31T12:00:00Z" for now.
std::string utc_now();

// The target of `conninfo` as libpq reads it (its defaults and PG* variables filling the gaps).
TargetFigures target_of(const std::string& conninfo);

// The summary as a JSON object (schema in README.md, "--summary-json").
std::string to_json(const RunSummary& summary);

// Writes to_json() to `path` as engine/output_file.h writes an export (a regular file through
// "<path>.partial" and a rename, so a reader never sees half of it; a device, a FIFO or a
// symlink's target in place or by the same rule). Throws std::runtime_error naming the file.
void write_summary_json(const RunSummary& summary, const std::string& path);

}  // namespace sluice::stages
