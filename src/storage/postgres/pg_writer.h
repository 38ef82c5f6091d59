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
// last attempt only). Submit is thread-safe; completions must not block.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

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
    auto slot = std::make_shared<std::optional<Result<T>>>();
    Job job;
    job.run = [fn = std::move(fn), slot](PgConn& c) -> Status {
      slot->reset();
      slot->emplace(fn(c));
      if (!(*slot)->ok()) return (*slot)->error();
      return OkStatus();
    };
    job.complete = [slot, done = std::move(done)](const Status& commit) {
      if (!commit.ok()) {
        done(commit.error());
      } else if (!slot->has_value()) {
        done(MakeError(ErrorCode::kUnavailable, "store could not run the write"));
      } else {
        done(std::move(**slot));
      }
    };
    Enqueue(std::move(job));
  }

  uint64_t batches() const { return batches_.load(std::memory_order_relaxed); }
  uint64_t jobs() const { return jobs_.load(std::memory_order_relaxed); }
  // Batches rolled back and re-run after a serialization failure or deadlock.
  uint64_t retries() const { return retries_.load(std::memory_order_relaxed); }

 private:
  struct Job {
    std::function<Status(PgConn&)> run;
    std::function<void(const Status&)> complete;
  };
  enum class Attempt { kCommitted, kRetry, kFailed };
  void Enqueue(Job job);
  void Loop();
  void RunBatch(std::deque<Job>& batch);
  Attempt TryBatch(std::deque<Job>& batch);
  bool EnsureConnected();
  void Complete(std::deque<Job>& batch, const Status& status);
  void CompletionLoop();

  const std::string url_;  // constant after construction
  const size_t max_batch_;
  std::unique_ptr<PgConn> conn_;  // writer thread only (after Start)
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;  // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  bool exited_ = false;    // guarded by mu_
  std::thread thread_;
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  std::deque<std::pair<std::deque<Job>, Status>> done_;  // guarded by done_mu_
  bool writer_exited_ = false;                            // guarded by done_mu_
  std::thread completion_thread_;
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> jobs_{0};
  std::atomic<uint64_t> retries_{0};
};

}  // namespace parley::storage::postgres
