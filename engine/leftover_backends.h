// What a killed run leaves behind on the server. A CREATE INDEX or a VALIDATE goes on running
// in its backend after its client died, holding its locks; the next run would fail on the
// index's name or wait. Under the run's lock (engine/run_lock.h) no other run of ours is live,
// so a backend of ours (application_name "sluice …") that holds a lock on the job's relations
// is a leftover: it is cancelled, then terminated if it does not go.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/pg.h"

namespace sluice::engine {

struct Leftover {
    int pid = 0;
    std::string application_name, query;
};

// Backends named "sluice …" (verify aside: it only reads, and may run beside a migrate), other
// than this process's own, that hold a lock on one of `relations` (schema-qualified names;
// those that do not exist are ignored).
std::vector<Leftover> find_leftovers(Connection& conn, const std::vector<std::string>& relations);

// Cancels each leftover, terminates those still there after a few seconds, and waits (up to
// `patience_seconds`) until they are gone; `say` gets one line per backend, naming its pid and
// what it ran. Returns how many it ended; throws std::runtime_error when one will not go.
unsigned end_leftovers(Connection& conn, const std::vector<std::string>& relations,
                       const std::function<void(const std::string&)>& say, int patience_seconds = 30);

}  // namespace sluice::engine
