#include "read_report.h"

#include <cstdio>

#include "clock.h"
#include "cpu_usage.h"

namespace parley::bench {

Timeline MakeReadTimeline(const CommonOptions& o) {
  Timeline t;
  t.start_ns = NowNs() + 200 * kNsPerMs;
  t.measure_ns = t.start_ns + static_cast<int64_t>(o.warmup_s * kNsPerSec);
  t.end_ns = t.measure_ns + static_cast<int64_t>(o.duration_s * kNsPerSec);
  return t;
}

Report MakeReadReport(const std::string& scenario, const CommonOptions& o,
                      const RequestLoadSettings& load, const RequestStats& st,
                      const std::vector<std::string>& kinds) {
  Report r;
  r.scenario = scenario;
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "open loop at %.0f req/s over %d keep-alive connections (latency = HTTP round "
                "trip from the scheduled time); %.1f s measured after %.1f s warm-up",
                load.rate, load.connections, o.duration_s, o.warmup_s);
  r.summary = buf;
  r.config = {{"url", o.url},         {"rate", load.rate},           {"connections", load.connections},
              {"threads", o.threads}, {"warmup_s", o.warmup_s},      {"duration_s", o.duration_s}};
  r.rates = {{"requests due (offered)", st.due_in_window / o.duration_s},
             {"answers received", st.completed_in_window / o.duration_s}};
  for (size_t i = 0; i < kinds.size() && i < st.by_kind.size(); ++i) {
    r.latencies.emplace_back(kinds[i], st.by_kind[i]);
  }
  r.latencies.emplace_back("all requests", st.all);
  const auto& b = st.cpu_before;
  const auto& a = st.cpu_after;
  r.resources = {{"parley-bench CPU", CoresUsed(b.self_cpu_ns, a.self_cpu_ns, b.wall_ns, a.wall_ns)}};
  if (o.server_pid > 0) {
    r.resources.emplace_back("parleyd CPU",
                             CoresUsed(b.server_cpu_ns, a.server_cpu_ns, b.wall_ns, a.wall_ns));
  }
  r.counters = {{"requests issued (total)", st.issued},
                {"200 answers", st.ok},
                {"200 answers not as expected", st.bad_answers},
                {"transport errors", st.transport_errors},
                {"TCP connects", st.connects}};
  for (const auto& [status, n] : st.statuses) {
    r.counters.emplace_back("HTTP " + std::to_string(status), n);
  }
  uint64_t failed = st.transport_errors + st.bad_answers;
  for (const auto& [status, n] : st.statuses) failed += n;
  if (failed > 0 && !st.first_problem.empty()) {
    r.warnings.push_back("requests failed or answered unexpectedly; first: " + st.first_problem);
    r.incomplete = true;
  }
  if (st.completed_in_window < 0.95 * st.due_in_window) {
    r.warnings.push_back("fewer answers than requests due: the server (or the connections) did "
                         "not keep up; read the latencies as queueing delay");
  }
  if (st.all.count() == 0) {
    r.warnings.push_back("no measured requests");
    r.incomplete = true;
  }
  return r;
}

}  // namespace parley::bench
