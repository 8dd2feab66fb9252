// What the commands share: the lock's key, verify's refusal during a migrate, the progress style.
#include "stages/commands/common.h"

#include "engine/run_lock.h"
#include "stages/openwebui.h"

namespace sluice::stages {

bool runs_current_message(const config::RunConfig& cfg) {
    return cfg.revision == openwebui::kCurrentMessageRevisionAfter;
}

std::string lock_key(const std::string& schema) {
    return "sluice migrate " + schema;
}

void refuse_verify_while_migrating(engine::Connection& conn, const std::string& schema,
                                   const std::function<std::string()>& progress) {
    std::optional<engine::LockHolder> holder = engine::RunLock::holder(conn, lock_key(schema));
    if (!holder) return;
    throw LockHeldError("a sluice migrate is running on schema " + engine::quote_ident(schema) + " (" +
                        holder->describe() + ")" + progress() +
                        ": verify once it is done (sluice status shows how far it is)");
}

engine::ProgressStyle progress_style(config::ProgressStyle s) {
    switch (s) {
        case config::ProgressStyle::bar:
            return engine::ProgressStyle::bar;
        case config::ProgressStyle::log:
            return engine::ProgressStyle::log;
        case config::ProgressStyle::none:
            return engine::ProgressStyle::none;
        case config::ProgressStyle::automatic:
            break;
    }
    return engine::style_for_stderr();
}

}  // namespace sluice::stages
