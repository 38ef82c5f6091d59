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

bool GroupCommitWriter::RunJob(Queue::Job& job, bool savepoint) {
  if (savepoint && !Run(*conn_, "SAVEPOINT job").ok()) return true;  // the commit reports it
  const auto before = sqlite3_total_changes64(conn_->raw());
  Status r = job.run(*conn_);
  if (savepoint) {
    if (!r.ok()) (void)Run(*conn_, "ROLLBACK TO job");
    (void)Run(*conn_, "RELEASE job");
    return true;
  }
  return r.ok() || sqlite3_total_changes64(conn_->raw()) == before;
}

GroupCommitWriter::Ran GroupCommitWriter::RunJobs(std::deque<Queue::Job>& batch, bool careful) {
  Status begin = Run(*conn_, "BEGIN IMMEDIATE");
  if (!begin.ok()) {
    LogError("store begin failed", {{"error", begin.error().message}});
    return Ran::kFailed;
  }
  for (auto& job : batch) {
    const bool hot = job.options.keeps_writer_state;
    if (!hot) {
      // Other jobs see and may change the rows the state mirrors.
      if (Status f = state_.Flush(*conn_); !f.ok()) {
        LogError("store state write failed", {{"error", f.error().message}});
        return Ran::kFailed;
      }
      state_.Clear();
    }
    if (!RunJob(job, careful || job.options.savepoint)) return Ran::kAgainCarefully;
    if (hot && state_.TakeColdWanted()) {
      if (Status f = state_.Flush(*conn_); !f.ok()) {
        LogError("store state write failed", {{"error", f.error().message}});
        return Ran::kFailed;
      }
      state_.Clear();
      cold_ = true;
      (void)RunJob(job, true);
      cold_ = false;
    }
  }
  if (Status f = state_.Flush(*conn_); !f.ok()) {
    LogError("store state write failed", {{"error", f.error().message}});
    return Ran::kFailed;
  }
  return Ran::kAll;
}

void GroupCommitWriter::RunBatch(std::deque<Queue::Job>& batch) {
  if (faults_.before_batch) faults_.before_batch();
  Ran ran = RunJobs(batch, /*careful=*/false);
  if (ran == Ran::kAgainCarefully) {
    // A job failed after writing, without a savepoint: undo the batch, run it job by job.
    (void)conn_->Exec("ROLLBACK");
    state_.Clear();
    ran = RunJobs(batch, /*careful=*/true);
  }
  Status commit = OkStatus();
  if (ran != Ran::kAll) {
    commit = MakeError(ErrorCode::kUnavailable, "store unavailable");
  } else {
    ++commits_tried_;
    bool injected = commits_tried_ > faults_.fail_after &&
                    commits_tried_ - faults_.fail_after <= faults_.fail_count;
    commit = injected ? Status(MakeError(ErrorCode::kUnavailable,
                                         "database or disk is full (injected fault)"))
                      : Run(*conn_, "COMMIT");
    if (!commit.ok()) {
      LogError("store commit failed", {{"error", commit.error().message}});
      commit = MakeError(ErrorCode::kUnavailable, "store could not commit");
    }
  }
  if (!commit.ok()) {
    if (!sqlite3_get_autocommit(conn_->raw())) (void)conn_->Exec("ROLLBACK");
    state_.Clear();
  } else {
    state_.Trim();
  }
  batches_.fetch_add(1, std::memory_order_relaxed);
  jobs_.fetch_add(batch.size(), std::memory_order_relaxed);
  queue_.Complete(batch, commit);
  checkpointer_.AfterBatch();  // the acks are on their way: copy the WAL's tail now
}

}  // namespace parley::storage::sqlite
