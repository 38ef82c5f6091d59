// The timeline and the report of the request/response scenarios (history, search).
#pragma once

#include <string>
#include <vector>

#include "direct_load.h"
#include "options.h"
#include "report.h"
#include "request_load.h"

namespace parley::bench {

Timeline MakeReadTimeline(const CommonOptions& o);

// Rates, a latency row per kind (plus "all requests"), counters, CPU, warnings. `summary` holds
// the load ("open loop at R req/s over C keep-alive connections"); the caller prefixes its own.
Report MakeReadReport(const std::string& scenario, const CommonOptions& o,
                      const RequestLoadSettings& load, const RequestStats& st,
                      const std::vector<std::string>& kinds);

}  // namespace parley::bench
