// `group`: group fan-out. G groups of N one-device users; in each, S members send into the
// group conversation and every other member's WebSocket receives the message. The figure
// DESIGN.md targets is recipient frames (deliveries) per second: >= 150,000 for N = 100 and 1,000.
#include <cstdio>
#include <iostream>
#include <thread>

#include "clock.h"
#include "cpu_usage.h"
#include "direct_load.h"
#include "groups.h"
#include "scenario.h"

namespace parley::bench {

namespace {

class GroupScenario final : public Scenario {
 public:
  std::string_view name() const override { return "group"; }
  std::string_view description() const override {
    return "group fan-out: G groups of N users (one WebSocket each), S senders per group; "
           "deliveries/s and send -> recipient frame latency (--users is ignored: G x N)";
  }

  void AddOptions(CLI::App& sub) override {
    sub.add_option("--groups", groups_, "Groups (G)")->check(CLI::Range(1, 1000))->capture_default_str();
    sub.add_option("--group-size", size_, "Members per group (N), one device each; the server's "
                   "--max-group-members (default 1024) bounds it")
        ->check(CLI::Range(2, 19'000))
        ->capture_default_str();
    sub.add_option("--senders", senders_, "Sending members per group (S)")
        ->check(CLI::Range(1, 19'000))
        ->capture_default_str();
    sub.add_option("--members-per-call", per_call_,
                   "Members named in create-group; the rest join by add-member")
        ->check(CLI::Range(0, 100'000))
        ->capture_default_str();
    sub.add_option("--rate", settings_.rate,
                   "Messages/s sent over all groups (each becomes N-1 deliveries), open loop; "
                   "0 = saturation, see --window")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    sub.add_option("--window", settings_.window, "Saturation: sends outstanding per sender")
        ->check(CLI::Range(1, 10'000))
        ->capture_default_str();
    AddBodyOptions(sub, settings_);
    sub.add_option("--receipt-interval-ms", settings_.receipt_interval_ms,
                   "Members send mark_delivered at most this often; 0 = never (the default)")
        ->check(CLI::Range(0, 100'000))
        ->capture_default_str();
  }

  Status Validate(const CommonOptions&) const override {
    if (senders_ > size_) return Error{ExitCode::kUsage, "group: --senders exceeds --group-size"};
    if (groups_ * size_ > 19'000) {
      return Error{ExitCode::kUsage, "group: G x N WebSockets must stay under the 20,000 "
                                     "descriptors one process may hold here"};
    }
    return Ok();
  }

  Result<Report> Run(const RunContext& ctx) override;

 private:
  int groups_ = 1;
  int size_ = 100;
  int senders_ = 10;
  int per_call_ = 1023;
  DirectSettings settings_ = [] {
    DirectSettings s;
    s.window = 4;
    s.receipt_interval_ms = 0;
    return s;
  }();
};

void SleepUntil(int64_t t_ns) { std::this_thread::sleep_until(FromNs(t_ns)); }

Result<Report> GroupScenario::Run(const RunContext& ctx) {
  const CommonOptions& o = ctx.options;
  const auto timeout = std::chrono::milliseconds(o.connect_timeout_ms);
  const int users = groups_ * size_;

  IoPool pool(o.threads);
  auto accounts = CreateAccounts(ctx.endpoint, users, o.setup_concurrency, o.password);
  if (!accounts.ok()) return accounts.error();
  auto groups = CreateGroups(ctx.endpoint, *accounts, groups_, size_, per_call_, 4);
  if (!groups.ok()) return groups.error();
  Fleet fleet(pool);
  if (Status st = fleet.ConnectAll(ctx.endpoint, *accounts, timeout); !st.ok()) return st.error();

  std::vector<LoadPeer> peers;
  for (const auto& g : *groups) {
    for (size_t i = 0; i < g.members.size(); ++i) {
      LoadPeer p{g.members[i], std::nullopt};
      if (static_cast<int>(i) < senders_) p.target = SendTarget{"conversation_id", g.conversation_id};
      peers.push_back(p);
    }
  }
  DirectSettings settings = settings_;
  settings.recipients_per_message = size_ - 1;
  DirectLoad load(fleet, *accounts, peers, settings);
  Timeline t;
  t.start_ns = NowNs() + 500 * kNsPerMs;  // lets the group_created system messages pass
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
  r.scenario = "group";
  char head[200];
  if (settings_.rate > 0) {
    std::snprintf(head, sizeof head, "open loop at %.0f msgs/s (%.0f deliveries/s offered)",
                  settings_.rate, settings_.rate * (size_ - 1));
  } else {
    std::snprintf(head, sizeof head, "saturation, window %d per sender", settings_.window);
  }
  char rest[300];
  std::snprintf(rest, sizeof rest,
                ", %d group(s) of %d, %d senders each, %d threads, %d B %s bodies, receipts %s; "
                "%.1f s measured after %.1f s warm-up",
                groups_, size_, senders_, o.threads, settings_.body_bytes,
                settings_.body_kind().data(),  // a NUL-terminated literal
                settings_.receipt_interval_ms > 0 ? "on" : "off", o.duration_s, o.warmup_s);
  r.summary = std::string(head) + rest;
  r.config = {{"url", o.url},           {"groups", groups_},
              {"group_size", size_},    {"senders_per_group", senders_},
              {"threads", o.threads},   {"warmup_s", o.warmup_s},
              {"duration_s", o.duration_s}, {"drain_s", o.drain_s},
              {"rate", settings_.rate}, {"window", settings_.window},
              {"body_bytes", settings_.body_bytes},
              {"encryption", settings_.encryption},
              {"receipt_interval_ms", settings_.receipt_interval_ms}};
  const double secs = o.duration_s;
  r.rates = {{"deliveries (recipient frames)", st.deliveries_in_window / secs},
             {"sends issued (in window)", st.sent_in_window / secs},
             {"acked (send -> ack)", st.acks_in_window / secs},
             {"mark_delivered frames sent", st.marks_in_window / secs}};
  r.latencies = {{"send -> recipient frame", st.delivery_latency}, {"send -> ack", st.ack_latency}};
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
                {"system messages (group changes)", st.system_messages},
                {"receipt frames received", st.receipts},
                {"acks matching no send", st.unmatched_acks},
                {"unparsable frames", st.unparsable_frames},
                {"connections lost", st.closed_connections},
                {"measured sends unanswered after drain", missing_acks},
                {"measured deliveries missing after drain", missing_deliveries}};
  for (const auto& [code, n] : st.errors) r.counters.emplace_back("error frames: " + code, n);
  for (const auto& [type, n] : st.other_frames) r.counters.emplace_back("frames of type " + type, n);

  if (st.send_errors > 0) {
    r.warnings.push_back(std::to_string(st.send_errors) + " sends were refused with error frames");
    r.incomplete = true;
  }
  if (missing_acks > 0 || missing_deliveries > 0) {
    r.warnings.push_back(std::to_string(missing_acks) + " measured sends got no ack and " +
                         std::to_string(missing_deliveries) +
                         " recipient frames were missing at the end of --drain-s");
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
  if (st.delivery_latency.count() == 0) {
    r.warnings.push_back("no measured deliveries: is the window (--duration-s) too short?");
    r.incomplete = true;
  }
  return r;
}

}  // namespace

std::unique_ptr<Scenario> MakeGroupScenario() { return std::make_unique<GroupScenario>(); }

}  // namespace parley::bench
