// PgWriter: the group-commit writer of the PostgreSQL adapter (same contract as
// sqlite::GroupCommitWriter in storage/sqlite/writer.h).
//
// Batches of all nodes are serialized by a transaction-level advisory lock taken first, so
// writers never deadlock on conversation rows (the cost: one batch commits at a time across the
// cluster; group commit keeps batches large under load).
// One writer thread runs the queued jobs (up to max_batch) in ONE transaction, each inside its
// own SAVEPOINT so a failing job rolls back alone, commits once, then hands the completions to a
// completion thread that runs them in commit order. A write is acknowledged only once committed.
// If a job or the COMMIT hits a serialization failure or deadlock (40001/40P01, e.g. racing
// another parleyd node) the whole batch is rolled back and re-run, up to kMaxAttempts times; then
// every job gets kUnavailable. A lost connection is re-opened before the next attempt. Jobs must
// therefore be safe to re-run (they only touch the database, and their results are kept from the
// last attempt only). Submit is thread-safe; completions must not block. The queue and threads
// are storage/group_commit.h's; this class is how a PostgreSQL batch runs.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "storage/group_commit.h"
#include "storage/model.h"
#include "storage/postgres/pg_conn.h"

namespace parley::storage::postgres {

class PgWriter {
 public:
  static constexpr int kMaxAttempts = 8;

  PgWriter(std::string url, size_t max_batch);
  ~PgWriter();

  // Connects and starts the threads.
  Status Start();
  // Finishes every queued job, then stops the threads. Jobs submitted after Stop fail.
  void Stop();

  template <typename T>
  void Submit(std::function<Result<T>(PgConn&)> fn, Done<T> done) {
    queue_.Submit<T>(std::move(fn), std::move(done));
  }

  uint64_t batches() const { return batches_.load(std::memory_order_relaxed); }
  uint64_t jobs() const { return jobs_.load(std::memory_order_relaxed); }
  // Batches rolled back and re-run after a serialization failure or deadlock.
  uint64_t retries() const { return retries_.load(std::memory_order_relaxed); }

 private:
  using Queue = GroupCommitQueue<PgConn>;
  enum class Attempt { kCommitted, kRetry, kFailed };
  void RunBatch(std::deque<Queue::Job>& batch);  // on the queue's writer thread
  Attempt TryBatch(std::deque<Queue::Job>& batch);
  bool EnsureConnected();

  const std::string url_;  // constant after construction
  std::unique_ptr<PgConn> conn_;  // writer thread only (after Start)
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> jobs_{0};
  std::atomic<uint64_t> retries_{0};
  Queue queue_;  // last: its threads stop first
};

}  // namespace parley::storage::postgres
