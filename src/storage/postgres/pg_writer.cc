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
  conn_round_trips_ = 0;
  return true;
}

Status PgWriter::LockKeys(const std::deque<Queue::Job>& batch) {
  std::vector<std::string> keys;
  for (const auto& job : batch)
    keys.insert(keys.end(), job.options.lock_keys.begin(), job.options.lock_keys.end());
  if (keys.empty()) return OkStatus();
  // Every node takes its keys in the same (hash) order, so two batches never wait on each other
  // in a cycle. The subquery's ORDER BY fixes the order in which the outer query calls the lock.
  auto r = conn_->Exec(
      "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended(k, 0) AS h "
      "FROM unnest($1::text[]) AS k ORDER BY h) AS keys",
      {TextArray(keys)});
  if (!r.ok()) return r.error();
  return OkStatus();
}

// One job inside the batch's transaction. kCommitted here means "go on with the next job".
PgWriter::Attempt PgWriter::RunJob(Queue::Job& job, bool savepoint_every_job) {
  Status sp = OkStatus();
  if (savepoint_every_job || job.options.savepoint) {
    sp = conn_->Run("SAVEPOINT job");
    if (sp.ok()) {
      Status r = job.run(*conn_);
      if (!r.ok()) sp = conn_->Run("ROLLBACK TO SAVEPOINT job");
      if (sp.ok()) sp = conn_->Run("RELEASE SAVEPOINT job");
    }
  } else {
    (void)job.run(*conn_);  // its result is kept by the job; a refusal leaves nothing behind
  }
  // A deadlock or serialization failure (even one a job swallowed), or a lost link: the
  // transaction cannot commit as it is; roll it all back and run the batch again.
  if (conn_->saw_retryable() || !conn_->healthy()) {
    if (conn_->healthy()) (void)conn_->Run("ROLLBACK");
    return Attempt::kRetry;
  }
  if (conn_->in_failed_transaction() && sp.ok()) {
    // A job without a savepoint failed in SQL: the transaction is lost with everything the
    // batch wrote; the batch runs again with savepoints, so that job fails alone.
    (void)conn_->Run("ROLLBACK");
    return Attempt::kUnsafe;
  }
  if (!sp.ok()) {
    LogError("postgres savepoint failed", {{"error", sp.error().message}});
    (void)conn_->Run("ROLLBACK");
    return Attempt::kFailed;
  }
  return Attempt::kCommitted;
}

PgWriter::Attempt PgWriter::TryBatch(std::deque<Queue::Job>& batch, bool savepoint_every_job) {
  conn_->ClearRetryable();
  for (auto& job : batch)
    if (job.send) job.send(nullptr);  // answers an earlier attempt left unused are stale
  Status begin = conn_->Run("BEGIN");
  if (begin.ok()) begin = LockKeys(batch);  // held until COMMIT/ROLLBACK
  if (!begin.ok()) {
    LogError("postgres begin failed", {{"error", begin.error().message}});
    if (conn_->saw_retryable()) {
      if (conn_->healthy()) (void)conn_->Run("ROLLBACK");
      return Attempt::kRetry;
    }
    return conn_->healthy() ? Attempt::kFailed : Attempt::kRetry;
  }
  for (size_t i = 0; i < batch.size();) {
    // Consecutive pipelinable jobs: their statements leave together and are answered together.
    size_t end = i;
    if (!savepoint_every_job) {
      while (end < batch.size() && batch[end].send && end - i < kMaxPipeline) ++end;
    }
    if (end > i + 1) {
      if (Status b = conn_->BeginPipeline(); !b.ok()) {
        LogError("postgres pipeline failed", {{"error", b.error().message}});
        return conn_->healthy() ? Attempt::kFailed : Attempt::kRetry;
      }
      for (size_t j = i; j < end; ++j) batch[j].send(conn_.get());
      Status finished = conn_->FinishPipeline();
      if (!finished.ok()) return Attempt::kRetry;  // the link is gone; the batch runs again
    } else {
      end = i + 1;
    }
    for (size_t j = i; j < end; ++j) {
      Attempt a = RunJob(batch[j], savepoint_every_job);
      if (a != Attempt::kCommitted) return a;
    }
    i = end;
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
  bool savepoint_every_job = false;
  bool back_off = false;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (back_off) {
      retries_.fetch_add(1, std::memory_order_relaxed);
      // Back off with jitter so two nodes that deadlocked do not collide again at once.
      std::uniform_int_distribution<int> jitter(1, 10 * attempt);
      std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng)));
    }
    back_off = true;
    if (!EnsureConnected()) continue;
    Attempt a = TryBatch(batch, savepoint_every_job);
    if (a == Attempt::kUnsafe) {
      // Not a conflict: run again at once, with a savepoint for every job from now on (so this
      // cannot happen twice).
      savepoint_every_job = true;
      back_off = false;
      --attempt;
      continue;
    }
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
  if (conn_) {
    round_trips_.fetch_add(conn_->round_trips() - conn_round_trips_, std::memory_order_relaxed);
    conn_round_trips_ = conn_->round_trips();
  }
  queue_.Complete(batch, outcome);
}

}  // namespace parley::storage::postgres
