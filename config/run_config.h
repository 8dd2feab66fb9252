// The run configuration: argv, a config file and the environment become one immutable RunConfig.
// Nothing else in sluice sees argv. Precedence: command line > --config FILE > SLUICE_<OPTION>
// environment variables > the Open WebUI fallbacks DATABASE_URL and DATABASE_SCHEMA > defaults.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/common.h"
#include "config/defaults.h"
#include "config/phase.h"
#include "config/usable_cores.h"  // usable_cores(), which the defaults of threads and lanes follow

namespace sluice::config {

enum class Command { migrate, check, verify, rejects, cleanup, status, help, version };
enum class ProgressStyle { automatic, bar, log, none };

// The writer commits when either limit is reached. A limit left out of --commit-interval is max(),
// meaning never: compare elapsed time against it, do not add it to a time point (it would overflow).
struct CommitInterval {
    std::chrono::milliseconds every{defaults::kCommitEvery};
    std::size_t bytes = defaults::kCommitBytes;
};

struct RunConfig {
    Command command = Command::help;
    Command help_topic = Command::help;  // `sluice COMMAND --help`, `sluice help COMMAND`: that command's
                                         // help; Command::help: the general text
    std::string db_url;                  // libpq URL or keyword string; may hold a password: never print it.
                                         // Empty: libpq's environment (PGHOST, PGUSER, PGSERVICE...) decides
    std::string schema = "public";
    unsigned parse_threads = 1;                     // default: a quarter of the cores (build(), config/defaults.h)
    unsigned lanes = 1;                             // reader/writer pairs over ranges of chat; default: half the cores
    std::size_t fetch_rows = defaults::kFetchRows;  // chats per FETCH from the server-side cursor
    std::size_t batch_rows = defaults::kBatchRows;  // chats per batch (one batch = one parse task = one COPY)
    std::size_t batch_bytes = defaults::kBatchBytes;  // chat JSON bytes that close a batch
    // Chat JSON bytes read but not yet committed: with the batches' encoded rows, ~64 MB of RSS.
    std::size_t max_inflight_bytes = defaults::kMaxInflightBytes;
    std::size_t max_inflight_batches = defaults::kMaxInflightBatches;  // batches read but not yet committed
    CommitInterval commit_interval;
    std::string reject_file;                   // empty: a new file named for the database, schema and time, in the
                                               // working directory (stages/commands/reject_file_name.h)
    std::optional<std::uint64_t> max_rejects;  // unset: any number of rejects is not a failure
    std::vector<Phase> phases{Phase::schema, Phase::backfill, Phase::indexes, Phase::constraints, Phase::publish};
    bool runs(Phase phase) const { return std::find(phases.begin(), phases.end(), phase) != phases.end(); }
    bool resync = false;                         // re-derive every chat even when the checkpoint says complete
    std::chrono::milliseconds wait_for_lock{0};  // how long to wait for another run's lock; 0: refuse at once
    std::string output;                          // `sluice rejects`: the export's file; empty: standard output
    unsigned index_connections = 1;              // default: the cores present, one per index at most
    ProgressStyle progress = ProgressStyle::automatic;
    std::string revision;  // --revision: the job, named by the alembic revision it takes the database
                           // to (stages/openwebui.h's kJobs); parse() sets the first job's when none is given
    bool stamp_alembic = false;
    bool ignore_sessions = false;           // sessions that look like Open WebUI: a warning instead of a refusal
    bool discard_unfinished_build = false;  // cleanup: also drop a build table that was never published
    unsigned connect_retries = defaults::kConnectRetries;               // reconnect attempts before the run gives up
    std::chrono::milliseconds retry_max_wait{defaults::kRetryMaxWait};  // cap of the exponential backoff
    std::string log_file;      // --log-file: every line, with its time and level, appended; empty: none
    bool json = false;         // status --json
    std::string rejects_from;  // verify --rejects-from: the known rejects from this export, not the table
    std::string summary_json;  // --summary-json: the run's figures as JSON, written at the end; empty: none
    bool verbose = false;      // -v: details on stderr (never together with quiet)
    bool quiet = false;        // -q: only warnings, errors and the verdict
};

// The process's own environment, as an Environment (config/common.h).
Environment process_environment();
// The names of the variables set, so that a misspelt SLUICE_ variable is an error rather than ignored.
std::vector<std::string> process_environment_names();

// Parses argv (argv[0] is the program name). Throws UsageError naming the option and what is wrong.
// Each option applies to some commands only: on the command line one that does not apply to the
// command is refused; from a config file or the environment, which several commands share, it is
// ignored (neither applied nor checked).
// env_names lists the environment's variables for the misspelling check; main passes
// process_environment_names(), and the check is skipped when the list is empty.
RunConfig parse(int argc, const char* const argv[], const Environment& env,
                const std::vector<std::string>& env_names = {});

// The command's word ("migrate", "check", ...; "help", "version").
const char* command_name(Command command);

// The text of `sluice COMMAND --help`: what the command does, the options that apply to it with
// their defaults and environment variables, and its exit statuses; for Command::help the general
// text (the commands, the options every command takes, every exit status). Lines fit `width`
// columns (main passes the terminal's, at most 80), broken at spaces only.
std::string help_text(Command topic = Command::help, std::size_t width = 80);

// `sluice --version`: sluice's version and git revision, then the libpq, oneTBB and RapidJSON
// versions it runs with (libpq and oneTBB as loaded at run time).
std::string version_text();
// "0.1.0": the version alone, for --summary-json.
const char* version_number();

// The exit statuses main returns beyond 0 (done, or nothing to do), 1 (a failure nothing below
// names) and 2 (bad usage or configuration), one per outcome a script acts on differently.
inline constexpr int kExitCannotConnect = 3;   // the server cannot be reached, or refused the login
inline constexpr int kExitNotReady = 4;        // the preflight refused: nothing was written
inline constexpr int kExitTooManyRejects = 5;  // more rejects than --max-rejects allows
inline constexpr int kExitDisagrees = 6;       // verify: chat_message does not agree with chat
inline constexpr int kExitLockHeld = 75;       // another sluice migrate holds the lock: try again later
                                               // (sysexits.h's EX_TEMPFAIL)

// Refuses, with a UsageError naming the option, an export file that cannot be written: its
// directory missing or not writable, or the path a directory. A regular file (or a new one) is
// written as "<FILE>.partial" and renamed, so the directory is what must be writable; a device
// or a FIFO (/dev/null, /dev/stdout) is written in place and must be writable itself; a symlink
// is judged by its target. main calls it before a
// command that writes one (migrate and cleanup: --reject-file; rejects: --output; migrate:
// --summary-json; and check, which refuses what its migrate would), so that a bad path is
// refused before anything is written;
// parse() itself looks at no output path.
void check_output_files(const RunConfig& config);

// Parses "64MB", "4MiB", "512kB", "1GB", "1048576" into bytes (binary units). Throws UsageError,
// naming `option` (e.g. "--batch-bytes"), for junk, negatives, overflow and zero: no size means anything by 0.
std::size_t parse_size(const std::string& option, const std::string& text);

}  // namespace sluice::config
