#include "storage/sqlite/writer.h"

#include "common/log.h"

namespace parley::storage::sqlite {

GroupCommitWriter::GroupCommitWriter(std::unique_ptr<SqliteConn> conn, size_t max_batch,
                                     WriteFaults faults)
    : conn_(std::move(conn)),
      faults_(faults),
      queue_(max_batch, [this](std::deque<Queue::Job>& batch) { RunBatch(batch); }) {}

GroupCommitWriter::~GroupCommitWriter() { Stop(); }

Status GroupCommitWriter::Start() {
  PARLEY_TRY(checkpointer_.Start(*conn_, "pd-checkpoint"));
  queue_.Start("pd-writer", "pd-complete");
  return OkStatus();
}

void GroupCommitWriter::Stop() {
  queue_.Stop();
  checkpointer_.Stop();
}

namespace {
// The transaction's own statements, prepared once (sqlite3_exec would compile them per job).
Status Run(SqliteConn& c, const char* sql) {
  Stmt s = c.Prepare(sql);
  auto r = s.Run();
  if (!r.ok()) return r.error();
  return OkStatus();
}
}  // namespace

void GroupCommitWriter::RunBatch(std::deque<Queue::Job>& batch) {
  Status begin = Run(*conn_, "BEGIN IMMEDIATE");
  if (!begin.ok()) {
    LogError("store begin failed", {{"error", begin.error().message}});
    queue_.Complete(batch, MakeError(ErrorCode::kUnavailable, "store unavailable"));
    return;
  }
  for (auto& job : batch) {
    Status sp = Run(*conn_, "SAVEPOINT job");
    if (!sp.ok()) {
      // Leave the job without a value; the failed commit below reports it.
      continue;
    }
    Status r = job.run(*conn_);
    if (!r.ok()) (void)Run(*conn_, "ROLLBACK TO job");
    (void)Run(*conn_, "RELEASE job");
  }
  ++commits_tried_;
  bool injected = commits_tried_ > faults_.fail_after &&
                  commits_tried_ - faults_.fail_after <= faults_.fail_count;
  Status commit = injected ? Status(MakeError(ErrorCode::kUnavailable,
                                              "database or disk is full (injected fault)"))
                           : Run(*conn_, "COMMIT");
  if (!commit.ok()) {
    LogError("store commit failed", {{"error", commit.error().message}});
    (void)conn_->Exec("ROLLBACK");
    commit = MakeError(ErrorCode::kUnavailable, "store could not commit");
  }
  batches_.fetch_add(1, std::memory_order_relaxed);
  jobs_.fetch_add(batch.size(), std::memory_order_relaxed);
  queue_.Complete(batch, commit);
  checkpointer_.AfterBatch();  // the acks are on their way: copy the WAL's tail now
}

}  // namespace parley::storage::sqlite
