// `reconnect`: a reconnect storm with offline catch-up. --users devices are paired into direct
// conversations; in --away of the pairs device b disconnects, device a sends it --messages
// messages (each acked, i.e. durable) while it is away, then every away device reconnects at
// the same moment. On connect the server replays what is pending for the device (everything
// get-messages would return, docs/openapi.yaml `/v1/ws`); the device marks delivered as it
// goes. Measured: connect -> ready of the reconnecting devices, the time from the storm's start
// until each device holds all its missed messages, the time until all do, and the catch-up
// throughput (missed messages / that time). Checked: every missed message arrives, none twice,
// in order per conversation.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <future>
#include <iostream>
#include <random>
#include <thread>
#include <unordered_set>

#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>

#include "accounts.h"
#include "clock.h"
#include "conversations.h"
#include "cpu_usage.h"
#include "fleet.h"
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

struct ReconnectSettings {
  int away = 0;              // pairs whose device b goes away; 0 = all
  int messages = 50;         // sent to each away device while it is away
  int send_window = 32;      // sends outstanding per sender
  double catchup_timeout_s = 120;
  int mark_every = 50;       // mark_delivered after this many received (and at the end)
};

// One away pair; `sender` fields live on a's thread, `away` fields on the new connection's.
struct AwayPair {
  DirectPair pair;
  SendTarget target;
  // sender side
  int sent = 0;
  int acked = 0;
  uint64_t send_errors = 0;
  std::vector<int64_t> expected;  // seqs of the acked messages
  // reconnecting side
  std::unique_ptr<WsConnection> conn;
  std::unordered_set<int64_t> expected_set;
  std::unordered_set<int64_t> received;
  int64_t last_seq = 0;
  int64_t max_seq = 0;
  uint64_t duplicates = 0;
  uint64_t out_of_order = 0;
  uint64_t older = 0;           // pending messages from before the absence (the pairing one)
  uint64_t other_frames = 0;
  int since_mark = 0;
  int64_t ready_ns = 0;         // connect -> ready
  int64_t done_ns = 0;          // storm start -> last missed message
  bool open_failed = false;
  std::string failure;
};

class ReconnectScenario final : public Scenario {
 public:
  std::string_view name() const override { return "reconnect"; }
  std::string_view description() const override {
    return "reconnect storm with offline catch-up: devices go away, are sent messages, all "
           "reconnect at once; time until each has every missed message";
  }

  void AddOptions(CLI::App& sub) override {
    sub.add_option("--away", s_.away, "Pairs whose second device goes away (0 = every pair)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    sub.add_option("--messages", s_.messages, "Messages sent to each away device while away")
        ->check(CLI::Range(1, 100'000))
        ->capture_default_str();
    sub.add_option("--send-window", s_.send_window, "Sends outstanding per sender while away")
        ->check(CLI::Range(1, 10'000))
        ->capture_default_str();
    sub.add_option("--catchup-timeout-s", s_.catchup_timeout_s,
                   "Give up waiting for the catch-up after this long")
        ->check(CLI::Range(1.0, 3600.0))
        ->capture_default_str();
    sub.add_option("--mark-every", s_.mark_every,
                   "A reconnected device sends mark_delivered after this many messages (and "
                   "when it has them all)")
        ->check(CLI::Range(1, 1'000'000))
        ->capture_default_str();
  }

  Status Validate(const CommonOptions& o) const override {
    if (o.users < 2 || o.users % 2 != 0) {
      return Error{ExitCode::kUsage, "reconnect: --users must be even (users are paired)"};
    }
    if (s_.away > o.users / 2) {
      return Error{ExitCode::kUsage, "reconnect: --away is at most --users / 2"};
    }
    return Ok();
  }

  Result<Report> Run(const RunContext& ctx) override;

 private:
  ReconnectSettings s_;
};

void Send(AwayPair& p, WsConnection& conn, uint64_t salt) {
  std::string frame;
  const int k = p.sent++;
  char body[64];
  std::snprintf(body, sizeof body, "parley-bench reconnect %d", k);
  AppendSendFrame(frame, static_cast<uint64_t>(k) + 1, p.target.key, p.target.value, salt,
                  static_cast<uint64_t>(k), body);
  conn.SendText(frame);
}

Result<Report> ReconnectScenario::Run(const RunContext& ctx) {
  const CommonOptions& o = ctx.options;
  RaiseFdLimit();
  const auto timeout = std::chrono::milliseconds(o.connect_timeout_ms);
  IoPool pool(o.threads);
  auto accounts = CreateAccounts(ctx.endpoint, o.users, o.setup_concurrency, o.password);
  if (!accounts.ok()) return accounts.error();
  Fleet fleet(pool);
  if (Status st = fleet.ConnectAll(ctx.endpoint, *accounts, timeout); !st.ok()) return st.error();
  auto pairs = OpenDirectConversations(fleet, *accounts, timeout);
  if (!pairs.ok()) return pairs.error();

  const size_t away = s_.away > 0 ? static_cast<size_t>(s_.away) : pairs->size();
  std::vector<std::unique_ptr<AwayPair>> ps;
  for (size_t i = 0; i < away; ++i) {
    auto p = std::make_unique<AwayPair>();
    p->pair = (*pairs)[i];
    if (!p->pair.conversation_id.empty()) {
      p->target = SendTarget{"conversation_id", p->pair.conversation_id};
    } else {
      p->target = SendTarget{"to_user_id", (*accounts)[p->pair.b].user_id};
    }
    ps.push_back(std::move(p));
  }

  // 1. The away devices disconnect (close frame, then the TCP connection ends).
  for (auto& p : ps) {
    asio::post(fleet.conn(p->pair.b).executor(), [c = &fleet.conn(p->pair.b)] { c->Close(); });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  std::cerr << "parley-bench: " << away << " devices went away\n";

  // 2. Their partners send them --messages each, --send-window outstanding, until all acked.
  std::atomic<uint64_t> senders_done{0};
  const int total = s_.messages;
  const int window = s_.send_window;
  const int64_t send_start = NowNs();
  for (auto& up : ps) {
    AwayPair* p = up.get();
    WsConnection* conn = &fleet.conn(p->pair.a);
    const uint64_t salt = std::random_device{}();
    asio::post(conn->executor(), [p, conn, salt, total, window, &senders_done] {
      conn->SetHandlers(
          [p, conn, salt, total, &senders_done](std::string_view text) {
            boost::system::error_code ec;
            auto v = json::parse(text, ec);
            if (ec || !v.is_object()) return;
            const auto& f = v.get_object();
            const auto type = TypeOf(f);
            if (type != "ack" && type != "error") return;
            auto ref = RefOf(f);
            if (!ref || *ref == 0) return;
            if (type == "ack") {
              if (auto seq = IntOf(f, "seq")) p->expected.push_back(*seq);
              ++p->acked;
            } else {
              ++p->send_errors;
              ++p->acked;  // answered; counted as an error
            }
            if (p->sent < total) Send(*p, *conn, salt);
            if (p->acked == total) senders_done.fetch_add(1);
          },
          nullptr);
      for (int k = 0; k < std::min(window, total); ++k) Send(*p, *conn, salt);
    });
  }
  const int64_t send_deadline = NowNs() + static_cast<int64_t>(s_.catchup_timeout_s * kNsPerSec);
  while (senders_done.load() < away && NowNs() < send_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double send_s = static_cast<double>(NowNs() - send_start) / kNsPerSec;
  if (senders_done.load() < away) {
    return Error{ExitCode::kRunIncomplete, "reconnect: the senders' messages were not all acked"
                                           " within --catchup-timeout-s"};
  }
  uint64_t expected_total = 0;
  uint64_t send_errors = 0;
  for (auto& p : ps) {
    send_errors += p->send_errors;
    expected_total += p->expected.size();
    p->expected_set.insert(p->expected.begin(), p->expected.end());
  }
  std::cerr << "parley-bench: " << expected_total << " messages sent to away devices in "
            << send_s << " s (" << send_errors << " refused)\n";
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  // 3. The storm: every away device reconnects at once.
  std::atomic<uint64_t> caught_up{0};
  std::atomic<uint64_t> lost{0};
  for (auto& up : ps) {
    AwayPair* p = up.get();
    p->conn = std::make_unique<WsConnection>(fleet.conn(p->pair.b).executor().context());
  }
  const int64_t storm_start = NowNs();
  auto open_one = [&](AwayPair* p) -> asio::awaitable<int> {
    WsConnection* c = p->conn.get();
    c->SetHandlers(
        [p, c, storm_start, &caught_up, mark_every = s_.mark_every](std::string_view text) {
          boost::system::error_code ec;
          auto v = json::parse(text, ec);
          if (ec || !v.is_object()) return;
          const auto& f = v.get_object();
          const auto* mv = f.if_contains("message");  // {"type":"message","message":{...}}
          if (TypeOf(f) != "message" || !mv || !mv->is_object()) {
            ++p->other_frames;
            return;
          }
          const auto& m = mv->get_object();
          if (StringOf(m, "conversation_id") != p->pair.conversation_id &&
              !p->pair.conversation_id.empty()) {
            ++p->other_frames;
            return;
          }
          const auto seq = IntOf(m, "seq");
          if (!seq) return;
          if (*seq <= p->last_seq) ++p->out_of_order;
          p->last_seq = *seq;
          p->max_seq = std::max(p->max_seq, *seq);
          if (!p->expected_set.count(*seq)) {
            ++p->older;
          } else if (!p->received.insert(*seq).second) {
            ++p->duplicates;
          } else if (p->received.size() == p->expected_set.size()) {
            p->done_ns = NowNs() - storm_start;
            caught_up.fetch_add(1);
          }
          if (++p->since_mark >= mark_every || p->received.size() == p->expected_set.size()) {
            p->since_mark = 0;
            std::string m;
            AppendMarkDelivered(m, p->pair.conversation_id, p->max_seq);
            c->SendText(m);
          }
        },
        [&lost](const std::string&) { lost.fetch_add(1); });
    const int64_t t0 = NowNs();
    Status st = co_await c->Open(ctx.endpoint, (*accounts)[p->pair.b].access_token, timeout);
    if (st.ok()) {
      p->ready_ns = NowNs() - t0;
    } else {
      p->open_failed = true;
      p->failure = st.error().message;
    }
    co_return 0;
  };
  std::vector<std::future<int>> opens;
  for (auto& up : ps) opens.push_back(SpawnFuture(up->conn->executor(), open_one(up.get())));
  const CpuSample cpu_before = SampleCpu(o.server_pid);
  for (auto& f : opens) f.get();
  const double storm_open_s = static_cast<double>(NowNs() - storm_start) / kNsPerSec;
  std::cerr << "parley-bench: " << ps.size() << " devices reconnected in " << storm_open_s
            << " s\n";
  const int64_t catchup_deadline =
      storm_start + static_cast<int64_t>(s_.catchup_timeout_s * kNsPerSec);
  while (caught_up.load() < ps.size() && NowNs() < catchup_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const int64_t all_done_ns = NowNs() - storm_start;
  const CpuSample cpu_after = SampleCpu(o.server_pid);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // late duplicates show up here

  for (auto& p : ps) asio::post(p->conn->executor(), [c = p->conn.get()] { c->Close(); });
  fleet.CloseAll(std::chrono::milliseconds(500));
  pool.Stop();

  Histogram ready_latency;
  Histogram catchup_latency;
  uint64_t received = 0, duplicates = 0, out_of_order = 0, older = 0, failed = 0, complete = 0;
  uint64_t other_frames = 0;
  int64_t last_done = 0;
  std::string first_failure;
  for (auto& p : ps) {
    if (p->open_failed) {
      ++failed;
      if (first_failure.empty()) first_failure = p->failure;
      continue;
    }
    ready_latency.Record(p->ready_ns);
    received += p->received.size();
    duplicates += p->duplicates;
    out_of_order += p->out_of_order;
    older += p->older;
    other_frames += p->other_frames;
    if (p->done_ns > 0) {
      ++complete;
      catchup_latency.Record(p->done_ns);
      last_done = std::max(last_done, p->done_ns);
    }
  }
  const uint64_t missing = expected_total - received;
  const double catchup_s =
      (complete == ps.size() ? last_done : all_done_ns) / static_cast<double>(kNsPerSec);

  Report r;
  r.scenario = "reconnect";
  char summary[320];
  std::snprintf(summary, sizeof summary,
                "%zu of %d devices away, %d messages each while away, all reconnecting at once, "
                "mark_delivered every %d; %d threads",
                ps.size(), o.users, s_.messages, s_.mark_every, o.threads);
  r.summary = summary;
  r.config = {{"url", o.url},
              {"users", o.users},
              {"away", ps.size()},
              {"messages", s_.messages},
              {"send_window", s_.send_window},
              {"mark_every", s_.mark_every},
              {"threads", o.threads}};
  r.rates = {{"catch-up: missed messages delivered", received / std::max(catchup_s, 1e-9)},
             {"reconnects (connect -> ready)", ps.size() / std::max(storm_open_s, 1e-9)},
             {"sends while away (acked)", expected_total / std::max(send_s, 1e-9)}};
  r.latencies = {{"reconnect: connect -> ready", ready_latency},
                 {"storm start -> all missed", catchup_latency}};
  r.resources = {{"parley-bench CPU (storm)", CoresUsed(cpu_before.self_cpu_ns, cpu_after.self_cpu_ns,
                                                       cpu_before.wall_ns, cpu_after.wall_ns)}};
  if (o.server_pid > 0) {
    r.resources.emplace_back("parleyd CPU (storm)",
                             CoresUsed(cpu_before.server_cpu_ns, cpu_after.server_cpu_ns,
                                       cpu_before.wall_ns, cpu_after.wall_ns));
  }
  r.counters = {{"devices reconnecting", ps.size()},
                {"reconnects failed", failed},
                {"devices with every missed message", complete},
                {"time until all caught up (ms)", static_cast<uint64_t>(catchup_s * 1000)},
                {"time until all reconnected (ms)", static_cast<uint64_t>(storm_open_s * 1000)},
                {"missed messages (acked while away)", expected_total},
                {"missed messages received", received},
                {"missing", missing},
                {"duplicates", duplicates},
                {"out of order", out_of_order},
                {"older pending messages replayed (before the absence)", older},
                {"other frames to the reconnected devices", other_frames},
                {"sends refused while away", send_errors},
                {"connections lost during the storm", lost.load()}};
  if (failed > 0) {
    r.warnings.push_back(std::to_string(failed) + " reconnects failed; first: " + first_failure);
    r.incomplete = true;
  }
  if (missing > 0 || complete < ps.size()) {
    r.warnings.push_back(std::to_string(missing) + " missed messages never arrived within "
                         "--catchup-timeout-s");
    r.incomplete = true;
  }
  if (duplicates > 0 || out_of_order > 0) {
    r.warnings.push_back(std::to_string(duplicates) + " duplicates and " +
                         std::to_string(out_of_order) + " out-of-order frames");
  }
  if (send_errors > 0) {
    r.warnings.push_back(std::to_string(send_errors) + " sends refused while the devices were away");
    r.incomplete = true;
  }
  return r;
}

}  // namespace

std::unique_ptr<Scenario> MakeReconnectScenario() {
  return std::make_unique<ReconnectScenario>();
}

}  // namespace parley::bench
