// The fence table, sluice_run: one per schema, whichever job a migrate runs. Each run puts its
// token there, and every commit of either job checks it still holds it (engine/run_fence.h).
#pragma once

namespace sluice::stages {

inline constexpr const char* kRunTable = "sluice_run";

}  // namespace sluice::stages
