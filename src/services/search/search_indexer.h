// SearchIndexer: keeps the search index caught up with the message store.
//
// - Live: every MESSAGE_SENT goes to SearchIndex::Index, asynchronously (the bus handler only
//   parses and submits). In flight is bounded (kMaxQueuedMessages, kMaxQueuedBytes): past that,
//   under a burst the index cannot follow, the message is left to catch-up instead of queueing
//   without bound.
// - Catch-up: one background thread brings conversations up to date from the MessageStore,
//   reading history from the index's IndexedUpTo. It runs for conversations the index reports
//   behind (a skipped message, a failed write) and, at Start, for every conversation (so an index
//   that is empty, new, or lost its last commits in a power cut is rebuilt), logging progress.
//
// Thread-safe. Stop() before closing the index and the store.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "services/context.h"
#include "storage/search_index.h"

namespace parley::services {

class SearchIndexer {
 public:
  static constexpr int64_t kMaxQueuedMessages = 50000;
  static constexpr int64_t kMaxQueuedBytes = 64 << 20;

  SearchIndexer(Context& ctx, storage::SearchIndex& index);
  ~SearchIndexer();

  // Subscribes to message-events and starts the catch-up thread with a pass over every
  // conversation. Call once, before serving.
  void Start();
  // Stops the catch-up thread (it finishes the batch it is on). Live events that still arrive
  // are submitted as before; the index refuses them once closed.
  void Stop();

  // For tests and metrics.
  int64_t queued() const { return queued_messages_.load(std::memory_order_relaxed); }
  // Whether no catch-up is pending or running.
  bool idle() const;
  // Conversations waiting for catch-up, plus one while a pass or catch-up runs.
  size_t catchup_pending() const;

 private:
  void OnEvent(const events::EventPtr& e);
  void MarkBehind(const std::string& conversation_id);
  void Loop();
  void FullPass();
  // Feeds the conversation's messages above IndexedUpTo up to its newest; messages counted in
  // *fed. False if a read or write failed (it is retried on the next start).
  bool CatchUp(const std::string& conversation_id, int64_t* fed);
  Result<storage::IndexOutcome> IndexAndWait(std::vector<storage::Message> batch);

  Context& ctx_;
  storage::SearchIndex& index_;
  std::atomic<uint64_t>& indexed_total_;
  std::atomic<uint64_t>& dropped_total_;
  std::atomic<uint64_t>& caught_up_total_;
  std::atomic<int64_t> queued_messages_{0};
  std::atomic<int64_t> queued_bytes_{0};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_set<std::string> behind_;  // guarded by mu_; bounded
  bool full_pass_ = false;                  // guarded by mu_
  bool busy_ = false;                       // guarded by mu_: the thread is catching up
  bool stopping_ = false;                   // guarded by mu_
  std::thread thread_;
};

}  // namespace parley::services
