#include "request_load.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <atomic>
#include <thread>

#include "clock.h"
#include "http_keepalive.h"
#include "io_pool.h"

namespace parley::bench {

namespace asio = boost::asio;

void RequestStats::Merge(const RequestStats& o) {
  if (by_kind.size() < o.by_kind.size()) by_kind.resize(o.by_kind.size());
  for (size_t i = 0; i < o.by_kind.size(); ++i) by_kind[i].Merge(o.by_kind[i]);
  all.Merge(o.all);
  issued += o.issued;
  due_in_window += o.due_in_window;
  completed_in_window += o.completed_in_window;
  ok += o.ok;
  transport_errors += o.transport_errors;
  bad_answers += o.bad_answers;
  for (const auto& [k, v] : o.statuses) statuses[k] += v;
  if (first_problem.empty()) first_problem = o.first_problem;
  connects += o.connects;
}

namespace {

struct Worker {
  std::unique_ptr<KeepAliveHttp> http;
  std::unique_ptr<RequestSource> source;
  RequestStats stats;
};

asio::awaitable<void> Drive(Worker& w, const RequestLoadSettings& s, const Timeline& t, int conn,
                            std::atomic<int>& finished) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (uint64_t k = 0;; ++k) {
    const int64_t due = DueNs(t.start_ns, s.rate, s.connections, conn, k);
    if (due >= t.end_ns) break;
    if (NowNs() < due) {
      timer.expires_at(FromNs(due));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    const RequestPlan plan = w.source->Next();
    ++w.stats.issued;
    const bool measured = t.measured(due);
    if (measured) ++w.stats.due_in_window;
    auto r = co_await w.http->Get(plan.target, s.timeout);
    const int64_t now = NowNs();
    if (t.measured(now)) ++w.stats.completed_in_window;
    std::string problem;
    if (!r.ok()) {
      ++w.stats.transport_errors;
      problem = r.error().message;
    } else if (r->status != 200) {
      ++w.stats.statuses[r->status];
      problem = "GET " + plan.target + " -> " + std::to_string(r->status) + ": " +
                r->body.substr(0, 200);
    } else {
      ++w.stats.ok;
      problem = w.source->Check(plan, r->body);
      if (!problem.empty()) ++w.stats.bad_answers;
    }
    if (!problem.empty() && w.stats.first_problem.empty()) w.stats.first_problem = problem;
    if (measured && r.ok()) {
      w.stats.by_kind[plan.kind].Record(now - due);
      w.stats.all.Record(now - due);
    }
  }
  finished.fetch_add(1);
}

}  // namespace

RequestStats RunRequestLoad(const Endpoint& ep, const std::string& token,
                            const RequestLoadSettings& settings, const Timeline& timeline,
                            int kinds, int server_pid,
                            const std::function<std::unique_ptr<RequestSource>(int)>& make_source) {
  IoPool pool(settings.threads);
  std::vector<std::unique_ptr<Worker>> workers;
  std::atomic<int> finished{0};
  for (int c = 0; c < settings.connections; ++c) {
    auto w = std::make_unique<Worker>();
    w->http = std::make_unique<KeepAliveHttp>(pool.context(c), ep, token);
    w->source = make_source(c);
    w->stats.by_kind.resize(kinds);
    asio::co_spawn(pool.context(c), Drive(*w, settings, timeline, c, finished), asio::detached);
    workers.push_back(std::move(w));
  }
  std::this_thread::sleep_until(FromNs(timeline.measure_ns));
  const CpuSample before = SampleCpu(server_pid);
  std::this_thread::sleep_until(FromNs(timeline.end_ns));
  const CpuSample after = SampleCpu(server_pid);
  const int64_t deadline = NowNs() + static_cast<int64_t>(settings.drain_s * kNsPerSec);
  while (finished.load() < settings.connections && NowNs() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pool.Stop();
  RequestStats all;
  all.by_kind.resize(kinds);
  for (const auto& w : workers) {
    all.Merge(w->stats);
    all.connects += w->http->connects();
  }
  all.cpu_before = before;
  all.cpu_after = after;
  return all;
}

}  // namespace parley::bench
