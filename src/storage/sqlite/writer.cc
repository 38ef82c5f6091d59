#include "storage/sqlite/writer.h"

#include "common/log.h"

namespace parley::storage::sqlite {

GroupCommitWriter::GroupCommitWriter(std::unique_ptr<SqliteConn> conn, size_t max_batch,
                                     WriteFaults faults)
    : conn_(std::move(conn)),
      faults_(faults),
      queue_(max_batch, [this](std::deque<Queue::Job>& batch) { RunBatch(batch); }) {}

GroupCommitWriter::~GroupCommitWriter() { Stop(); }

void GroupCommitWriter::Start() { queue_.Start("pd-writer", "pd-complete"); }

void GroupCommitWriter::Stop() { queue_.Stop(); }

void GroupCommitWriter::RunBatch(std::deque<Queue::Job>& batch) {
  Status begin = conn_->Exec("BEGIN IMMEDIATE");
  if (!begin.ok()) {
    LogError("store begin failed", {{"error", begin.error().message}});
    queue_.Complete(batch, MakeError(ErrorCode::kUnavailable, "store unavailable"));
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
  queue_.Complete(batch, commit);
}

}  // namespace parley::storage::sqlite
