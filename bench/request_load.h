// Open-loop HTTP GET load over keep-alive connections, for the read scenarios (history, search).
// Request j of the run is due at start + j / rate; connection c of C takes j = c, c + C, ...
// and sends each when due, or at once if it is still busy with an earlier one; latency counts
// from the due time, so a slow server shows up as latency, not as a lower rate (no coordinated
// omission). What to ask comes from a RequestSource per connection (used on its thread only).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cpu_usage.h"
#include "direct_load.h"  // Timeline
#include "endpoint.h"
#include "histogram.h"
#include "schedule.h"

namespace parley::bench {

struct RequestPlan {
  std::string target;  // path and query
  int kind = 0;        // index into the scenario's kinds, for a histogram each
};

class RequestSource {
 public:
  virtual ~RequestSource() = default;
  virtual RequestPlan Next() = 0;
  // A 200 answer to `plan`: returns "" if it is as expected, else what is wrong. May update the
  // source's state (the next page to ask for).
  virtual std::string Check(const RequestPlan& plan, const std::string& body) = 0;
};

struct RequestLoadSettings {
  double rate = 1000;  // requests/s over all connections
  int connections = 4;
  int threads = 2;
  std::chrono::milliseconds timeout{10'000};
  double drain_s = 5;
};

struct RequestStats {
  std::vector<Histogram> by_kind;  // HTTP round trip from the due time, requests due in window
  Histogram all;
  uint64_t issued = 0;
  uint64_t due_in_window = 0;
  uint64_t completed_in_window = 0;  // answers that arrived in the window
  uint64_t ok = 0;
  uint64_t transport_errors = 0;
  uint64_t bad_answers = 0;  // 200 but not what was expected
  std::map<int, uint64_t> statuses;  // non-200 answers by status
  std::string first_problem;
  uint64_t connects = 0;
  CpuSample cpu_before, cpu_after;
  void Merge(const RequestStats& o);
};

// Runs the load over `timeline` (blocking), waits up to drain_s for the last answers.
RequestStats RunRequestLoad(const Endpoint& ep, const std::string& token,
                            const RequestLoadSettings& settings, const Timeline& timeline,
                            int kinds, int server_pid,
                            const std::function<std::unique_ptr<RequestSource>(int)>& make_source);

}  // namespace parley::bench
