#include "storage/sqlite/writer.h"

#include <pthread.h>

#include "common/log.h"

namespace parley::storage::sqlite {

GroupCommitWriter::GroupCommitWriter(std::unique_ptr<SqliteConn> conn, size_t max_batch,
                                     WriteFaults faults)
    : conn_(std::move(conn)), max_batch_(max_batch), faults_(faults) {}

GroupCommitWriter::~GroupCommitWriter() { Stop(); }

void GroupCommitWriter::Start() {
  completion_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "pd-complete");
    CompletionLoop();
  });
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "pd-writer");
    Loop();
  });
}

void GroupCommitWriter::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(done_mu_);
    writer_exited_ = true;
  }
  done_cv_.notify_all();
  if (completion_thread_.joinable()) completion_thread_.join();
}

void GroupCommitWriter::Complete(std::deque<Job>& batch, const Status& status) {
  {
    std::lock_guard lock(done_mu_);
    done_.emplace_back(std::move(batch), status);
  }
  done_cv_.notify_one();
  batch.clear();
}

void GroupCommitWriter::CompletionLoop() {
  while (true) {
    std::pair<std::deque<Job>, Status> item;
    {
      std::unique_lock lock(done_mu_);
      done_cv_.wait(lock, [&] { return writer_exited_ || !done_.empty(); });
      if (done_.empty()) return;
      item = std::move(done_.front());
      done_.pop_front();
    }
    for (auto& job : item.first) job.complete(item.second);
  }
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
    Complete(batch, MakeError(ErrorCode::kUnavailable, "store unavailable"));
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
  ++commits_tried_;
  bool injected = commits_tried_ > faults_.fail_after &&
                  commits_tried_ - faults_.fail_after <= faults_.fail_count;
  Status commit = injected ? Status(MakeError(ErrorCode::kUnavailable,
                                              "database or disk is full (injected fault)"))
                           : conn_->Exec("COMMIT");
  if (!commit.ok()) {
    LogError("store commit failed", {{"error", commit.error().message}});
    (void)conn_->Exec("ROLLBACK");
    commit = MakeError(ErrorCode::kUnavailable, "store could not commit");
  }
  batches_.fetch_add(1, std::memory_order_relaxed);
  jobs_.fetch_add(batch.size(), std::memory_order_relaxed);
  Complete(batch, commit);
}

}  // namespace parley::storage::sqlite
