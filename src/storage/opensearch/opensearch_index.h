// OpenSearchIndex: the SearchIndex of the scale-out profile, over OpenSearch's REST API.
//
// Layout (every name starts with options.prefix, default "parley-"):
// - messages-YYYY.MM: one index per month of created_at (UTC), created on first use with the
//   mapping below, searched together through the wildcard messages-*. An old month can be
//   dropped or moved to cheaper nodes as a whole; a lost month is rebuilt from the MessageStore.
//   A document per indexed message, id "<conversation_id>:<seq>", written with op_type create:
//   a repeat answers 409 and is skipped, so replays are idempotent.
//   Fields: conversation_id (keyword), seq (long), created_at (long, ms), words (keyword: the
//   words of a plain body), tokens (keyword: the search tokens of an encrypted message).
//   _source is disabled: the index can match and sort but returns no text. An encrypted
//   message's body is never sent.
// - search-progress: a document per conversation, id = conversation_id, holding `upto`
//   (IndexedUpTo), written with version_type external and version = upto, so concurrent writers
//   (several nodes) can only move it forward.
//
// Words are made by the embedded index's own tokenizer (SQLite FTS5 unicode61, case-folded,
// diacritics removed: storage/sqlite_search/fts_query.h) on both sides, when indexing and when
// searching, so both adapters split and fold text identically, in every script; OpenSearch then
// only compares terms (term queries, and a prefix query for the last word of 2 or more
// characters). The query is never parsed as query syntax: each word is a JSON string value.
//
// Index writes run on one worker thread (a batch: one _mget of progress, one _bulk of documents,
// one _bulk of progress); `done` runs on a completion thread, in submit order. Search, IndexedUpTo
// and Ping block the caller (each a REST call with a timeout). Errors of the node: kUnavailable.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "storage/opensearch/os_http.h"
#include "storage/search_index.h"

namespace parley::storage::opensearch {

struct OpenSearchOptions {
  std::string host = "127.0.0.1";
  int port = 9200;
  std::string prefix = "parley-";  // of every index name (tests use their own)
  int timeout_ms = 10000;          // per REST call
  int replicas = 1;                // number_of_replicas of the indices it creates
  // The refresh parameter of writes: "false" (searchable within the refresh interval, 1 s) or
  // "wait_for" (Index completes once its writes are searchable; tests).
  std::string refresh = "false";
  size_t max_bulk = 2000;  // documents per _bulk request
  // A round that would only move progress (every message queued is end-to-end encrypted without
  // search tokens: nothing to index) waits until this long after the previous round, gathering
  // what arrives meanwhile: for E2EE traffic the index costs OpenSearch a few requests a second,
  // not two per message. 0: no wait.
  int progress_only_gap_ms = 250;
};

// Parses "opensearch://host:port" (or http://) into options; kInvalidArgument otherwise.
Result<OpenSearchOptions> ParseOpenSearchUrl(std::string_view url);

class OpenSearchIndex final : public SearchIndex {
 public:
  explicit OpenSearchIndex(OpenSearchOptions options);
  ~OpenSearchIndex() override;

  // Checks the node answers, creates the progress index if absent, starts the threads.
  // kUnavailable if the node cannot be reached or refuses. Call once.
  Status Open();
  // Finishes queued writes (their `done` run), then stops the threads. Later Index calls fail
  // with kUnavailable.
  void Close();

  void Index(std::vector<Message> messages, Done<IndexOutcome> done) override;
  Result<int64_t> IndexedUpTo(std::string_view conversation_id) override;
  Result<std::vector<SearchHit>> Search(std::string_view query,
                                        const std::vector<SearchScope>& scopes,
                                        int limit) override;
  Status Ping() override;
  bool Shared() const override { return true; }

  // Deletes every index under the prefix (tests).
  Status DropAll();

  // Write rounds so far (each: a progress read, the documents' _bulk if any, a progress _bulk).
  uint64_t rounds() const { return rounds_.load(std::memory_order_relaxed); }

  // The index of a month of created_at: "<prefix>messages-2026.11".
  std::string MonthIndex(int64_t created_at_ms) const;

 private:
  struct Call {
    std::vector<Message> messages;
    Done<IndexOutcome> done;
  };
  void WriterLoop();
  void CompletionLoop();
  void Complete(std::function<void()> fn);
  // Writes the calls' messages and progress; one outcome per call, or an error for all.
  Result<std::vector<IndexOutcome>> Write(const std::vector<Call>& calls);
  Result<std::vector<IndexOutcome>> WriteOrFail(const std::vector<Call>& calls);  // no throw
  Status EnsureIndex(const std::string& name);
  Status EnsureProgressIndex();
  Result<std::vector<SearchHit>> SearchOnce(const std::string& body);

  // Constant after construction.
  const OpenSearchOptions options_;
  std::unique_ptr<OsHttp> http_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Call> pending_;  // guarded by mu_
  bool pending_content_ = false;  // guarded by mu_: some queued message has something to index
  std::chrono::steady_clock::time_point last_round_{};  // writer thread only
  std::atomic<uint64_t> rounds_{0};
  bool open_ = false;         // guarded by mu_
  bool stopping_ = false;     // guarded by mu_
  std::thread writer_;

  std::mutex done_mu_;
  std::condition_variable done_cv_;
  std::deque<std::function<void()>> completions_;  // guarded by done_mu_
  bool done_stopping_ = false;                     // guarded by done_mu_
  std::thread completer_;

  std::set<std::string> known_indices_;  // writer thread only
};

}  // namespace parley::storage::opensearch
