// `direct`: 1:1 messages between pairs of users, the figure DESIGN.md targets at 50,000 msgs/s.
#include <cstdio>
#include <iostream>
#include <thread>

#include "clock.h"
#include "conversations.h"
#include "cpu_usage.h"
#include "direct_load.h"
#include "scenario.h"

namespace parley::bench {

namespace {

class DirectScenario final : public Scenario {
 public:
  std::string_view name() const override { return "direct"; }
  std::string_view description() const override {
    return "1:1 messages between pairs of users over the WebSocket: send -> ack -> recipient "
           "frame, recipients marking delivered";
  }

  void AddOptions(CLI::App& sub) override {
    sub.add_option("--rate", settings_.rate,
                   "Messages/s over all devices, scheduled by the clock (open loop; latency is "
                   "measured from the scheduled time). 0 = saturation, see --window")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    sub.add_option("--window", settings_.window,
                   "Saturation mode: sends outstanding per device (a new one on each ack)")
        ->check(CLI::Range(1, 10'000))
        ->capture_default_str();
    AddBodyOptions(sub, settings_);
    sub.add_option("--receipt-interval-ms", settings_.receipt_interval_ms,
                   "Recipients send mark_delivered for what they received at most this often "
                   "per conversation; 0 = no receipts")
        ->check(CLI::Range(0, 10'000))
        ->capture_default_str();
  }

  Status Validate(const CommonOptions& o) const override {
    if (o.users < 2 || o.users % 2 != 0) {
      return Error{ExitCode::kUsage, "direct: --users must be even and at least 2 (users are paired)"};
    }
    return Ok();
  }

  Result<Report> Run(const RunContext& ctx) override;

 private:
  DirectSettings settings_;
};

void SleepUntil(int64_t t_ns) { std::this_thread::sleep_until(FromNs(t_ns)); }

Result<Report> DirectScenario::Run(const RunContext& ctx) {
  const CommonOptions& o = ctx.options;
  const auto timeout = std::chrono::milliseconds(o.connect_timeout_ms);

  // Destroyed in reverse: the load and the fleet go before the pool's io_contexts.
  IoPool pool(o.threads);
  auto accounts = CreateAccounts(ctx.endpoint, o.users, o.setup_concurrency, o.password);
  if (!accounts.ok()) return accounts.error();
  Fleet fleet(pool);
  if (Status st = fleet.ConnectAll(ctx.endpoint, *accounts, timeout); !st.ok()) return st.error();
  auto pairs = OpenDirectConversations(fleet, *accounts, timeout);
  if (!pairs.ok()) return pairs.error();

  DirectLoad load(fleet, *accounts, *pairs, settings_);
  Timeline t;
  t.start_ns = NowNs() + 200 * kNsPerMs;
  t.measure_ns = t.start_ns + static_cast<int64_t>(o.warmup_s * kNsPerSec);
  t.end_ns = t.measure_ns + static_cast<int64_t>(o.duration_s * kNsPerSec);
  load.Start(t);

  std::cerr << "parley-bench: warming up " << o.warmup_s << " s, measuring " << o.duration_s
            << " s\n";
  SleepUntil(t.measure_ns);
  const CpuSample before = SampleCpu(o.server_pid);
  SleepUntil(t.end_ns);
  const CpuSample after = SampleCpu(o.server_pid);
  const int64_t drain_deadline = NowNs() + static_cast<int64_t>(o.drain_s * kNsPerSec);
  while (!load.Drained() && NowNs() < drain_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const uint64_t missing_acks = load.missing_acks();
  const uint64_t missing_deliveries = load.missing_deliveries();
  fleet.CloseAll();
  pool.Stop();
  const DirectStats st = load.Collect();

  Report r;
  r.scenario = "direct";
  char summary[256];
  const int conversations = static_cast<int>(pairs->size());
  if (settings_.rate > 0) {
    std::snprintf(summary, sizeof summary, "open loop at %.0f msgs/s", settings_.rate);
  } else {
    std::snprintf(summary, sizeof summary, "saturation, window %d per device", settings_.window);
  }
  r.summary = std::string(summary) + ", " + std::to_string(o.users) + " devices in " +
              std::to_string(conversations) + " conversations, " + std::to_string(o.threads) +
              " threads, " + std::to_string(settings_.body_bytes) + " B " +
              std::string(settings_.body_kind()) + " bodies, receipts " +
              (settings_.receipt_interval_ms > 0
                   ? "every " + std::to_string(settings_.receipt_interval_ms) + " ms"
                   : std::string("off")) +
              "; " + std::to_string(o.duration_s).substr(0, 4) + " s measured after " +
              std::to_string(o.warmup_s).substr(0, 4) + " s warm-up";
  r.config = {{"url", o.url},           {"users", o.users},
              {"threads", o.threads},   {"warmup_s", o.warmup_s},
              {"duration_s", o.duration_s}, {"drain_s", o.drain_s},
              {"rate", settings_.rate}, {"window", settings_.window},
              {"body_bytes", settings_.body_bytes},
              {"encryption", settings_.encryption},
              {"client_msg_ids", settings_.client_msg_ids},
              {"receipt_interval_ms", settings_.receipt_interval_ms},
              {"conversations", conversations}};

  const double secs = o.duration_s;
  r.rates = {{"sends issued (in window)", st.sent_in_window / secs},
             {"acked (send -> ack)", st.acks_in_window / secs},
             {"delivered (recipient frames)", st.deliveries_in_window / secs},
             {"mark_delivered frames sent", st.marks_in_window / secs}};
  r.latencies = {{"send -> ack", st.ack_latency}, {"send -> recipient frame", st.delivery_latency}};
  r.resources = {{"parley-bench CPU", CoresUsed(before.self_cpu_ns, after.self_cpu_ns,
                                                before.wall_ns, after.wall_ns)}};
  if (o.server_pid > 0) {
    r.resources.emplace_back("parleyd CPU", CoresUsed(before.server_cpu_ns, after.server_cpu_ns,
                                                      before.wall_ns, after.wall_ns));
  }
  r.counters = {{"sends (total)", st.sent},
                {"acks (total)", st.acks},
                {"deliveries (total)", st.deliveries},
                {"send errors", st.send_errors},
                {"duplicate or out-of-order message frames", st.duplicates},
                {"own messages echoed to the sender", st.self_echoes},
                {"receipt frames received", st.receipts},
                {"mark_delivered frames sent", st.marks_sent},
                {"acks matching no send", st.unmatched_acks},
                {"unparsable frames", st.unparsable_frames},
                {"connections lost", st.closed_connections},
                {"write syscalls (generator)", st.writes},
                {"measured sends unanswered after drain", missing_acks},
                {"measured acked messages undelivered after drain", missing_deliveries}};
  for (const auto& [code, n] : st.errors) r.counters.emplace_back("error frames: " + code, n);
  for (const auto& [type, n] : st.other_frames) r.counters.emplace_back("frames of type " + type, n);

  if (st.send_errors > 0) {
    r.warnings.push_back(std::to_string(st.send_errors) + " sends were refused with error frames");
    r.incomplete = true;
  }
  if (st.errors.count("rate_limited")) {
    r.warnings.push_back("the server rate-limited sends; benchmark a server started with "
                         "--rate-send-per-min 0 (and the saturation window shrinks on every "
                         "refusal)");
  }
  if (missing_acks > 0 || missing_deliveries > 0) {
    r.warnings.push_back(std::to_string(missing_acks) + " measured sends got no ack and " +
                         std::to_string(missing_deliveries) +
                         " acked messages never reached their recipient within --drain-s");
    r.incomplete = true;
  }
  if (st.closed_connections > 0) {
    r.warnings.push_back(std::to_string(st.closed_connections) +
                         " WebSockets ended during the run; first: " + st.first_close_reason);
    r.incomplete = true;
  }
  if (settings_.rate > 0 && st.acks_in_window < 0.95 * st.sent_in_window) {
    r.warnings.push_back("the server acknowledged less than 95% of the offered rate: it is "
                         "saturated; read the latencies as queueing delay");
  }
  if (st.ack_latency.count() == 0) {
    r.warnings.push_back("no measured acks: is the window (--duration-s) too short?");
    r.incomplete = true;
  }
  return r;
}

}  // namespace

std::unique_ptr<Scenario> MakeDirectScenario() { return std::make_unique<DirectScenario>(); }

}  // namespace parley::bench
