#include "services/search/search_indexer.h"

#include <boost/json.hpp>

#include <chrono>
#include <future>
#include <optional>

#include "common/json_fields.h"
#include "common/log.h"
#include "common/thread_priority.h"
#include "events/event.h"

namespace parley::services {
namespace {

constexpr size_t kMaxBehind = 100000;  // conversations remembered as behind; then a full pass
constexpr int kScanPage = 500;         // conversations per ScanConversations
constexpr int kHistoryPage = 500;      // messages per catch-up batch
constexpr auto kProgressEvery = std::chrono::seconds(5);

const boost::json::value* Field(const boost::json::object& o, std::string_view key) {
  return o.if_contains(key);
}

int64_t Int(const boost::json::object& o, std::string_view key) {
  const auto* v = Field(o, key);
  return v && v->is_int64() ? v->as_int64() : 0;
}

// The message a MESSAGE_SENT event carries (the fields the index reads), or nullopt.
std::optional<storage::Message> MessageOf(const events::Event& e) {
  const auto* mv = e.payload.if_contains("message");
  if (!mv || !mv->is_object()) return std::nullopt;
  const auto& o = mv->as_object();
  storage::Message m;
  m.message_id = StringOr(o, "message_id");
  m.conversation_id = StringOr(o, "conversation_id");
  m.seq = Int(o, "seq");
  m.created_at = Int(o, "created_at");
  m.content_type = StringOr(o, "content_type");
  m.encryption = StringOr(o, "encryption");
  if (m.conversation_id.empty() || m.seq <= 0 || m.encryption.empty()) return std::nullopt;
  if (m.encryption == "none") m.body = StringOr(o, "body");  // an encrypted body is never needed
  if (const auto* t = o.if_contains("search_tokens"); t && t->is_array()) {
    m.search_tokens.emplace();
    for (const auto& s : t->as_array())
      if (s.is_string()) m.search_tokens->emplace_back(s.as_string());
  }
  return m;
}

}  // namespace

SearchIndexer::SearchIndexer(Context& ctx, storage::SearchIndex& index)
    : ctx_(ctx),
      index_(index),
      indexed_total_(ctx.metrics.Counter("parley_search_indexed_total",
                                         "Messages added to the search index")),
      dropped_total_(ctx.metrics.Counter(
          "parley_search_index_deferred_total",
          "Messages left to catch-up because the search index was behind")),
      caught_up_total_(ctx.metrics.Counter("parley_search_caught_up_total",
                                           "Messages fed to the search index by catch-up")) {}

SearchIndexer::~SearchIndexer() { Stop(); }

void SearchIndexer::Start() {
  ctx_.metrics.Gauge("parley_search_index_queue", "Messages waiting for the search index",
                     [this] { return static_cast<double>(queued()); });
  ctx_.metrics.Gauge("parley_search_catchup_pending",
                     "Conversations waiting for search catch-up (0 when the index is current)",
                     [this] { return static_cast<double>(catchup_pending()); });
  // A shared index (OpenSearch) is fed by one node per event; a per-node one by every node.
  ctx_.bus.Subscribe(events::topic::kMessage,
                     [this](std::string_view, const events::EventPtr& e) { OnEvent(e); },
                     index_.Shared() ? events::Delivery::kOneNode : events::Delivery::kEveryNode);
  {
    std::lock_guard lock(mu_);
    full_pass_ = true;
  }
  thread_ = std::thread([this] { Loop(); });
}

void SearchIndexer::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t SearchIndexer::catchup_pending() const {
  std::lock_guard lock(mu_);
  return behind_.size() + (busy_ || full_pass_ ? 1 : 0);
}

bool SearchIndexer::idle() const {
  std::lock_guard lock(mu_);
  return !busy_ && !full_pass_ && behind_.empty() && queued() == 0;
}

void SearchIndexer::OnEvent(const events::EventPtr& e) {
  if (e->type != events::type::kMessageSent) return;
  auto m = MessageOf(*e);
  if (!m) return;
  int64_t bytes = static_cast<int64_t>(m->body.size()) + 256;
  if (queued_messages_.load(std::memory_order_relaxed) >= kMaxQueuedMessages ||
      queued_bytes_.load(std::memory_order_relaxed) >= kMaxQueuedBytes) {
    dropped_total_.fetch_add(1, std::memory_order_relaxed);
    MarkBehind(m->conversation_id);
    return;
  }
  queued_messages_.fetch_add(1, std::memory_order_relaxed);
  queued_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  std::string conversation_id = m->conversation_id;
  std::vector<storage::Message> batch;
  batch.push_back(std::move(*m));
  index_.Index(std::move(batch), [this, bytes, conversation_id = std::move(conversation_id)](
                                     Result<storage::IndexOutcome> r) {
    if (!r.ok()) {
      MarkBehind(conversation_id);
    } else {
      indexed_total_.fetch_add(static_cast<uint64_t>(r->indexed), std::memory_order_relaxed);
      for (const auto& c : r->behind) MarkBehind(c);
    }
    queued_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    queued_messages_.fetch_sub(1, std::memory_order_relaxed);
  });
}

void SearchIndexer::MarkBehind(const std::string& conversation_id) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    if (behind_.size() >= kMaxBehind) {
      behind_.clear();
      full_pass_ = true;
    } else {
      behind_.insert(conversation_id);
    }
  }
  cv_.notify_one();
}

void SearchIndexer::Loop() {
  SetThisThreadNice(10);  // background work: requests first
  while (true) {
    std::string conversation_id;
    bool full = false;
    {
      std::unique_lock lock(mu_);
      busy_ = false;
      cv_.wait(lock, [&] { return stopping_ || full_pass_ || !behind_.empty(); });
      if (stopping_) return;
      busy_ = true;
      if (full_pass_) {
        full_pass_ = false;
        behind_.clear();  // the pass covers them
        full = true;
      } else {
        auto it = behind_.begin();
        conversation_id = *it;
        behind_.erase(it);
      }
    }
    if (full) {
      FullPass();
      continue;
    }
    // Behind because the live path is over its bound: let it drain first.
    while (queued_messages_.load(std::memory_order_relaxed) > kMaxQueuedMessages / 2) {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return stopping_; })) return;
    }
    int64_t fed = 0;
    if (!CatchUp(conversation_id, &fed)) {
      std::unique_lock lock(mu_);  // the store or index is failing: do not spin
      if (cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; })) return;
    }
  }
}

void SearchIndexer::FullPass() {
  auto started = std::chrono::steady_clock::now();
  auto last_log = started;
  int64_t conversations = 0, behind = 0, fed = 0;
  bool ok = true;
  std::string after;
  while (ok) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    auto page = ctx_.message_store.ScanConversations(after, kScanPage);
    if (!page.ok()) {
      LogWarn("search catch-up: cannot list conversations", {{"error", page.error().message}});
      ok = false;
      break;
    }
    if (page->empty()) break;
    for (const auto& c : *page) {
      after = c.conversation_id;
      ++conversations;
      auto upto = index_.IndexedUpTo(c.conversation_id);
      if (!upto.ok()) {
        LogWarn("search catch-up: index unavailable", {{"error", upto.error().message}});
        ok = false;
        break;
      }
      if (*upto >= c.last_seq) continue;
      ++behind;
      if (!CatchUp(c.conversation_id, &fed)) {
        ok = false;
        break;
      }
      if (std::chrono::steady_clock::now() - last_log >= kProgressEvery) {
        last_log = std::chrono::steady_clock::now();
        LogInfo("search catch-up progress", {{"conversations_checked", conversations},
                                             {"conversations_behind", behind},
                                             {"messages_fed", fed}});
      }
    }
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - started).count();
  if (behind > 0 || !ok) {
    LogInfo("search catch-up pass done", {{"conversations_checked", conversations},
                                          {"conversations_behind", behind},
                                          {"messages_fed", fed},
                                          {"complete", ok},
                                          {"ms", ms}});
  }
}

bool SearchIndexer::CatchUp(const std::string& conversation_id, int64_t* fed) {
  auto upto = index_.IndexedUpTo(conversation_id);
  if (!upto.ok()) return false;
  int64_t after = *upto;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return true;
    }
    auto page = ctx_.message_store.History(conversation_id, after + 1, INT64_MAX, after,
                                           INT64_MAX, /*ascending=*/true, kHistoryPage);
    if (!page.ok()) {
      LogWarn("search catch-up: cannot read history", {{"error", page.error().message}});
      return false;
    }
    if (page->first.empty()) return true;
    after = page->first.back().seq;
    size_t n = page->first.size();
    auto r = IndexAndWait(std::move(page->first));
    if (!r.ok()) {
      LogWarn("search catch-up: index write failed", {{"error", r.error().message}});
      return false;
    }
    *fed += static_cast<int64_t>(n);
    caught_up_total_.fetch_add(n, std::memory_order_relaxed);
    indexed_total_.fetch_add(static_cast<uint64_t>(r->indexed), std::memory_order_relaxed);
    if (!page->second) return true;
  }
}

Result<storage::IndexOutcome> SearchIndexer::IndexAndWait(std::vector<storage::Message> batch) {
  std::promise<Result<storage::IndexOutcome>> p;
  auto f = p.get_future();
  index_.Index(std::move(batch),
               [&p](Result<storage::IndexOutcome> r) { p.set_value(std::move(r)); });
  return f.get();
}

}  // namespace parley::services
