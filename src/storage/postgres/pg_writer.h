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
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/group_commit.h"
#include "storage/model.h"
#include "storage/postgres/pg_conn.h"

namespace parley::storage::postgres {

class PgWriter {
 public:
  static constexpr int kMaxAttempts = 8;
  static constexpr size_t kMaxPipeline = 256;  // statements sent before their answers are read

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

  // A job that is one statement, then `finish` with its answer (which may run more statements,
  // e.g. to read what a duplicate points at). Must be savepoint-free (it refuses without
  // writing, by its answer). Consecutive such jobs of a batch are pipelined: sent together,
  // answered together, one round trip for all of them.
  template <typename T>
  void SubmitStatement(std::string sql, std::vector<PgParam> params,
                       std::function<Result<T>(PgConn&, Result<PgResult>)> finish, Done<T> done,
                       JobOptions options) {
    options.savepoint = false;
    auto answer = std::make_shared<std::optional<Result<PgResult>>>();
    auto stmt = std::make_shared<const std::pair<std::string, std::vector<PgParam>>>(
        std::move(sql), std::move(params));
    auto send = [stmt, answer](PgConn* c) {
      answer->reset();
      if (!c) return;
      c->SendPipelined(stmt->first, stmt->second,
                       [answer](Result<PgResult> r) { answer->emplace(std::move(r)); });
    };
    auto run = [stmt, answer, finish = std::move(finish)](PgConn& c) -> Result<T> {
      Result<PgResult> r = answer->has_value() ? std::move(**answer) : c.Exec(stmt->first, stmt->second);
      answer->reset();
      return finish(c, std::move(r));
    };
    queue_.Submit<T>(std::move(run), std::move(done), std::move(options), std::move(send));
  }

  uint64_t batches() const { return batches_.load(std::memory_order_relaxed); }
  // Round trips of the writer's connection (statements, scripts, pipelines), all batches.
  uint64_t round_trips() const { return round_trips_.load(std::memory_order_relaxed); }
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
  Attempt RunJob(Queue::Job& job, bool savepoint_every_job);
  Status LockKeys(const std::deque<Queue::Job>& batch);
  bool EnsureConnected();

  const std::string url_;  // constant after construction
  std::unique_ptr<PgConn> conn_;  // writer thread only (after Start)
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> jobs_{0};
  std::atomic<uint64_t> retries_{0};
  std::atomic<uint64_t> round_trips_{0};
  uint64_t conn_round_trips_ = 0;  // writer thread: the current connection's count last seen
  Queue queue_;  // last: its threads stop first
};

}  // namespace parley::storage::postgres
