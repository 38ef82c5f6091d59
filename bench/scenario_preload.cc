// `preload`: fills the server with --messages word-bodied messages as fast as it takes them, for
// `history` and `search` to measure against. A hub user and --users - 1 spokes: every spoke
// sends into its direct conversation with the hub (a window of sends in flight each), so the
// hub can read all of them. Bodies are words of a fixed Zipf vocabulary (wordlist.h). The last
// message is one unique marker word: once search finds it, the index has caught up.
// Writes --state (who the hub is, the conversations, the vocabulary) for the measuring runs.
#include <boost/json.hpp>
#include <cstdio>
#include <iostream>
#include <random>
#include <thread>

#include "clock.h"
#include "conversations.h"
#include "cpu_usage.h"
#include "direct_load.h"
#include "frames.h"
#include "http_client.h"
#include "preload_state.h"
#include "scenario.h"
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace parley::bench {

namespace {

class PreloadScenario final : public Scenario {
 public:
  std::string_view name() const override { return "preload"; }
  std::string_view description() const override {
    return "fill the server with N messages (hub + spokes, pipelined WebSocket sends, bodies from "
           "a word list) for `history` and `search`; writes --state";
  }

  void AddOptions(CLI::App& sub) override {
    sub.add_option("--messages", messages_, "Messages to store")
        ->check(CLI::Range(1, 100'000'000))
        ->capture_default_str();
    sub.add_option("--window", settings_.window, "Sends outstanding per spoke")
        ->check(CLI::Range(1, 10'000))
        ->capture_default_str();
    sub.add_option("--words-per-message", settings_.body_words, "Words per body")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    sub.add_option("--vocabulary", settings_.vocabulary, "Distinct words (Zipf, s = 1)")
        ->check(CLI::Range(16, kMaxVocabulary))
        ->capture_default_str();
    sub.add_option("--receipt-interval-ms", settings_.receipt_interval_ms,
                   "The hub marks what it received delivered this often; 0 = never")
        ->check(CLI::Range(0, 100'000))
        ->capture_default_str();
    sub.add_option("--max-s", max_s_, "Give up after this many seconds")
        ->check(CLI::Range(1.0, 86'400.0))
        ->capture_default_str();
    sub.add_option("--state", state_path_, "Where to write the preload's state (JSON)")->required();
  }

  Status Validate(const CommonOptions& o) const override {
    if (o.users < 2) return Error{ExitCode::kUsage, "preload: --users must be at least 2"};
    return Ok();
  }

  Result<Report> Run(const RunContext& ctx) override;

 private:
  uint64_t messages_ = 1'000'000;
  double max_s_ = 1800;
  std::string state_path_;
  DirectSettings settings_ = [] {
    DirectSettings s;
    s.window = 16;
    s.receipt_interval_ms = 1000;
    s.body_words = 8;
    return s;
  }();
};

// The marker message, over HTTP (send-message answers once it is durable).
Status SendMarker(const Endpoint& ep, const Account& from, const std::string& conversation_id,
                  const std::string& marker) {
  std::string id;
  AppendClientMsgId(id, std::random_device{}(), 1);
  HttpRequest req{"POST", "/v1/send-message"};
  req.bearer_token = from.access_token;
  req.body = boost::json::serialize(boost::json::object{
      {"conversation_id", conversation_id}, {"client_msg_id", id}, {"body", marker}});
  boost::asio::io_context io;
  std::optional<Result<HttpResponse>> out;
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> { out = co_await HttpCall(ep, req); },
                        boost::asio::detached);
  io.run();
  if (!out->ok()) return out->error();
  if ((*out)->status != 201) return Error{ExitCode::kRunIncomplete, DescribeHttpError(req, **out)};
  return Ok();
}

Result<Report> PreloadScenario::Run(const RunContext& ctx) {
  const CommonOptions& o = ctx.options;
  const auto timeout = std::chrono::milliseconds(o.connect_timeout_ms);
  constexpr int kHub = 0;

  IoPool pool(o.threads);
  auto accounts = CreateAccounts(ctx.endpoint, o.users, o.setup_concurrency, o.password);
  if (!accounts.ok()) return accounts.error();
  Fleet fleet(pool);
  if (Status st = fleet.ConnectAll(ctx.endpoint, *accounts, timeout); !st.ok()) return st.error();
  auto pairs = OpenHubConversations(fleet, *accounts, kHub, timeout);
  if (!pairs.ok()) return pairs.error();

  std::vector<LoadPeer> peers{LoadPeer{kHub, std::nullopt}};
  PreloadState state;
  for (const auto& p : *pairs) {
    if (p.conversation_id.empty()) {
      return Error{ExitCode::kSetupFailed, "preload: an ack carried no conversation_id"};
    }
    peers.push_back(LoadPeer{p.a, SendTarget{"conversation_id", p.conversation_id}});
    state.conversation_ids.push_back(p.conversation_id);
  }
  DirectSettings settings = settings_;
  settings.rate = 0;
  settings.max_sends = messages_;
  DirectLoad load(fleet, *accounts, peers, settings);
  Timeline t;
  t.start_ns = NowNs() + 200 * kNsPerMs;
  t.measure_ns = t.start_ns;
  t.end_ns = t.start_ns + static_cast<int64_t>(max_s_ * kNsPerSec);
  load.Start(t);
  std::this_thread::sleep_until(FromNs(t.start_ns));
  const CpuSample before = SampleCpu(o.server_pid);
  int64_t last_print = t.start_ns;
  while (load.measured_acked() < messages_ && NowNs() < t.end_ns) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const int64_t now = NowNs();
    if (now - last_print >= 5 * kNsPerSec || load.measured_acked() >= messages_) {
      last_print = now;
      const double secs = static_cast<double>(now - t.start_ns) / kNsPerSec;
      const double acked = static_cast<double>(load.measured_acked());
      const double rate = acked / secs;
      std::fprintf(stderr, "parley-bench: preload %.0f/%llu messages, %.0f s, %.0f msgs/s, "
                   "ETA %.0f s\n", acked, static_cast<unsigned long long>(messages_), secs, rate,
                   rate > 0 ? (static_cast<double>(messages_) - acked) / rate : 0.0);
    }
  }
  const CpuSample after = SampleCpu(o.server_pid);
  const double secs = static_cast<double>(after.wall_ns - before.wall_ns) / kNsPerSec;
  fleet.CloseAll();
  pool.Stop();
  const DirectStats st = load.Collect();

  Report r;
  r.scenario = "preload";
  r.config = {{"url", o.url}, {"users", o.users}, {"messages", messages_},
              {"window", settings_.window}, {"words_per_message", settings_.body_words},
              {"vocabulary", settings_.vocabulary}, {"state", state_path_}};
  r.summary = std::to_string(st.acks) + " messages acked in " + std::to_string(secs).substr(0, 6) +
              " s, " + std::to_string(o.users - 1) + " spokes -> 1 hub, window " +
              std::to_string(settings_.window) + ", " + std::to_string(settings_.body_words) +
              " words per body";
  r.rates = {{"acked (whole preload)", st.acks / secs}};
  r.latencies = {{"send -> ack", st.ack_latency}};
  r.resources = {{"parley-bench CPU", CoresUsed(before.self_cpu_ns, after.self_cpu_ns,
                                                before.wall_ns, after.wall_ns)}};
  if (o.server_pid > 0) {
    r.resources.emplace_back("parleyd CPU", CoresUsed(before.server_cpu_ns, after.server_cpu_ns,
                                                      before.wall_ns, after.wall_ns));
  }
  r.counters = {{"sends", st.sent}, {"acks", st.acks}, {"send errors", st.send_errors},
                {"hub deliveries", st.deliveries}, {"connections lost", st.closed_connections}};
  for (const auto& [code, n] : st.errors) r.counters.emplace_back("error frames: " + code, n);
  if (st.acks < messages_ || st.send_errors > 0 || st.closed_connections > 0) {
    r.warnings.push_back("the preload is incomplete (" + std::to_string(st.acks) + " of " +
                         std::to_string(messages_) + " acked)");
    r.incomplete = true;
  }

  char marker[32];
  std::snprintf(marker, sizeof marker, "pbend%08x", static_cast<unsigned>(std::random_device{}()));
  if (Status s = SendMarker(ctx.endpoint, (*accounts)[pairs->front().a],
                            pairs->front().conversation_id, marker);
      !s.ok()) {
    return s.error();
  }
  state.hub_username = (*accounts)[kHub].username;
  state.hub_user_id = (*accounts)[kHub].user_id;
  state.password = o.password;
  state.messages = st.acks;
  state.vocabulary = settings_.vocabulary;
  state.words_per_message = settings_.body_words;
  state.marker = marker;
  if (Status s = SavePreloadState(state, state_path_); !s.ok()) return s.error();
  r.environment.emplace_back("state written to", state_path_ + " (marker word " + marker + ")");
  return r;
}

}  // namespace

std::unique_ptr<Scenario> MakePreloadScenario() { return std::make_unique<PreloadScenario>(); }

}  // namespace parley::bench
