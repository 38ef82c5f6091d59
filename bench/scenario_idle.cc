// `idle`: many authenticated WebSockets that stay open and quiet, the DESIGN.md figure "19,000
// idle connections per process at <= 4 KiB server memory each; >= 100,000 with several
// processes". Opens --connections WebSockets (spread over the accounts' access tokens, so one
// device may hold several connections, and over --source-addresses so that the ephemeral ports
// of one source address do not run out), holds them for --hold-s while the server's heartbeats
// run, checks they are all still open and that a sample still answers an application `ping`,
// and reports the server's resident memory per connection:
//   (VmRSS of --server-pid with N open - VmRSS before connecting) / N.
// The RSS "before" is taken after the accounts exist; login hashes (argon2id, 19 MiB each)
// leave freed heap behind that connections could reuse, which would hide their cost, so the
// clean procedure (bench/run_idle.sh) creates the accounts first (--setup-only
// --accounts-out FILE), restarts the server, and connects with --accounts-in FILE.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include "accounts.h"
#include "clock.h"
#include "cpu_usage.h"
#include "frames.h"
#include "histogram.h"
#include "io_pool.h"
#include "proc_stats.h"
#include "scenario.h"
#include "spawn.h"
#include "ws_connection.h"

namespace parley::bench {

namespace {

namespace asio = boost::asio;
namespace json = boost::json;

struct IdleSettings {
  int connections = 1000;
  std::string source_addresses;  // "" = the kernel's choice
  double hold_s = 30;
  int ping_sample = 1000;
  int connect_concurrency = 64;
  int read_buffer_bytes = 4096;
  std::string accounts_in;
  std::string accounts_out;
  bool setup_only = false;
};

// Everything one pool thread knows; touched only on that thread until the pool has stopped.
struct IdleShard {
  std::vector<size_t> conns;  // indexes of the connections this thread runs
  size_t next = 0;            // next of `conns` to open
  Histogram connect_latency;  // connect + upgrade + ready frame
  Histogram ping_latency;     // application ping -> pong, the sample
  std::vector<int64_t> ping_sent_ns;  // by connection index (only the sample's entries used)
  uint64_t established = 0;
  uint64_t failed = 0;
  uint64_t frames = 0;        // text frames received after ready
  uint64_t pongs = 0;
  std::map<std::string, uint64_t> frame_types;
  std::string first_failure;
};

class IdleScenario final : public Scenario {
 public:
  std::string_view name() const override { return "idle"; }
  std::string_view description() const override {
    return "many authenticated WebSockets held open and idle: how many a server holds, at what "
           "memory per connection (needs --server-pid), and whether they stay alive";
  }

  void AddOptions(CLI::App& sub) override {
    sub.add_option("--connections", s_.connections,
                   "WebSockets to open, spread round-robin over the accounts' devices (several "
                   "per device when larger than --users)")
        ->check(CLI::Range(1, 1'000'000))
        ->capture_default_str();
    sub.add_option("--source-addresses", s_.source_addresses,
                   "Local loopback addresses to connect from, round-robin: 127.0.0.1-127.0.0.8 "
                   "or a comma list (each gives ~28k ephemeral ports per server port)");
    sub.add_option("--hold-s", s_.hold_s, "Seconds to hold the connections idle")
        ->check(CLI::Range(0.0, 840.0))
        ->capture_default_str();
    sub.add_option("--ping-sample", s_.ping_sample,
                   "After the hold, send an application ping on this many connections (evenly "
                   "spread) and expect a pong on each")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    sub.add_option("--connect-concurrency", s_.connect_concurrency,
                   "WebSocket handshakes in flight")
        ->check(CLI::Range(1, 100'000))
        ->capture_default_str();
    sub.add_option("--read-buffer-bytes", s_.read_buffer_bytes,
                   "Initial read buffer per connection in the generator (grows if needed)")
        ->check(CLI::Range(512, 1 << 20))
        ->capture_default_str();
    sub.add_option("--accounts-in", s_.accounts_in,
                   "Use these accounts (written by --accounts-out) instead of signing up");
    sub.add_option("--accounts-out", s_.accounts_out, "Write the accounts created to FILE");
    sub.add_flag("--setup-only", s_.setup_only,
                 "Create the accounts (with --accounts-out) and stop before connecting");
  }

  Status Validate(const CommonOptions& o) const override {
    if (s_.setup_only && s_.accounts_out.empty()) {
      return Error{ExitCode::kUsage, "idle: --setup-only needs --accounts-out FILE"};
    }
    auto a = ParseSourceAddresses(s_.source_addresses);
    if (!a.ok()) return a.error();
    return Ok();
  }

  Result<Report> Run(const RunContext& ctx) override;

 private:
  IdleSettings s_;
};

void SleepFor(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

std::string Kib(int64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

Result<Report> IdleScenario::Run(const RunContext& ctx) {
  const CommonOptions& o = ctx.options;
  const uint64_t fd_limit = RaiseFdLimit();
  auto sources = ParseSourceAddresses(s_.source_addresses);
  if (!sources.ok()) return sources.error();
  if (static_cast<uint64_t>(s_.connections) + 64 > fd_limit) {
    std::cerr << "parley-bench: WARNING: --connections " << s_.connections
              << " is near or past this process's file descriptor limit (" << fd_limit
              << "); run several generator processes\n";
  }

  Result<std::vector<Account>> accounts =
      s_.accounts_in.empty()
          ? CreateAccounts(ctx.endpoint, o.users, o.setup_concurrency, o.password)
          : LoadAccounts(s_.accounts_in);
  if (!accounts.ok()) return accounts.error();
  if (!s_.accounts_out.empty()) {
    if (Status st = SaveAccounts(*accounts, s_.accounts_out); !st.ok()) return st.error();
    std::cerr << "parley-bench: " << accounts->size() << " accounts written to "
              << s_.accounts_out << "\n";
  }

  Report r;
  r.scenario = "idle";
  if (s_.setup_only) {
    r.summary = "setup only: " + std::to_string(accounts->size()) + " accounts written to " +
                s_.accounts_out;
    return r;
  }

  const size_t n = static_cast<size_t>(s_.connections);
  const int64_t self_rss_before = ResidentBytes(0);  // before the connection objects exist
  const auto timeout = std::chrono::milliseconds(o.connect_timeout_ms);
  IoPool pool(o.threads);
  std::vector<IdleShard> shards(pool.size());
  std::vector<std::unique_ptr<WsConnection>> conns;
  conns.reserve(n);
  std::atomic<uint64_t> lost{0};
  std::atomic<uint64_t> pongs{0};
  std::mutex first_lost_mu;
  std::string first_lost;
  for (size_t i = 0; i < n; ++i) {
    const int t = static_cast<int>(i % pool.size());
    conns.push_back(std::make_unique<WsConnection>(pool.context(t), s_.read_buffer_bytes));
    if (!sources->empty()) conns.back()->SetSourceAddress((*sources)[i % sources->size()]);
    shards[t].conns.push_back(i);
    IdleShard* sh = &shards[t];
    conns.back()->SetHandlers(
        [sh, i, &pongs](std::string_view text) {
          ++sh->frames;
          boost::system::error_code ec;
          auto v = json::parse(text, ec);
          if (ec || !v.is_object()) {
            ++sh->frame_types["(unparsable)"];
            return;
          }
          const auto& f = v.get_object();
          const auto type = TypeOf(f);
          if (type == "pong" && RefOf(f) == i && sh->ping_sent_ns[i] > 0) {
            sh->ping_latency.Record(NowNs() - sh->ping_sent_ns[i]);
            sh->ping_sent_ns[i] = 0;
            ++sh->pongs;
            pongs.fetch_add(1, std::memory_order_relaxed);
            return;
          }
          ++sh->frame_types[std::string(type)];
        },
        [&lost, &first_lost_mu, &first_lost](const std::string& why) {
          if (lost.fetch_add(1) == 0) {
            std::lock_guard lock(first_lost_mu);
            first_lost = why;
          }
        });
  }
  for (auto& sh : shards) sh.ping_sent_ns.assign(n, 0);

  const int64_t server_rss_before = o.server_pid > 0 ? ResidentBytes(o.server_pid) : -1;

  // Open: --connect-concurrency workers in all, split over the threads; each takes the next
  // connection of its thread until none is left.
  std::cerr << "parley-bench: opening " << n << " WebSockets (" << s_.connect_concurrency
            << " handshakes in flight";
  if (!sources->empty()) std::cerr << ", from " << sources->size() << " source addresses";
  std::cerr << ")\n";
  const int64_t open_start = NowNs();
  std::vector<std::future<int>> workers;
  const int per_thread = std::max(1, s_.connect_concurrency / pool.size());
  for (int t = 0; t < pool.size(); ++t) {
    IdleShard* sh = &shards[t];
    for (int w = 0; w < per_thread; ++w) {
      auto worker = [](IdleShard* sh, std::vector<std::unique_ptr<WsConnection>>* conns,
                       const std::vector<Account>* accounts, const Endpoint* ep,
                       std::chrono::milliseconds timeout) -> asio::awaitable<int> {
        while (sh->next < sh->conns.size()) {
          const size_t i = sh->conns[sh->next++];
          const Account& a = (*accounts)[i % accounts->size()];
          const int64_t t0 = NowNs();
          Status st = co_await (*conns)[i]->Open(*ep, a.access_token, timeout);
          if (st.ok()) {
            ++sh->established;
            sh->connect_latency.Record(NowNs() - t0);
          } else {
            ++sh->failed;
            if (sh->first_failure.empty()) sh->first_failure = st.error().message;
          }
        }
        co_return 0;
      };
      workers.push_back(SpawnFuture(pool.context(t).get_executor(),
                                    worker(sh, &conns, &*accounts, &ctx.endpoint, timeout)));
    }
  }
  for (auto& w : workers) w.get();
  const double open_s = static_cast<double>(NowNs() - open_start) / kNsPerSec;
  uint64_t established = 0;
  uint64_t failed = 0;
  std::string first_failure;
  for (const auto& sh : shards) {
    established += sh.established;
    failed += sh.failed;
    if (first_failure.empty()) first_failure = sh.first_failure;
  }
  std::cerr << "parley-bench: " << established << " WebSockets open, " << failed
            << " failed, in " << open_s << " s\n";
  const int64_t server_rss_open = o.server_pid > 0 ? ResidentBytes(o.server_pid) : -1;
  const int64_t self_rss_open = ResidentBytes(0);

  // Hold. The server sends heartbeat pings; the connections answer them and nothing else.
  std::cerr << "parley-bench: holding them idle for " << s_.hold_s << " s\n";
  const CpuSample cpu_before = SampleCpu(o.server_pid);
  int64_t server_rss_max = server_rss_open;
  const int64_t hold_end = NowNs() + static_cast<int64_t>(s_.hold_s * kNsPerSec);
  while (NowNs() < hold_end) {
    SleepFor(std::min(1.0, static_cast<double>(hold_end - NowNs()) / kNsPerSec));
    if (o.server_pid > 0) server_rss_max = std::max(server_rss_max, ResidentBytes(o.server_pid));
  }
  const CpuSample cpu_after = SampleCpu(o.server_pid);
  const int64_t server_rss_held = o.server_pid > 0 ? ResidentBytes(o.server_pid) : -1;
  const int64_t self_rss_held = ResidentBytes(0);

  // Still open? Counted on each connection's own thread.
  std::vector<std::future<int>> counts;
  for (int t = 0; t < pool.size(); ++t) {
    counts.push_back(SpawnFuture(
        pool.context(t).get_executor(),
        [](IdleShard* sh, std::vector<std::unique_ptr<WsConnection>>* conns) -> asio::awaitable<int> {
          int open = 0;
          for (size_t i : sh->conns) open += (*conns)[i]->is_open() ? 1 : 0;
          co_return open;
        }(&shards[t], &conns)));
  }
  uint64_t still_open = 0;
  for (auto& c : counts) still_open += static_cast<uint64_t>(c.get());

  // A sample answers an application ping (the server's gateway, not only its TCP stack).
  uint64_t pings_sent = 0;
  if (s_.ping_sample > 0 && still_open > 0) {
    const size_t sample = std::min<size_t>(static_cast<size_t>(s_.ping_sample), n);
    const size_t step = std::max<size_t>(1, n / sample);
    for (size_t i = 0, k = 0; i < n && k < sample; i += step, ++k) {
      const int t = static_cast<int>(i % pool.size());
      ++pings_sent;
      asio::post(pool.context(t), [sh = &shards[t], c = conns[i].get(), i] {
        if (!c->is_open()) return;
        sh->ping_sent_ns[i] = NowNs();
        c->SendText("{\"type\":\"ping\",\"ref\":\"" + std::to_string(i) + "\"}");
      });
    }
    const int64_t ping_deadline = NowNs() + 10 * kNsPerSec;
    while (pongs.load() < pings_sent && NowNs() < ping_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  const uint64_t lost_count = lost.load();

  for (auto& c : conns) asio::post(c->executor(), [conn = c.get()] { conn->Close(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(500 + n / 50));
  pool.Stop();

  Histogram connect_latency;
  Histogram ping_latency;
  uint64_t frames = 0;
  uint64_t pong_count = 0;
  std::map<std::string, uint64_t> frame_types;
  for (const auto& sh : shards) {
    connect_latency.Merge(sh.connect_latency);
    ping_latency.Merge(sh.ping_latency);
    frames += sh.frames;
    pong_count += sh.pongs;
    for (const auto& [k, v] : sh.frame_types) frame_types[k] += v;
  }

  char summary[320];
  std::snprintf(summary, sizeof summary,
                "%zu WebSockets over %zu devices (%.1f per device), %zu source addresses, "
                "held %.0f s, %d threads",
                n, accounts->size(), static_cast<double>(n) / accounts->size(),
                std::max<size_t>(1, sources->size()), s_.hold_s, o.threads);
  r.summary = summary;
  r.config = {{"url", o.url},
              {"connections", s_.connections},
              {"devices", accounts->size()},
              {"source_addresses", s_.source_addresses},
              {"hold_s", s_.hold_s},
              {"ping_sample", s_.ping_sample},
              {"connect_concurrency", s_.connect_concurrency},
              {"read_buffer_bytes", s_.read_buffer_bytes},
              {"threads", o.threads},
              {"fd_limit", fd_limit},
              {"server_pid", o.server_pid}};
  r.rates = {{"connections established", established / std::max(open_s, 1e-9)}};
  r.latencies = {{"connect -> ready", connect_latency}, {"ping -> pong (sample)", ping_latency}};
  r.resources = {{"parley-bench CPU (hold)", CoresUsed(cpu_before.self_cpu_ns, cpu_after.self_cpu_ns,
                                                      cpu_before.wall_ns, cpu_after.wall_ns)}};
  if (o.server_pid > 0) {
    r.resources.emplace_back("parleyd CPU (hold)",
                             CoresUsed(cpu_before.server_cpu_ns, cpu_after.server_cpu_ns,
                                       cpu_before.wall_ns, cpu_after.wall_ns));
  }
  auto per_conn = [&](int64_t before, int64_t after) -> uint64_t {
    if (before < 0 || after < 0 || established == 0 || after < before) return 0;
    return static_cast<uint64_t>((after - before) / static_cast<int64_t>(established));
  };
  r.counters = {{"connections requested", n},
                {"connections established", established},
                {"connections failed", failed},
                {"time to establish all (ms)", static_cast<uint64_t>(open_s * 1000)},
                {"still open after the hold", still_open},
                {"lost during the run", lost_count},
                {"pings sent (sample)", pings_sent},
                {"pongs received", pong_count},
                {"other frames received", frames - pong_count},
                {"generator RSS before (KiB)", static_cast<uint64_t>(std::max<int64_t>(0, self_rss_before / 1024))},
                {"generator RSS held (KiB)", static_cast<uint64_t>(std::max<int64_t>(0, self_rss_held / 1024))},
                {"generator RSS per connection (bytes)", per_conn(self_rss_before, self_rss_held)}};
  for (const auto& [k, v] : frame_types) r.counters.emplace_back("frames of type " + k, v);
  if (o.server_pid > 0) {
    r.counters.emplace_back("server RSS before (KiB)", server_rss_before / 1024);
    r.counters.emplace_back("server RSS all open (KiB)", server_rss_open / 1024);
    r.counters.emplace_back("server RSS end of hold (KiB)", server_rss_held / 1024);
    r.counters.emplace_back("server RSS max during hold (KiB)", server_rss_max / 1024);
    r.counters.emplace_back("server RSS per connection (bytes)",
                            per_conn(server_rss_before, server_rss_held));
    r.counters.emplace_back("server RSS per connection, max during hold (bytes)",
                            per_conn(server_rss_before, server_rss_max));
    r.environment.emplace_back("server RSS before / all open / end of hold",
                               Kib(server_rss_before) + " / " + Kib(server_rss_open) + " / " +
                                   Kib(server_rss_held));
  } else {
    r.warnings.push_back("no --server-pid: the server's memory per connection is not measured");
  }
  r.environment.emplace_back("generator RSS before / all open / end of hold",
                             Kib(self_rss_before) + " / " + Kib(self_rss_open) + " / " +
                                 Kib(self_rss_held));
  r.environment.emplace_back("file descriptor limit (soft, raised to hard)",
                             std::to_string(fd_limit));
  if (failed > 0) {
    r.warnings.push_back(std::to_string(failed) + " WebSockets could not be opened; first: " +
                         first_failure);
    r.incomplete = true;
  }
  if (lost_count > 0 || still_open < established) {
    std::lock_guard lock(first_lost_mu);
    r.warnings.push_back(std::to_string(established - still_open) +
                         " WebSockets ended during the hold; first: " + first_lost);
    r.incomplete = true;
  }
  if (pong_count < pings_sent) {
    r.warnings.push_back(std::to_string(pings_sent - pong_count) + " of " +
                         std::to_string(pings_sent) + " sampled pings got no pong within 10 s");
    r.incomplete = true;
  }
  return r;
}

}  // namespace

std::unique_ptr<Scenario> MakeIdleScenario() { return std::make_unique<IdleScenario>(); }

}  // namespace parley::bench
