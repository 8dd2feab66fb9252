// What the commands share: the lock's key and the progress style.
#include "stages/commands/common.h"

#include "stages/openwebui.h"

namespace sluice::stages {

bool runs_current_message(const config::RunConfig& cfg) {
    return cfg.revision == openwebui::kCurrentMessageRevisionAfter;
}

std::string lock_key(const std::string& schema) { return "sluice migrate " + schema; }

engine::ProgressStyle progress_style(config::ProgressStyle s) {
    switch (s) {
        case config::ProgressStyle::bar: return engine::ProgressStyle::bar;
        case config::ProgressStyle::log: return engine::ProgressStyle::log;
        case config::ProgressStyle::none: return engine::ProgressStyle::none;
        case config::ProgressStyle::automatic: break;
    }
    return engine::style_for_stderr();
}

}  // namespace sluice::stages
