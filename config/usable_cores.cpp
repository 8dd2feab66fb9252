// The cores this process may use: its CPU affinity, capped by its cgroup's CPU quota (v2 or v1).
#include "config/usable_cores.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include <sched.h>

namespace sluice::config {

namespace {
// A cgroup's CPU quota as whole cores, rounded up; none when there is no limit. cgroup v2 says
// "max 100000" or "200000 100000" in cpu.max; v1 has cpu.cfs_quota_us (-1: none) and cfs_period_us.
std::optional<unsigned> cgroup_cpu_limit() {
    double quota = 0, period = 0;
    if (std::ifstream v2("/sys/fs/cgroup/cpu.max"); v2) {
        std::string q;
        if (!(v2 >> q >> period) || q == "max") return std::nullopt;
        quota = std::atof(q.c_str());
    } else {
        std::ifstream q1("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), p1("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
        if (!(q1 >> quota) || !(p1 >> period)) return std::nullopt;
    }
    if (quota <= 0 || period <= 0) return std::nullopt;
    return static_cast<unsigned>(std::ceil(quota / period));
}
}  // namespace

unsigned usable_cores() {
    unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0)
        cores = std::min(cores, static_cast<unsigned>(CPU_COUNT(&allowed)));
    if (std::optional<unsigned> limit = cgroup_cpu_limit()) cores = std::min(cores, *limit);
    return std::max(1u, cores);
}

}  // namespace sluice::config
