// `xmpp-direct`: the `direct` workload against an XMPP server (ejabberd, for the side-by-side
// comparison of bench/run_peer.sh). Users registered in-band are paired; each device sends
//   <message to='partner@domain' type='chat' id='mREF'><body>pb:<send ns>:xxx</body>
//     <request xmlns='urn:xmpp:receipts'/></message>
// and the recipient answers each one with a XEP-0184 <received id='mREF'/> receipt. The receipt
// coming back is this scenario's "ack": it refills the saturation window. It is end to end
// (recipient -> sender), not a durability acknowledgement from the server like parleyd's `ack`.
// Latency: send time (embedded in the body; scheduled time in open loop) -> the recipient's
// message stanza, and -> the receipt back at the sender. Same histogram, table and JSON as
// `direct`.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <iostream>
#include <memory>
#include <random>
#include <thread>
#include <unordered_map>

#include "clock.h"
#include "cpu_usage.h"
#include "direct_load.h"
#include "io_pool.h"
#include "scenario.h"
#include "spawn.h"
#include "xmpp_connection.h"

namespace parley::bench {

namespace asio = boost::asio;

namespace {

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kBodyPrefix = "pb:";
constexpr int kMaxBurst = 64;

struct XmppSettings {
  double rate = 0;
  int window = 16;
  int body_bytes = 64;
  std::string domain = "localhost";
  bool register_users = true;
  std::string user_prefix;  // default: pb<random>_
};

int64_t OriginOf(std::string_view body) {
  if (body.substr(0, kBodyPrefix.size()) != kBodyPrefix) return -1;
  int64_t v = -1;
  auto [ptr, ec] = std::from_chars(body.data() + kBodyPrefix.size(), body.data() + body.size(), v);
  return ec == std::errc() ? v : -1;
}

std::optional<uint64_t> RefOfId(std::string_view id) {  // "m123" -> 123
  if (id.size() < 2 || id[0] != 'm') return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(id.data() + 1, id.data() + id.size(), v);
  if (ec != std::errc() || ptr != id.data() + id.size()) return std::nullopt;
  return v;
}

// The load: one Shard per pool thread owns its peers; only atomics are shared.
class XmppLoad {
 public:
  struct Shard;
  struct Peer {
    XmppConnection* conn = nullptr;
    Shard* shard = nullptr;
    std::string partner;  // bare JID
    uint64_t next_ref = 1;
    struct Pending {
      int64_t origin_ns;
      bool measured;
    };
    std::unordered_map<uint64_t, Pending> outstanding;
    bool closed = false;
  };
  struct Shard {
    Shard(asio::io_context& io, int index) : io(io), index(index) {}
    asio::io_context& io;
    const int index;
    std::vector<Peer*> peers;
    DirectStats stats;
    std::string out;
    std::string body;
  };

  XmppLoad(IoPool& pool, const XmppSettings& settings) : pool_(pool), settings_(settings) {
    for (int t = 0; t < pool.size(); ++t) {
      shards_.push_back(std::make_unique<Shard>(pool.context(t), t));
    }
  }

  void AddPeer(XmppConnection& conn, int thread, std::string partner) {
    auto p = std::make_unique<Peer>();
    p->conn = &conn;
    p->shard = shards_[thread].get();
    p->partner = std::move(partner);
    p->shard->peers.push_back(p.get());
    peers_.push_back(std::move(p));
  }

  void Start(const Timeline& t) {
    timeline_ = t;
    for (auto& s : shards_) asio::co_spawn(s->io, RunShard(*s), asio::detached);
  }

  uint64_t missing_acks() const {
    const uint64_t sent = measured_sent_.load(), answered = measured_answered_.load();
    return sent > answered ? sent - answered : 0;
  }
  uint64_t missing_deliveries() const {
    // Every measured send owes a delivery (a receipt implies one).
    const uint64_t sent = measured_sent_.load(), delivered = measured_delivered_.load();
    return sent > delivered ? sent - delivered : 0;
  }
  bool Drained() const { return missing_acks() == 0 && missing_deliveries() == 0; }

  DirectStats Collect() const {
    DirectStats all;
    for (const auto& s : shards_) all.Merge(s->stats);
    for (const auto& p : peers_) all.writes += p->conn->writes();
    return all;
  }

 private:
  asio::awaitable<void> RunShard(Shard& s) {
    for (Peer* p : s.peers) {
      p->conn->SetHandlers([this, p](std::string_view st) { OnStanza(*p, st); },
                           [p](const std::string& why) {
                             p->closed = true;
                             ++p->shard->stats.closed_connections;
                             if (p->shard->stats.first_close_reason.empty()) {
                               p->shard->stats.first_close_reason = why;
                             }
                           });
    }
    asio::steady_timer until_start(s.io, FromNs(timeline_.start_ns));
    co_await until_start.async_wait(kTok);
    if (settings_.rate > 0) {
      asio::co_spawn(s.io, Pace(s), asio::detached);
    } else {
      for (Peer* p : s.peers) {
        for (int i = 0; i < settings_.window; ++i) Send(*p, NowNs());
      }
    }
  }

  asio::awaitable<void> Pace(Shard& s) {
    const auto threads = static_cast<double>(shards_.size());
    const double interval_ns = threads / settings_.rate * kNsPerSec;
    const double first_ns = static_cast<double>(timeline_.start_ns) +
                            static_cast<double>(s.index) / settings_.rate * kNsPerSec;
    asio::steady_timer timer(s.io);
    int burst = 0;
    size_t next = 0;
    for (uint64_t k = 0; !s.peers.empty(); ++k) {
      const auto due = static_cast<int64_t>(first_ns + static_cast<double>(k) * interval_ns);
      if (due >= timeline_.end_ns) break;
      if (NowNs() < due) {
        burst = 0;
        timer.expires_at(FromNs(due));
        co_await timer.async_wait(kTok);
      } else if (++burst % kMaxBurst == 0) {
        co_await asio::post(s.io, asio::use_awaitable);
      }
      Peer& p = *s.peers[next];
      next = (next + 1) % s.peers.size();
      if (!p.closed) Send(p, due);
    }
  }

  void Send(Peer& p, int64_t origin_ns) {
    Shard& s = *p.shard;
    s.body.assign(kBodyPrefix);
    char num[24];
    auto [end, ec] = std::to_chars(num, num + sizeof num, origin_ns);
    s.body.append(num, end);
    s.body += ':';
    if (s.body.size() < static_cast<size_t>(settings_.body_bytes)) {
      s.body.resize(settings_.body_bytes, 'x');
    }
    const uint64_t ref = p.next_ref++;
    s.out.assign("<message type='chat' to='");
    s.out += p.partner;
    s.out += "' id='m";
    auto [rend, rec] = std::to_chars(num, num + sizeof num, ref);
    s.out.append(num, rend);
    s.out += "'><body>";
    s.out += s.body;
    s.out += "</body><request xmlns='urn:xmpp:receipts'/></message>";
    p.conn->Send(s.out);

    const bool measured = timeline_.measured(origin_ns);
    p.outstanding.emplace(ref, Peer::Pending{origin_ns, measured});
    ++s.stats.sent;
    if (measured) {
      ++s.stats.sent_in_window;
      measured_sent_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void OnStanza(Peer& p, std::string_view st) {
    Shard& s = *p.shard;
    const std::string_view name = ElementName(st);
    if (name != "message") {
      ++s.stats.other_frames[std::string(name)];
      return;
    }
    const int64_t now = NowNs();
    if (Attr(st, "type") == "error") {
      ++s.stats.errors["message type='error'"];
      auto ref = RefOfId(Attr(st, "id"));
      auto it = ref ? p.outstanding.find(*ref) : p.outstanding.end();
      if (it != p.outstanding.end()) {
        ++s.stats.send_errors;
        if (it->second.measured) measured_answered_.fetch_add(1, std::memory_order_relaxed);
        p.outstanding.erase(it);
      }
      return;
    }
    if (const std::string_view received = FindChild(st, "received"); !received.empty()) {
      ++s.stats.receipts;
      auto ref = RefOfId(Attr(received, "id"));
      auto it = ref ? p.outstanding.find(*ref) : p.outstanding.end();
      if (it == p.outstanding.end()) {
        ++s.stats.unmatched_acks;
        return;
      }
      const auto pending = it->second;
      p.outstanding.erase(it);
      ++s.stats.acks;
      if (timeline_.measured(now)) ++s.stats.acks_in_window;
      if (pending.measured) {
        s.stats.ack_latency.Record(now - pending.origin_ns);
        measured_answered_.fetch_add(1, std::memory_order_relaxed);
      }
      if (settings_.rate <= 0 && now < timeline_.end_ns && !p.closed) Send(p, now);
      return;
    }
    const std::string_view body = ChildText(st, "body");
    if (body.empty()) {
      ++s.stats.other_frames["message without body"];
      return;
    }
    ++s.stats.deliveries;
    if (timeline_.measured(now)) ++s.stats.deliveries_in_window;
    const int64_t origin = OriginOf(body);
    if (origin >= 0 && timeline_.measured(origin)) {
      s.stats.delivery_latency.Record(now - origin);
      measured_delivered_.fetch_add(1, std::memory_order_relaxed);
    }
    if (!FindChild(st, "request").empty()) {
      // XEP-0184 receipt to the sender's full JID, for the message id.
      s.out.assign("<message to='");
      s.out += Attr(st, "from");
      s.out += "'><received xmlns='urn:xmpp:receipts' id='";
      s.out += Attr(st, "id");
      s.out += "'/></message>";
      p.conn->Send(s.out);
      ++s.stats.marks_sent;
      if (timeline_.measured(now)) ++s.stats.marks_in_window;
    }
  }

  IoPool& pool_;
  const XmppSettings settings_;
  Timeline timeline_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::unique_ptr<Peer>> peers_;
  std::atomic<uint64_t> measured_sent_{0};
  std::atomic<uint64_t> measured_answered_{0};
  std::atomic<uint64_t> measured_delivered_{0};
};

class XmppDirectScenario final : public Scenario {
 public:
  std::string_view name() const override { return "xmpp-direct"; }
  std::string_view description() const override {
    return "The direct workload against an XMPP server (ejabberd) over plain TCP c2s: "
           "<message> with a XEP-0184 receipt request; the receipt refills the window. "
           "--url HOST:PORT is the c2s listener";
  }
  bool speaks_parley_api() const override { return false; }

  void AddOptions(CLI::App& sub) override {
    sub.add_option("--rate", settings_.rate,
                   "Messages/s over all devices, open loop (latency from the scheduled time). "
                   "0 = saturation, see --window")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    sub.add_option("--window", settings_.window,
                   "Saturation mode: messages per device awaiting their receipt")
        ->check(CLI::Range(1, 10'000))
        ->capture_default_str();
    sub.add_option("--body-bytes", settings_.body_bytes, "Message body size")
        ->check(CLI::Range(32, 64 * 1024))
        ->capture_default_str();
    sub.add_option("--domain", settings_.domain, "XMPP domain of the server (its `hosts`)")
        ->capture_default_str();
    sub.add_option("--user-prefix", settings_.user_prefix,
                   "Usernames are PREFIX00000...; default pb<random hex>_ (fresh per run)");
    sub.add_flag("!--no-register", settings_.register_users,
                 "Log in to existing accounts instead of registering them in-band (XEP-0077)");
  }

  Status Validate(const CommonOptions& o) const override {
    if (o.users < 2 || o.users % 2 != 0) {
      return Error{ExitCode::kUsage, "xmpp-direct: --users must be even and at least 2"};
    }
    return Ok();
  }

  Result<Report> Run(const RunContext& ctx) override;

 private:
  XmppSettings settings_;
};

Result<Report> XmppDirectScenario::Run(const RunContext& ctx) {
  const CommonOptions& o = ctx.options;
  const auto timeout = std::chrono::milliseconds(o.connect_timeout_ms);
  std::string prefix = settings_.user_prefix;
  if (prefix.empty()) {
    char tag[16];
    std::snprintf(tag, sizeof tag, "%06x", static_cast<unsigned>(std::random_device{}() & 0xffffff));
    prefix = std::string("pb") + tag + "_";
  }
  auto username = [&](int i) {
    char n[16];
    std::snprintf(n, sizeof n, "%05d", i);
    return prefix + n;
  };

  IoPool pool(o.threads);
  std::vector<std::unique_ptr<XmppConnection>> conns;
  for (int i = 0; i < o.users; ++i) {
    conns.push_back(std::make_unique<XmppConnection>(pool.context(i)));
  }
  std::cerr << "parley-bench: " << (settings_.register_users ? "registering and " : "")
            << "logging in " << o.users << " XMPP users\n";
  const int64_t setup_start = NowNs();
  for (int i = 0; i < o.users; i += o.setup_concurrency) {
    std::vector<std::future<Status>> batch;
    for (int j = i; j < std::min(o.users, i + o.setup_concurrency); ++j) {
      XmppLogin login{settings_.domain, username(j), o.password, "pb", settings_.register_users};
      batch.push_back(SpawnFuture(pool.context(j).get_executor(),
                                  conns[j]->Open(ctx.endpoint, login, timeout)));
    }
    for (auto& f : batch) {
      Status st = f.get();
      if (!st.ok()) {
        for (auto& g : batch) {
          if (g.valid()) g.wait();
        }
        pool.Stop();
        return st.error();
      }
    }
  }
  const double setup_s = static_cast<double>(NowNs() - setup_start) / kNsPerSec;

  XmppLoad load(pool, settings_);
  for (int i = 0; i < o.users; ++i) {
    const int partner = i % 2 == 0 ? i + 1 : i - 1;
    load.AddPeer(*conns[i], i % pool.size(), username(partner) + "@" + settings_.domain);
  }
  Timeline t;
  t.start_ns = NowNs() + 200 * kNsPerMs;
  t.measure_ns = t.start_ns + static_cast<int64_t>(o.warmup_s * kNsPerSec);
  t.end_ns = t.measure_ns + static_cast<int64_t>(o.duration_s * kNsPerSec);
  load.Start(t);
  std::cerr << "parley-bench: warming up " << o.warmup_s << " s, measuring " << o.duration_s
            << " s\n";
  std::this_thread::sleep_until(FromNs(t.measure_ns));
  const CpuSample before = SampleCpu(o.server_pid);
  std::this_thread::sleep_until(FromNs(t.end_ns));
  const CpuSample after = SampleCpu(o.server_pid);
  const int64_t drain_deadline = NowNs() + static_cast<int64_t>(o.drain_s * kNsPerSec);
  while (!load.Drained() && NowNs() < drain_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const uint64_t missing_acks = load.missing_acks();
  const uint64_t missing_deliveries = load.missing_deliveries();
  for (int i = 0; i < o.users; ++i) {
    XmppConnection* c = conns[i].get();
    asio::post(pool.context(i), [c] { c->Close(); });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  pool.Stop();
  const DirectStats st = load.Collect();

  Report r;
  r.scenario = "xmpp-direct";
  char summary[256];
  if (settings_.rate > 0) {
    std::snprintf(summary, sizeof summary, "open loop at %.0f msgs/s", settings_.rate);
  } else {
    std::snprintf(summary, sizeof summary, "saturation, window %d per device", settings_.window);
  }
  r.summary = std::string(summary) + ", " + std::to_string(o.users) + " XMPP users in " +
              std::to_string(o.users / 2) + " pairs, " + std::to_string(o.threads) +
              " threads, " + std::to_string(settings_.body_bytes) +
              " B bodies, XEP-0184 receipt per message; " +
              std::to_string(o.duration_s).substr(0, 4) + " s measured after " +
              std::to_string(o.warmup_s).substr(0, 4) + " s warm-up";
  r.config = {{"url", o.url},
              {"users", o.users},
              {"threads", o.threads},
              {"warmup_s", o.warmup_s},
              {"duration_s", o.duration_s},
              {"drain_s", o.drain_s},
              {"rate", settings_.rate},
              {"window", settings_.window},
              {"body_bytes", settings_.body_bytes},
              {"domain", settings_.domain},
              {"conversations", o.users / 2},
              {"setup_s", setup_s}};
  const double secs = o.duration_s;
  // Same keys as `direct` where the meaning carries over, so scripts read both alike; here the
  // "ack" is the recipient's XEP-0184 receipt back at the sender.
  r.rates = {{"sends issued (in window)", st.sent_in_window / secs},
             {"acked (send -> ack)", st.acks_in_window / secs},
             {"delivered (recipient frames)", st.deliveries_in_window / secs},
             {"receipts sent by recipients", st.marks_in_window / secs}};
  r.latencies = {{"send -> ack", st.ack_latency},
                 {"send -> recipient frame", st.delivery_latency}};
  r.resources = {{"parley-bench CPU", CoresUsed(before.self_cpu_ns, after.self_cpu_ns,
                                                before.wall_ns, after.wall_ns)}};
  if (o.server_pid > 0) {
    r.resources.emplace_back("server CPU", CoresUsed(before.server_cpu_ns, after.server_cpu_ns,
                                                     before.wall_ns, after.wall_ns));
  }
  r.counters = {{"sends (total)", st.sent},
                {"receipts matched (acks, total)", st.acks},
                {"deliveries (total)", st.deliveries},
                {"receipts received", st.receipts},
                {"receipts sent", st.marks_sent},
                {"message errors for own sends", st.send_errors},
                {"receipts matching no send", st.unmatched_acks},
                {"connections lost", st.closed_connections},
                {"write syscalls (generator)", st.writes},
                {"measured sends without receipt after drain", missing_acks},
                {"measured sends undelivered after drain", missing_deliveries}};
  for (const auto& [code, n] : st.errors) r.counters.emplace_back("errors: " + code, n);
  for (const auto& [type, n] : st.other_frames) r.counters.emplace_back("stanzas " + type, n);
  r.warnings.push_back("the 'ack' here is the recipient's XEP-0184 receipt (end to end), not a "
                       "server acknowledgement: ejabberd routes a message to an online recipient "
                       "without storing or fsyncing it; parleyd acks after an fsync'd commit");
  if (st.send_errors > 0) {
    r.warnings.push_back(std::to_string(st.send_errors) + " messages bounced with errors");
    r.incomplete = true;
  }
  if (missing_acks > 0 || missing_deliveries > 0) {
    r.warnings.push_back(std::to_string(missing_acks) + " measured sends got no receipt and " +
                         std::to_string(missing_deliveries) +
                         " were not delivered within --drain-s");
    r.incomplete = true;
  }
  if (st.closed_connections > 0) {
    r.warnings.push_back(std::to_string(st.closed_connections) +
                         " XMPP streams ended during the run; first: " + st.first_close_reason);
    r.incomplete = true;
  }
  if (settings_.rate > 0 && st.acks_in_window < 0.95 * st.sent_in_window) {
    r.warnings.push_back("less than 95% of the offered rate came back as receipts: the server is "
                         "saturated; read the latencies as queueing delay");
  }
  if (st.ack_latency.count() == 0) {
    r.warnings.push_back("no measured receipts: is the window (--duration-s) too short?");
    r.incomplete = true;
  }
  return r;
}

}  // namespace

std::unique_ptr<Scenario> MakeXmppDirectScenario() {
  return std::make_unique<XmppDirectScenario>();
}

}  // namespace parley::bench
