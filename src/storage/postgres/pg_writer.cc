// PgWriter: group commit with per-job savepoints and whole-batch retry. See pg_writer.h.
#include "storage/postgres/pg_writer.h"

#include <chrono>
#include <random>

#include "common/log.h"

namespace parley::storage::postgres {

PgWriter::PgWriter(std::string url, size_t max_batch)
    : url_(std::move(url)),
      queue_(max_batch, [this](std::deque<Queue::Job>& batch) { RunBatch(batch); }) {}

PgWriter::~PgWriter() { Stop(); }

Status PgWriter::Start() {
  auto conn = PgConn::Connect(url_);
  if (!conn.ok()) return conn.error();
  conn_ = std::move(*conn);
  queue_.Start("pd-pg-writer", "pd-pg-complete");
  return OkStatus();
}

void PgWriter::Stop() { queue_.Stop(); }

bool PgWriter::EnsureConnected() {
  if (conn_ && conn_->healthy()) return true;
  conn_.reset();
  auto conn = PgConn::Connect(url_);
  if (!conn.ok()) {
    LogError("postgres writer cannot reconnect", {{"error", conn.error().message}});
    return false;
  }
  conn_ = std::move(*conn);
  return true;
}

PgWriter::Attempt PgWriter::TryBatch(std::deque<Queue::Job>& batch) {
  conn_->ClearRetryable();
  Status begin = conn_->Run("BEGIN");
  // One writer batch at a time across every node: batches lock many conversation rows, and two
  // nodes locking them in different orders deadlock (PostgreSQL then stalls both for
  // deadlock_timeout before aborting one). Held until COMMIT/ROLLBACK.
  if (begin.ok()) begin = conn_->Run("SELECT pg_advisory_xact_lock(5063128101)");
  if (!begin.ok()) {
    LogError("postgres begin failed", {{"error", begin.error().message}});
    return conn_->healthy() ? Attempt::kFailed : Attempt::kRetry;
  }
  for (auto& job : batch) {
    Status sp = conn_->Run("SAVEPOINT job");
    if (sp.ok()) {
      Status r = job.run(*conn_);
      if (!r.ok()) sp = conn_->Run("ROLLBACK TO SAVEPOINT job");
      if (sp.ok()) sp = conn_->Run("RELEASE SAVEPOINT job");
    }
    // A deadlock or serialization failure (even one a job swallowed), or a lost link: the
    // transaction cannot commit as it is; roll it all back and run the batch again.
    if (conn_->saw_retryable() || !conn_->healthy()) {
      if (conn_->healthy()) (void)conn_->Run("ROLLBACK");
      return Attempt::kRetry;
    }
    if (!sp.ok()) {
      LogError("postgres savepoint failed", {{"error", sp.error().message}});
      (void)conn_->Run("ROLLBACK");
      return Attempt::kFailed;
    }
  }
  Status commit = conn_->Run("COMMIT");
  if (commit.ok()) return Attempt::kCommitted;
  if (IsRetryable(commit.error())) return Attempt::kRetry;  // the server rolled it back
  // Anything else, including a link lost during COMMIT: the outcome is unknown, so the batch
  // must not run twice.
  LogError("postgres commit failed", {{"error", commit.error().message}});
  if (conn_->healthy()) (void)conn_->Run("ROLLBACK");
  return Attempt::kFailed;
}

void PgWriter::RunBatch(std::deque<Queue::Job>& batch) {
  thread_local std::minstd_rand rng(std::random_device{}());
  Status outcome = MakeError(ErrorCode::kUnavailable, "store unavailable");
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (attempt > 0) {
      retries_.fetch_add(1, std::memory_order_relaxed);
      // Back off with jitter so two nodes that deadlocked do not collide again at once.
      std::uniform_int_distribution<int> jitter(1, 10 * attempt);
      std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng)));
    }
    if (!EnsureConnected()) continue;
    Attempt a = TryBatch(batch);
    if (a == Attempt::kCommitted) {
      outcome = OkStatus();
      break;
    }
    if (a == Attempt::kFailed) {
      outcome = MakeError(ErrorCode::kUnavailable, "store could not commit");
      break;
    }
  }
  batches_.fetch_add(1, std::memory_order_relaxed);
  jobs_.fetch_add(batch.size(), std::memory_order_relaxed);
  queue_.Complete(batch, outcome);
}

}  // namespace parley::storage::postgres
