#include "direct_load.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <charconv>
#include <random>
#include <unordered_map>

#include "clock.h"
#include "frames.h"
#include "wordlist.h"

namespace parley::bench {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {
constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kBodyPrefix = "pb:";
constexpr int kMaxBurst = 64;  // catch-up sends before yielding to the readers

// The send time embedded by Send(), or -1 for bodies the bench did not write.
int64_t OriginOf(std::string_view body) {
  if (body.substr(0, kBodyPrefix.size()) != kBodyPrefix) return -1;
  int64_t v = -1;
  const char* first = body.data() + kBodyPrefix.size();
  auto [ptr, ec] = std::from_chars(first, body.data() + body.size(), v);
  return ec == std::errc() ? v : -1;
}
}  // namespace

struct DirectLoad::Peer {
  WsConnection* conn = nullptr;
  Shard* shard = nullptr;
  std::optional<SendTarget> target;  // none: only reads
  std::string device_id;
  uint64_t salt = 0;  // client_msg_id namespace of this device for this run
  uint64_t next_ref = 1;
  struct Pending {
    int64_t origin_ns;
    bool measured;
  };
  std::unordered_map<uint64_t, Pending> outstanding;  // by ref
  struct Seqs {
    int64_t seen = 0;
    int64_t marked = 0;
  };
  std::unordered_map<std::string, Seqs> seqs;  // by conversation_id
  bool closed = false;
};

struct DirectLoad::Shard {
  Shard(asio::io_context& io, int index) : io(io), index(index) {}
  asio::io_context& io;
  const int index;  // of the thread
  std::vector<Peer*> peers;
  std::vector<Peer*> senders;  // the peers with a target
  DirectStats stats;
  std::mt19937_64 rng{std::random_device{}()};
  std::string frame;  // scratch for outgoing frames
  std::string body;
  alignas(16) unsigned char parse_buffer[32 * 1024];  // backs each parsed frame
};

void DirectStats::Merge(const DirectStats& o) {
  ack_latency.Merge(o.ack_latency);
  delivery_latency.Merge(o.delivery_latency);
  sent += o.sent;
  sent_in_window += o.sent_in_window;
  acks += o.acks;
  acks_in_window += o.acks_in_window;
  deliveries += o.deliveries;
  deliveries_in_window += o.deliveries_in_window;
  duplicates += o.duplicates;
  system_messages += o.system_messages;
  self_echoes += o.self_echoes;
  receipts += o.receipts;
  marks_sent += o.marks_sent;
  marks_in_window += o.marks_in_window;
  unmatched_acks += o.unmatched_acks;
  send_errors += o.send_errors;
  unparsable_frames += o.unparsable_frames;
  closed_connections += o.closed_connections;
  writes += o.writes;
  for (const auto& [k, v] : o.errors) errors[k] += v;
  for (const auto& [k, v] : o.other_frames) other_frames[k] += v;
  if (first_close_reason.empty()) first_close_reason = o.first_close_reason;
}

namespace {
std::vector<LoadPeer> BothWays(const std::vector<Account>& accounts,
                               const std::vector<DirectPair>& pairs) {
  std::vector<LoadPeer> out;
  auto target = [&](int partner, const std::string& conversation_id) {
    return conversation_id.empty() ? SendTarget{"to_user_id", accounts[partner].user_id}
                                   : SendTarget{"conversation_id", conversation_id};
  };
  for (const auto& pair : pairs) {
    out.push_back(LoadPeer{pair.a, target(pair.b, pair.conversation_id)});
    out.push_back(LoadPeer{pair.b, target(pair.a, pair.conversation_id)});
  }
  return out;
}
}  // namespace

DirectLoad::DirectLoad(Fleet& fleet, const std::vector<Account>& accounts,
                       const std::vector<DirectPair>& pairs, DirectSettings settings)
    : DirectLoad(fleet, accounts, BothWays(accounts, pairs), settings) {}

DirectLoad::DirectLoad(Fleet& fleet, const std::vector<Account>& accounts,
                       const std::vector<LoadPeer>& peers, DirectSettings settings)
    : fleet_(fleet), settings_(settings) {
  for (int t = 0; t < fleet.pool().size(); ++t) {
    shards_.push_back(std::make_unique<Shard>(fleet.pool().context(t), t));
  }
  if (settings_.body_words > 0) zipf_ = std::make_unique<ZipfSampler>(settings_.vocabulary);
  send_budget_ = settings_.max_sends > 0 ? static_cast<int64_t>(settings_.max_sends) : INT64_MAX;
  std::mt19937_64 rng(std::random_device{}());
  for (const auto& lp : peers) AddPeer(accounts, lp, rng());
}

void DirectLoad::AddPeer(const std::vector<Account>& accounts, const LoadPeer& lp, uint64_t salt) {
  auto p = std::make_unique<Peer>();
  p->conn = &fleet_.conn(lp.index);
  p->shard = shards_[fleet_.thread_of(lp.index)].get();
  p->device_id = p->conn->ready_device_id();
  if (p->device_id.empty()) p->device_id = accounts[lp.index].device_id;
  p->target = lp.target;
  p->salt = salt;
  p->shard->peers.push_back(p.get());
  if (p->target) p->shard->senders.push_back(p.get());
  peers_.push_back(std::move(p));
}

DirectLoad::~DirectLoad() = default;

void DirectLoad::Start(const Timeline& timeline) {
  timeline_ = timeline;
  for (auto& s : shards_) asio::co_spawn(s->io, RunShard(*s), asio::detached);
}

asio::awaitable<void> DirectLoad::RunShard(Shard& s) {
  for (Peer* p : s.peers) {
    p->conn->SetHandlers([this, p](std::string_view text) { OnFrame(*p, text); },
                         [this, p](const std::string& why) {
                           p->closed = true;
                           ++p->shard->stats.closed_connections;
                           if (p->shard->stats.first_close_reason.empty()) {
                             p->shard->stats.first_close_reason = why;
                           }
                         });
  }
  if (settings_.receipt_interval_ms > 0) asio::co_spawn(s.io, TickReceipts(s), asio::detached);

  asio::steady_timer until_start(s.io, FromNs(timeline_.start_ns));
  co_await until_start.async_wait(kTok);
  if (settings_.rate > 0) {
    asio::co_spawn(s.io, Pace(s), asio::detached);
  } else {
    for (Peer* p : s.senders) {
      for (int i = 0; i < settings_.window; ++i) Send(*p, NowNs());
    }
  }
}

asio::awaitable<void> DirectLoad::Pace(Shard& s) {
  // Global send j is due at start + j/rate; thread t of T takes j = t, t+T, t+2T, ... and gives
  // them to its devices in turn. One timer per thread, evenly interleaved across threads.
  const auto threads = static_cast<double>(shards_.size());
  const double interval_ns = threads / settings_.rate * kNsPerSec;
  const double first_ns = static_cast<double>(timeline_.start_ns) +
                          static_cast<double>(s.index) / settings_.rate * kNsPerSec;
  asio::steady_timer timer(s.io);
  int burst = 0;
  size_t next_peer = 0;
  for (uint64_t k = 0; !s.senders.empty(); ++k) {
    const auto due = static_cast<int64_t>(first_ns + static_cast<double>(k) * interval_ns);
    if (due >= timeline_.end_ns) break;
    if (NowNs() < due) {
      burst = 0;
      timer.expires_at(FromNs(due));
      co_await timer.async_wait(kTok);
    } else if (++burst % kMaxBurst == 0) {
      // Behind schedule: keep sending (latency counts from `due`), but let acks be read.
      co_await asio::post(s.io, asio::use_awaitable);
    }
    Peer& p = *s.senders[next_peer];
    next_peer = (next_peer + 1) % s.senders.size();
    if (!p.closed) Send(p, due);
  }
}

asio::awaitable<void> DirectLoad::TickReceipts(Shard& s) {
  asio::steady_timer timer(s.io);
  for (;;) {
    timer.expires_after(std::chrono::milliseconds(settings_.receipt_interval_ms));
    auto [ec] = co_await timer.async_wait(kTok);
    if (ec) co_return;
    const bool in_window = timeline_.measured(NowNs());
    for (Peer* p : s.peers) {
      for (auto& [conversation_id, seqs] : p->seqs) {
        if (seqs.seen <= seqs.marked) continue;
        s.frame.clear();
        AppendMarkDelivered(s.frame, conversation_id, seqs.seen);
        p->conn->SendText(s.frame);
        seqs.marked = seqs.seen;
        ++s.stats.marks_sent;
        if (in_window) ++s.stats.marks_in_window;
      }
    }
  }
}

void DirectLoad::Send(Peer& p, int64_t origin_ns) {
  Shard& s = *p.shard;
  if (!p.target) return;
  if (settings_.max_sends > 0 && send_budget_.fetch_sub(1, std::memory_order_relaxed) <= 0) return;
  if (settings_.body_words > 0) {
    s.body.clear();
    AppendWords(s.body, *zipf_, s.rng, settings_.body_words);
  } else {
    s.body.assign(kBodyPrefix);
    char num[24];
    auto [end, ec] = std::to_chars(num, num + sizeof num, origin_ns);
    s.body.append(num, end);
    s.body += ':';
    if (s.body.size() < static_cast<size_t>(settings_.body_bytes)) {
      // Plaintext pads with a word the search index sees once; ciphertext with base64 letters.
      s.body.resize(settings_.body_bytes, settings_.encryption == "none" ? 'x' : 'Q');
    }
  }

  const uint64_t ref = p.next_ref++;
  s.frame.clear();
  // A bijective mix of the counter (splitmix64's finalizer): unique ids in no order.
  auto scatter = [](uint64_t x) {
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  };
  const uint64_t id = settings_.client_msg_ids == "random" ? scatter(ref) : ref;
  AppendSendFrame(s.frame, ref, p.target->key, p.target->value, p.salt, id, s.body,
                  settings_.encryption);
  p.conn->SendText(s.frame);

  const bool measured = timeline_.measured(origin_ns);
  p.outstanding.emplace(ref, Peer::Pending{origin_ns, measured});
  ++s.stats.sent;
  if (measured) {
    ++s.stats.sent_in_window;
    measured_sent_.fetch_add(1, std::memory_order_relaxed);
  }
}

void DirectLoad::OnFrame(Peer& p, std::string_view text) {
  Shard& s = *p.shard;
  json::monotonic_resource mr(s.parse_buffer, sizeof s.parse_buffer);
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, json::storage_ptr(&mr));
  if (ec || !v.is_object()) {
    ++s.stats.unparsable_frames;
    return;
  }
  const json::object& f = v.get_object();
  const std::string_view type = TypeOf(f);
  if (type == "ack") {
    OnAck(p, f);
  } else if (type == "message") {
    OnMessage(p, f);
  } else if (type == "receipt") {
    ++s.stats.receipts;
  } else if (type == "error") {
    OnError(p, f);
  } else {
    ++s.stats.other_frames[std::string(type.empty() ? "(no type)" : type)];
  }
}

void DirectLoad::OnAck(Peer& p, const json::object& f) {
  Shard& s = *p.shard;
  const auto ref = RefOf(f);
  auto it = ref ? p.outstanding.find(*ref) : p.outstanding.end();
  if (it == p.outstanding.end()) {
    ++s.stats.unmatched_acks;
    return;
  }
  const int64_t now = NowNs();
  const auto pending = it->second;
  p.outstanding.erase(it);
  ++s.stats.acks;
  if (timeline_.measured(now)) ++s.stats.acks_in_window;
  if (pending.measured) {
    s.stats.ack_latency.Record(now - pending.origin_ns);
    measured_acked_.fetch_add(1, std::memory_order_relaxed);
    measured_answered_.fetch_add(1, std::memory_order_relaxed);
  }
  if (settings_.rate <= 0 && now < timeline_.end_ns && !p.closed) Send(p, now);
}

void DirectLoad::OnError(Peer& p, const json::object& f) {
  Shard& s = *p.shard;
  ++s.stats.errors[ErrorCodeOf(f)];
  const auto ref = RefOf(f);
  auto it = ref ? p.outstanding.find(*ref) : p.outstanding.end();
  if (it == p.outstanding.end()) return;  // e.g. about a mark_delivered
  ++s.stats.send_errors;
  if (it->second.measured) measured_answered_.fetch_add(1, std::memory_order_relaxed);
  p.outstanding.erase(it);
  // Saturation keeps its window only on success: a refusing server must not be hammered.
}

void DirectLoad::OnMessage(Peer& p, const json::object& f) {
  Shard& s = *p.shard;
  const int64_t now = NowNs();
  const auto* mv = f.if_contains("message");
  if (!mv || !mv->is_object()) {
    ++s.stats.unparsable_frames;
    return;
  }
  const json::object& m = mv->get_object();
  const auto seq = IntOf(m, "seq");
  const std::string_view conversation_id = StringOf(m, "conversation_id");
  if (!seq || conversation_id.empty()) {
    ++s.stats.unparsable_frames;
    return;
  }
  auto& seqs = p.seqs[std::string(conversation_id)];
  if (*seq <= seqs.seen) {
    ++s.stats.duplicates;
    return;
  }
  seqs.seen = *seq;
  if (StringOf(m, "content_type") == "system") {
    ++s.stats.system_messages;
    return;
  }
  if (StringOf(m, "sender_device_id") == p.device_id) {
    ++s.stats.self_echoes;
    return;
  }
  ++s.stats.deliveries;
  if (timeline_.measured(now)) ++s.stats.deliveries_in_window;
  const int64_t origin = OriginOf(StringOf(m, "body"));
  if (origin >= 0 && timeline_.measured(origin)) {
    s.stats.delivery_latency.Record(now - origin);
    measured_delivered_.fetch_add(1, std::memory_order_relaxed);
  }
}

uint64_t DirectLoad::missing_acks() const {
  const uint64_t sent = measured_sent_.load(std::memory_order_relaxed);
  const uint64_t answered = measured_answered_.load(std::memory_order_relaxed);
  return sent > answered ? sent - answered : 0;
}

uint64_t DirectLoad::missing_deliveries() const {
  const uint64_t acked = measured_acked_.load(std::memory_order_relaxed) *
                        static_cast<uint64_t>(std::max(1, settings_.recipients_per_message));
  const uint64_t delivered = measured_delivered_.load(std::memory_order_relaxed);
  return acked > delivered ? acked - delivered : 0;
}

bool DirectLoad::Drained() const { return missing_acks() == 0 && missing_deliveries() == 0; }

DirectStats DirectLoad::Collect() const {
  DirectStats all;
  for (const auto& s : shards_) all.Merge(s->stats);
  for (const auto& p : peers_) all.writes += p->conn->writes();
  return all;
}

}  // namespace parley::bench
