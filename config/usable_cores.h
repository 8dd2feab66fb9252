// The cores this process may use, which the defaults of threads and lanes follow.
#pragma once

namespace sluice::config {

// The CPUs this process is allowed to run on (taskset, docker --cpuset-cpus), at most its cgroup's
// CPU quota rounded up (docker --cpus, a Kubernetes CPU limit); at least 1.
unsigned usable_cores();

}  // namespace sluice::config
