// PgWriter: the group-commit writer of the PostgreSQL adapter (same contract as
// sqlite::GroupCommitWriter in storage/sqlite/writer.h).
//
// One writer thread runs the queued jobs (up to max_batch) in ONE transaction, commits once, then
// hands the completions to a completion thread that runs them in commit order. A write is
// acknowledged only once committed.
//
// Several nodes write at once; what keeps their batches from deadlocking is the jobs' lock keys
// (JobOptions::lock_keys in storage/group_commit.h): before any job runs, the batch takes a
// transaction-level advisory lock on every key of its jobs (hashtextextended(key, 0)), in
// ascending hash order, in one statement. Two batches that share a conversation run one after
// the other; batches of different conversations run in parallel on every node. Jobs that touch
// conversation rows (appends, receipts, group changes, to-device queues) name their keys; jobs
// without keys (accounts, keys, media, audit, push) touch rows of one object each.
//
// A job runs inside its own SAVEPOINT, so a failing job rolls back alone, unless it says it needs
// none (JobOptions::savepoint = false: it refuses before writing and raises nothing); if such a
// job's statement fails anyway, the batch is rolled back and run again with a savepoint for every
// job. If a job or the COMMIT hits a serialization failure or deadlock (40001/40P01; a node of an
// older version, which took one cluster-wide lock instead of keys, can still deadlock with this
// one) the whole batch is rolled back and re-run, up to kMaxAttempts times; then every job gets
// kUnavailable. A lost connection is re-opened before the next attempt. Jobs must therefore be
// safe to re-run (they only touch the database, and their results are kept from the last attempt
// only). Submit is thread-safe; completions must not block. The queue and threads are
// storage/group_commit.h's; this class is how a PostgreSQL batch runs.
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
  void Submit(std::function<Result<T>(PgConn&)> fn, Done<T> done, JobOptions options = {}) {
    queue_.Submit<T>(std::move(fn), std::move(done), std::move(options));
  }

  uint64_t batches() const { return batches_.load(std::memory_order_relaxed); }
  // Per batch: transaction to commit. Per write: queued to committed.
  const Histogram& batch_seconds() const { return queue_.batch_seconds(); }
  const Histogram& write_seconds() const { return queue_.write_seconds(); }
  uint64_t jobs() const { return jobs_.load(std::memory_order_relaxed); }
  // Batches rolled back and re-run after a serialization failure or deadlock.
  uint64_t retries() const { return retries_.load(std::memory_order_relaxed); }

 private:
  using Queue = GroupCommitQueue<PgConn>;
  // kUnsafe: a job without a savepoint failed in SQL; run the batch again with savepoints.
  enum class Attempt { kCommitted, kRetry, kUnsafe, kFailed };
  void RunBatch(std::deque<Queue::Job>& batch);  // on the queue's writer thread
  Attempt TryBatch(std::deque<Queue::Job>& batch, bool savepoint_every_job);
  Status LockKeys(const std::deque<Queue::Job>& batch);
  bool EnsureConnected();

  const std::string url_;  // constant after construction
  std::unique_ptr<PgConn> conn_;  // writer thread only (after Start)
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> jobs_{0};
  std::atomic<uint64_t> retries_{0};
  Queue queue_;  // last: its threads stop first
};

}  // namespace parley::storage::postgres
