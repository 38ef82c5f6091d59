// `history`: GET /v1/get-chat-history pages against a preloaded store (run `preload` first).
// Each keep-alive connection walks a random preloaded conversation: the newest page, then
// --pages-per-walk pages back with before_seq = the oldest seq of the page before, then another
// conversation. Open loop at --rate requests/s; the latency is the HTTP round trip seen by the
// client, from the scheduled time (DESIGN.md's target, p99 <= 1 ms, is for the server).
#include <boost/json/parse.hpp>
#include <iostream>
#include <random>

#include "clock.h"
#include "frames.h"
#include "history_walk.h"
#include "preload_state.h"
#include "read_report.h"
#include "request_load.h"
#include "scenario.h"

namespace parley::bench {

namespace {

namespace json = boost::json;

class HistorySource final : public RequestSource {
 public:
  HistorySource(const PreloadState& s, int limit, int pages, uint64_t seed)
      : conversations_(s.conversation_ids), walk_(limit, pages), rng_(seed) {}

  RequestPlan Next() override {
    if (walk_.at_start()) {
      conversation_ = conversations_[rng_() % conversations_.size()];
    }
    std::string target = "/v1/get-chat-history?conversation_id=" + conversation_ +
                         "&limit=" + std::to_string(walk_.limit());
    if (walk_.before_seq()) target += "&before_seq=" + std::to_string(*walk_.before_seq());
    return RequestPlan{std::move(target), walk_.before_seq() ? 1 : 0};
  }

  std::string Check(const RequestPlan& plan, const std::string& body) override {
    boost::system::error_code ec;
    const json::value v = json::parse(body, ec);
    const json::value* msgs = (!ec && v.is_object()) ? v.as_object().if_contains("messages") : nullptr;
    if (!msgs || !msgs->is_array()) {
      walk_.Restart();
      return "get-chat-history: no messages array: " + body.substr(0, 200);
    }
    std::vector<int64_t> seqs;
    for (const auto& m : msgs->as_array()) {
      auto seq = m.is_object() ? IntOf(m.as_object(), "seq") : std::nullopt;
      seqs.push_back(seq.value_or(-1));
    }
    const json::value* more = v.as_object().if_contains("has_more");
    const bool has_more = more && more->is_bool() && more->as_bool();
    return walk_.OnPage(seqs, has_more);
  }

 private:
  const std::vector<std::string>& conversations_;
  std::string conversation_;
  HistoryWalk walk_;
  std::mt19937_64 rng_;
};

class HistoryScenario final : public Scenario {
 public:
  std::string_view name() const override { return "history"; }
  std::string_view description() const override {
    return "get-chat-history pages (newest, then paging back with before_seq) over keep-alive "
           "HTTP at a fixed rate, against a `preload`ed store";
  }
  void AddOptions(CLI::App& sub) override {
    sub.add_option("--state", state_path_, "The preload's state file")->required();
    sub.add_option("--rate", load_.rate, "Requests/s, open loop")
        ->check(CLI::Range(1.0, 1e6))
        ->capture_default_str();
    sub.add_option("--connections", load_.connections, "Keep-alive HTTP connections")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    sub.add_option("--limit", limit_, "Messages per page")->check(CLI::Range(1, 200))->capture_default_str();
    sub.add_option("--pages-per-walk", pages_, "Pages read back before moving to another conversation")
        ->check(CLI::Range(1, 1'000'000))
        ->capture_default_str();
  }
  Result<Report> Run(const RunContext& ctx) override;

 private:
  std::string state_path_;
  RequestLoadSettings load_;
  int limit_ = 50;
  int pages_ = 20;
};

Result<Report> HistoryScenario::Run(const RunContext& ctx) {
  const CommonOptions& o = ctx.options;
  auto state = LoadPreloadState(state_path_);
  if (!state.ok()) return state.error();
  auto token = LoginHub(ctx.endpoint, *state);
  if (!token.ok()) return token.error();
  load_.threads = o.threads;
  load_.drain_s = o.drain_s;
  const Timeline t = MakeReadTimeline(o);
  std::mt19937_64 seeds(std::random_device{}());
  std::vector<uint64_t> seed(load_.connections);
  for (auto& s : seed) s = seeds();
  std::cerr << "parley-bench: " << load_.connections << " connections at " << load_.rate
            << " req/s; warming up " << o.warmup_s << " s, measuring " << o.duration_s << " s\n";
  const RequestStats st = RunRequestLoad(ctx.endpoint, *token, load_, t, 2, o.server_pid,
                                         [&](int c) -> std::unique_ptr<RequestSource> {
                                           return std::make_unique<HistorySource>(*state, limit_, pages_, seed[c]);
                                         });
  Report r = MakeReadReport("history", o, load_, st, {"newest page", "older page (before_seq)"});
  r.summary = "get-chat-history limit " + std::to_string(limit_) + ", " +
              std::to_string(pages_) + " pages per walk, " + r.summary + ", " +
              std::to_string(state->conversation_ids.size()) + " conversations holding " +
              std::to_string(state->messages) + " preloaded messages";
  r.config["limit"] = limit_;
  r.config["pages_per_walk"] = pages_;
  r.config["preloaded_messages"] = state->messages;
  return r;
}

}  // namespace

std::unique_ptr<Scenario> MakeHistoryScenario() { return std::make_unique<HistoryScenario>(); }

}  // namespace parley::bench
