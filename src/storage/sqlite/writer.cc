#include "storage/sqlite/writer.h"

#include "common/log.h"

namespace parley::storage::sqlite {

GroupCommitWriter::GroupCommitWriter(std::unique_ptr<SqliteConn> conn, size_t max_batch)
    : conn_(std::move(conn)), max_batch_(max_batch) {}

GroupCommitWriter::~GroupCommitWriter() { Stop(); }

void GroupCommitWriter::Start() { thread_ = std::thread([this] { Loop(); }); }

void GroupCommitWriter::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void GroupCommitWriter::Enqueue(Job job) {
  {
    std::lock_guard lock(mu_);
    if (!exited_) {
      queue_.push_back(std::move(job));
      cv_.notify_one();
      return;
    }
  }
  job.complete(MakeError(ErrorCode::kUnavailable, "store is shut down"));
}

void GroupCommitWriter::Loop() {
  std::deque<Job> batch;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) {
        exited_ = true;
        return;
      }
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    RunBatch(batch);
    batch.clear();
  }
}

void GroupCommitWriter::RunBatch(std::deque<Job>& batch) {
  Status begin = conn_->Exec("BEGIN IMMEDIATE");
  if (!begin.ok()) {
    LogError("store begin failed", {{"error", begin.error().message}});
    for (auto& job : batch) job.complete(MakeError(ErrorCode::kUnavailable, "store unavailable"));
    return;
  }
  for (auto& job : batch) {
    Status sp = conn_->Exec("SAVEPOINT job");
    if (!sp.ok()) {
      // Leave the job without a value; the failed commit below reports it.
      continue;
    }
    Status r = job.run(*conn_);
    if (!r.ok()) (void)conn_->Exec("ROLLBACK TO job");
    (void)conn_->Exec("RELEASE job");
  }
  Status commit = conn_->Exec("COMMIT");
  if (!commit.ok()) {
    LogError("store commit failed", {{"error", commit.error().message}});
    (void)conn_->Exec("ROLLBACK");
    commit = MakeError(ErrorCode::kUnavailable, "store could not commit");
  }
  batches_.fetch_add(1, std::memory_order_relaxed);
  jobs_.fetch_add(batch.size(), std::memory_order_relaxed);
  for (auto& job : batch) job.complete(commit);
}

}  // namespace parley::storage::sqlite
