// `search`: GET /v1/search-messages?q=...&limit=20 against a preloaded store (run `preload`
// first), as the hub, who may read every preloaded message. Queries rotate over five kinds built
// from the preload's vocabulary (wordlist.h): a common word, a medium one, a rare one, two words
// (AND) and a 4-letter prefix. Before measuring it waits until the preload's last message (its
// marker word) is found: the index is built asynchronously. Open loop at --rate; the latency is
// the HTTP round trip from the scheduled time (DESIGN.md's target, p99 <= 5 ms, is the server's).
#include <boost/json/parse.hpp>
#include <atomic>
#include <iostream>
#include <random>
#include <thread>

#include "clock.h"
#include "frames.h"
#include "preload_state.h"
#include "read_report.h"
#include "request_load.h"
#include "scenario.h"
#include "wordlist.h"

namespace parley::bench {

namespace {

namespace json = boost::json;

const std::vector<std::string> kKinds = {"common (rank 0-9)", "medium (rank 100-199)",
                                         "rare (last 100 ranks)", "two words (AND)",
                                         "prefix (4 letters)"};

struct HitCounters {
  std::atomic<uint64_t> empty{0};   // answers with no result
  std::atomic<uint64_t> short_{0};  // fewer results than the limit
  std::atomic<uint64_t> results{0};
};

class SearchSource final : public RequestSource {
 public:
  SearchSource(int vocabulary, int limit, int first_kind, uint64_t seed, HitCounters& hits)
      : vocabulary_(vocabulary), limit_(limit), next_kind_(first_kind), rng_(seed), hits_(hits) {}

  RequestPlan Next() override {
    const int kind = next_kind_;
    next_kind_ = (next_kind_ + 1) % static_cast<int>(kKinds.size());
    auto pick = [&](int lo, int hi) { return Word(lo + static_cast<int>(rng_() % (hi - lo))); };
    const int medium_hi = std::min(200, vocabulary_);
    std::string q;
    switch (kind) {
      case 0: q = pick(0, 10); break;
      case 1: q = pick(100 % vocabulary_, medium_hi); break;
      case 2: q = pick(std::max(0, vocabulary_ - 100), vocabulary_); break;
      case 3: q = pick(0, 10) + "%20" + pick(100 % vocabulary_, medium_hi); break;
      default: q = pick(100 % vocabulary_, medium_hi).substr(0, 4); break;
    }
    return RequestPlan{"/v1/search-messages?q=" + q + "&limit=" + std::to_string(limit_), kind};
  }

  std::string Check(const RequestPlan&, const std::string& body) override {
    boost::system::error_code ec;
    const json::value v = json::parse(body, ec);
    const json::value* res = (!ec && v.is_object()) ? v.as_object().if_contains("results") : nullptr;
    if (!res || !res->is_array()) return "search-messages: no results array: " + body.substr(0, 200);
    const auto& a = res->as_array();
    hits_.results += a.size();
    if (a.empty()) ++hits_.empty;
    if (static_cast<int>(a.size()) < limit_) ++hits_.short_;
    if (static_cast<int>(a.size()) > limit_) return "search-messages: more results than limit";
    int64_t prev = INT64_MAX;
    for (const auto& m : a) {
      const auto at = m.is_object() ? IntOf(m.as_object(), "created_at") : std::nullopt;
      if (!at) return "search-messages: a result without created_at";
      if (*at > prev) return "search-messages: results not newest first";
      prev = *at;
    }
    return "";
  }

 private:
  int vocabulary_;
  int limit_;
  int next_kind_;
  std::mt19937_64 rng_;
  HitCounters& hits_;
};

class SearchScenario final : public Scenario {
 public:
  std::string_view name() const override { return "search"; }
  std::string_view description() const override {
    return "search-messages (limit 20; common, medium, rare, two-word and prefix queries) over "
           "keep-alive HTTP at a fixed rate, against a `preload`ed store";
  }
  void AddOptions(CLI::App& sub) override {
    sub.add_option("--state", state_path_, "The preload's state file")->required();
    sub.add_option("--rate", load_.rate, "Requests/s, open loop")
        ->check(CLI::Range(1.0, 1e6))
        ->capture_default_str();
    sub.add_option("--connections", load_.connections, "Keep-alive HTTP connections")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    sub.add_option("--limit", limit_, "Results per query")->check(CLI::Range(1, 200))->capture_default_str();
    sub.add_option("--wait-index-s", wait_index_s_,
                   "Max seconds to wait for the index to reach the preload's marker word")
        ->check(CLI::Range(0.0, 86'400.0))
        ->capture_default_str();
  }
  Result<Report> Run(const RunContext& ctx) override;

 private:
  std::string state_path_;
  RequestLoadSettings load_ = [] {
    RequestLoadSettings s;
    s.rate = 200;
    return s;
  }();
  int limit_ = 20;
  double wait_index_s_ = 900;
};

Result<Report> SearchScenario::Run(const RunContext& ctx) {
  const CommonOptions& o = ctx.options;
  auto state = LoadPreloadState(state_path_);
  if (!state.ok()) return state.error();
  auto token = LoginHub(ctx.endpoint, *state);
  if (!token.ok()) return token.error();

  const int64_t wait_start = NowNs();
  const int64_t wait_end = wait_start + static_cast<int64_t>(wait_index_s_ * kNsPerSec);
  for (int polls = 0;; ++polls) {
    auto r = GetOnce(ctx.endpoint, "/v1/search-messages?q=" + state->marker + "&limit=1", *token);
    if (!r.ok()) return r.error();
    if (r->first != 200) {
      return Error{ExitCode::kSetupFailed, "search for the marker -> " + std::to_string(r->first) +
                                               ": " + r->second.substr(0, 200)};
    }
    if (r->second.find("\"message_id\"") != std::string::npos) break;
    if (NowNs() > wait_end) {
      return Error{ExitCode::kSetupFailed, "the index did not reach the marker word '" +
                                               state->marker + "' within --wait-index-s"};
    }
    if (polls % 10 == 0) {
      std::cerr << "parley-bench: waiting for the search index to reach the marker ("
                << (NowNs() - wait_start) / kNsPerSec << " s)\n";
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  const double waited = static_cast<double>(NowNs() - wait_start) / kNsPerSec;

  load_.threads = o.threads;
  load_.drain_s = o.drain_s;
  HitCounters hits;
  std::mt19937_64 seeds(std::random_device{}());
  std::vector<uint64_t> seed(load_.connections);
  for (auto& s : seed) s = seeds();
  std::cerr << "parley-bench: index caught up (waited " << waited << " s); " << load_.connections
            << " connections at " << load_.rate << " req/s; warming up " << o.warmup_s
            << " s, measuring " << o.duration_s << " s\n";
  const int kinds = static_cast<int>(kKinds.size());
  const RequestStats st = RunRequestLoad(
      ctx.endpoint, *token, load_, MakeReadTimeline(o), kinds, o.server_pid,
      [&](int c) -> std::unique_ptr<RequestSource> {
        return std::make_unique<SearchSource>(state->vocabulary, limit_, c % kinds, seed[c], hits);
      });
  Report r = MakeReadReport("search", o, load_, st, kKinds);
  r.summary = "search-messages limit " + std::to_string(limit_) + ", " + r.summary + ", " +
              std::to_string(state->messages) + " preloaded messages (" +
              std::to_string(state->words_per_message) + " words of a " +
              std::to_string(state->vocabulary) + "-word Zipf vocabulary each)";
  r.config["limit"] = limit_;
  r.config["preloaded_messages"] = state->messages;
  r.counters.emplace_back("answers with no hit", hits.empty.load());
  r.counters.emplace_back("answers with fewer hits than the limit", hits.short_.load());
  r.counters.emplace_back("results returned", hits.results.load());
  r.environment.emplace_back("waited for the index (s)", std::to_string(waited));
  return r;
}

}  // namespace

std::unique_ptr<Scenario> MakeSearchScenario() { return std::make_unique<SearchScenario>(); }

}  // namespace parley::bench
