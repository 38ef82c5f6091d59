#include "storage/sqlite/writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace parley::storage::sqlite {

GroupCommitWriter::GroupCommitWriter(std::unique_ptr<SqliteConn> conn, size_t max_batch,
                                     WriteFaults faults, RedoOptions redo)
    : conn_(std::move(conn)),
      faults_(faults),
      redo_options_(std::move(redo)),
      queue_(max_batch, [this](std::deque<Queue::Job>& batch) { RunBatch(batch); }) {}

GroupCommitWriter::~GroupCommitWriter() { Stop(); }

namespace {
// The transaction's own statements, prepared once (sqlite3_exec would compile them per job).
Status Run(SqliteConn& c, const char* sql) {
  Stmt s = c.Prepare(sql);
  auto r = s.Run();
  if (!r.ok()) return r.error();
  return OkStatus();
}

Status SetSync(SqliteConn& c, std::string_view mode) {
  return c.Exec(mode == "normal" ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL");
}

// Makes what the connection committed durable: its WAL's data on disk (a commit under
// synchronous=NORMAL only wrote it; what checkpoints moved to the database file they synced).
Status SyncWal(SqliteConn& c) {
  const std::string wal = std::string(sqlite3_db_filename(c.raw(), "main")) + "-wal";
  const int fd = ::open(wal.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return OkStatus();  // no WAL: everything is in the database
  if (fd < 0)
    return MakeError(ErrorCode::kUnavailable, "open " + wal + ": " + std::strerror(errno));
  const int rc = ::fdatasync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0)
    return MakeError(ErrorCode::kUnavailable, "fdatasync " + wal + ": " + std::strerror(err));
  return OkStatus();
}
}  // namespace

Status GroupCommitWriter::Start() {
  if (!redo_options_.path.empty()) {
    PARLEY_TRY(EnsureRedoState(*conn_));
    auto applied = AppliedLsn(*conn_);
    if (!applied.ok()) return applied.error();
    auto last = RedoLog::Replay(redo_options_.path, *conn_, *applied);
    if (!last.ok()) return last.error();
    auto log = RedoLog::Open(redo_options_.path, redo_options_.durable_sync != "normal");
    if (!log.ok()) return log.error();
    log_ = std::move(*log);
    PARLEY_TRY(ResetLog());  // everything it held is in the database
    next_lsn_ = *last + 1;
    logged_lsn_ = *last;
    projected_lsn_ = *last;
    // Projection commits need no fsync: the log holds what they write until a durable commit.
    PARLEY_TRY(SetSync(*conn_, "normal"));
    queue_.SetIdle(redo_options_.idle, [this] { MaybeCommitProjection(/*force=*/true); });
  }
  checkpointer_.SetBackgroundOnly(log_ != nullptr);
  PARLEY_TRY(checkpointer_.Start(*conn_, "pd-checkpoint"));
  queue_.Start("pd-writer", "pd-complete");
  return OkStatus();
}

void GroupCommitWriter::Stop() {
  queue_.Stop();
  // The writer thread has ended: its connection is this thread's now.
  if (log_ && open_ && !broken_) MaybeCommitProjection(/*force=*/true, /*durable=*/true);
  {
    std::lock_guard lock(barrier_mu_);
    stopped_ = true;
  }
  barrier_cv_.notify_all();
  checkpointer_.Stop();
}

Status GroupCommitWriter::AwaitProjected() {
  if (!log_) return OkStatus();
  if (std::this_thread::get_id() == writer_thread_.load(std::memory_order_relaxed))
    return MakeError(ErrorCode::kInternal, "a store read from inside a write");  // would deadlock
  const uint64_t target = logged_lsn_.load(std::memory_order_acquire);
  if (projected_lsn_.load(std::memory_order_acquire) >= target) return OkStatus();
  bool wake = false;
  {
    std::lock_guard lock(barrier_mu_);
    if (!barrier_wanted_) wake = barrier_wanted_ = true;
  }
  // A job wakes the writer; the commit follows the batch it runs in.
  if (wake) SubmitHot<Unit>([](SqliteConn&, HotState*) -> Result<Unit> { return Unit{}; },
                            [](Result<Unit>) {});
  std::unique_lock lock(barrier_mu_);
  const bool done = barrier_cv_.wait_for(lock, std::chrono::seconds(30), [&] {
    return projected_lsn_.load(std::memory_order_acquire) >= target || stopped_ ||
           broken_.load();
  });
  if (done && projected_lsn_.load(std::memory_order_acquire) >= target) return OkStatus();
  return MakeError(ErrorCode::kUnavailable, "store unavailable");
}

bool GroupCommitWriter::RunJob(Queue::Job& job, bool savepoint) {
  const RedoBuffer::Mark mark = redo_.mark();
  RedoBuffer* recording = conn_->redo();
  if (savepoint) {
    conn_->SetRedo(nullptr);
    if (!Run(*conn_, "SAVEPOINT job").ok()) {
      conn_->SetRedo(recording);
      return true;  // the commit reports it
    }
    conn_->SetRedo(recording);
  }
  const auto before = sqlite3_total_changes64(conn_->raw());
  Status r = job.run(*conn_);
  if (savepoint) {
    conn_->SetRedo(nullptr);
    if (!r.ok()) {
      (void)Run(*conn_, "ROLLBACK TO job");
      redo_.RollbackTo(mark);
    }
    (void)Run(*conn_, "RELEASE job");
    conn_->SetRedo(recording);
    return true;
  }
  return r.ok() || sqlite3_total_changes64(conn_->raw()) == before;
}

GroupCommitWriter::Ran GroupCommitWriter::RunJobs(std::deque<Queue::Job>& batch, bool careful) {
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

bool GroupCommitWriter::InjectedFault() {
  ++commits_tried_;
  return commits_tried_ > faults_.fail_after &&
         commits_tried_ - faults_.fail_after <= faults_.fail_count;
}

bool GroupCommitWriter::IsHotOnly(const std::deque<Queue::Job>& batch) const {
  for (const auto& job : batch)
    if (!job.options.keeps_writer_state) return false;
  return true;
}

void GroupCommitWriter::RunBatch(std::deque<Queue::Job>& batch) {
  writer_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  if (faults_.before_batch) faults_.before_batch();
  if (broken_) {
    queue_.Complete(batch, MakeError(ErrorCode::kUnavailable, "store unavailable"));
    return;
  }
  if (log_ && IsHotOnly(batch)) {
    RunLogged(batch);
    return;
  }
  if (open_) {
    MaybeCommitProjection(/*force=*/true);  // this batch must see, and follow, the projection
    if (broken_) {
      queue_.Complete(batch, MakeError(ErrorCode::kUnavailable, "store unavailable"));
      return;
    }
  }
  RunDurable(batch);
}

void GroupCommitWriter::RunDurable(std::deque<Queue::Job>& batch) {
  if (log_) (void)SetSync(*conn_, redo_options_.durable_sync);
  Status begin = Run(*conn_, "BEGIN IMMEDIATE");
  Ran ran = Ran::kFailed;
  if (!begin.ok()) {
    LogError("store begin failed", {{"error", begin.error().message}});
  } else {
    ran = RunJobs(batch, /*careful=*/false);
    if (ran == Ran::kAgainCarefully) {
      // A job failed after writing, without a savepoint: undo the batch, run it job by job.
      (void)conn_->Exec("ROLLBACK");
      state_.Clear();
      begin = Run(*conn_, "BEGIN IMMEDIATE");
      ran = begin.ok() ? RunJobs(batch, /*careful=*/true) : Ran::kFailed;
    }
  }
  Status commit = OkStatus();
  if (ran != Ran::kAll) {
    commit = MakeError(ErrorCode::kUnavailable, "store unavailable");
  } else {
    commit = InjectedFault() ? Status(MakeError(ErrorCode::kUnavailable,
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
  if (log_) {
    (void)SetSync(*conn_, "normal");
    // A durable commit carries every projection before it: the log's records are all held.
    if (commit.ok()) (void)ResetLog();
  }
  batches_.fetch_add(1, std::memory_order_relaxed);
  jobs_.fetch_add(batch.size(), std::memory_order_relaxed);
  queue_.Complete(batch, commit);
  checkpointer_.AfterBatch();  // the acks are on their way: copy the WAL's tail now
}

void GroupCommitWriter::RunLogged(std::deque<Queue::Job>& batch) {
  Status st = OkStatus();
  if (!open_) {
    st = Run(*conn_, "BEGIN IMMEDIATE");
    if (st.ok()) {
      open_ = true;
      opened_at_ = std::chrono::steady_clock::now();
      projected_statements_ = 0;
    } else {
      LogError("store begin failed", {{"error", st.error().message}});
    }
  }
  if (st.ok()) st = Run(*conn_, "SAVEPOINT batch");
  if (st.ok()) {
    redo_.Clear();
    conn_->SetRedo(&redo_);
    Ran ran = RunJobs(batch, /*careful=*/false);
    if (ran == Ran::kAgainCarefully) {
      // A job failed after writing, without a savepoint: undo the batch, run it job by job.
      conn_->SetRedo(nullptr);
      (void)Run(*conn_, "ROLLBACK TO batch");
      state_.Clear();
      redo_.Clear();
      conn_->SetRedo(&redo_);
      ran = RunJobs(batch, /*careful=*/true);
    }
    conn_->SetRedo(nullptr);
    if (ran != Ran::kAll) {
      st = MakeError(ErrorCode::kUnavailable, "store unavailable");
    } else if (!redo_.empty()) {
      if (InjectedFault()) {
        st = MakeError(ErrorCode::kUnavailable, "database or disk is full (injected fault)");
      } else {
        st = log_->Append(redo_.Encode(next_lsn_));
      }
      if (!st.ok()) {
        LogError("store commit failed", {{"error", st.error().message}});
        st = MakeError(ErrorCode::kUnavailable, "store could not commit");
      }
    }
    if (!st.ok()) {
      if (!Run(*conn_, "ROLLBACK TO batch").ok()) {
        // The batch's writes cannot be taken back alone: start the projection over from the log.
        queue_.Complete(batch, st);
        RecoverProjection();
        return;
      }
      state_.Clear();
    } else if (!redo_.empty()) {
      logged_lsn_.store(next_lsn_++, std::memory_order_release);
      projected_statements_ += redo_.statements();
    }
    (void)Run(*conn_, "RELEASE batch");
  }
  if (st.ok()) state_.Trim();
  batches_.fetch_add(1, std::memory_order_relaxed);
  jobs_.fetch_add(batch.size(), std::memory_order_relaxed);
  queue_.Complete(batch, st);
  MaybeCommitProjection(/*force=*/false);
}

void GroupCommitWriter::MaybeCommitProjection(bool force, bool durable) {
  if (!open_) return;
  bool asked = false;
  {
    std::lock_guard lock(barrier_mu_);
    asked = std::exchange(barrier_wanted_, false);
  }
  durable = durable || log_->bytes() >= kMaxLogBytes;
  if (!force && !asked && !durable && projected_statements_ < kProjectionMaxStatements) {
    const auto age = std::chrono::steady_clock::now() - opened_at_;
    // Early commits (no job waits) take about a tenth of the writer's time at most: the
    // transaction is at least ten times as old as a commit takes (a moving average). Under load
    // commits grow, and so does the wait before an early one, up to max_age.
    const auto early = std::clamp<std::chrono::steady_clock::duration>(
        10 * projection_commit_avg_, redo_options_.quiet_age, redo_options_.max_age);
    if (age < early) return;
    if (age < redo_options_.max_age && queue_.HasQueued()) return;
  }
  const uint64_t lsn = logged_lsn_.load(std::memory_order_relaxed);
  const auto started = std::chrono::steady_clock::now();
  Status st = SetAppliedLsn(*conn_, lsn);
  if (st.ok()) {
    st = ++projection_commits_tried_ <= faults_.fail_projection_commits
             ? Status(MakeError(ErrorCode::kUnavailable, "disk I/O error (injected fault)"))
             : Run(*conn_, "COMMIT");
  }
  if (!st.ok()) {
    LogError("store projection commit failed", {{"error", st.error().message}});
    RecoverProjection();
    return;
  }
  open_ = false;
  const auto took = std::chrono::steady_clock::now() - started;
  projection_commit_avg_ += (took - projection_commit_avg_) / 8;
  projection_commits_.fetch_add(1, std::memory_order_relaxed);
  SetProjected(lsn);
  // The log may start over once the database holds its records durably.
  if (durable) (void)ResetLog();
  checkpointer_.AfterBatch();
}

void GroupCommitWriter::RecoverProjection() {
  if (!sqlite3_get_autocommit(conn_->raw())) (void)conn_->Exec("ROLLBACK");
  open_ = false;
  state_.Clear();
  (void)SetSync(*conn_, redo_options_.durable_sync);
  auto applied = AppliedLsn(*conn_);
  auto last = applied.ok() ? RedoLog::Replay(redo_options_.path, *conn_, *applied)
                           : Result<uint64_t>(applied.error());
  (void)SetSync(*conn_, "normal");
  if (!last.ok() || *last != logged_lsn_.load()) {
    LogError("store cannot apply its redo log: every write is refused until parleyd restarts",
             {{"error", last.ok() ? std::string("the log ends early") : last.error().message}});
    {
      std::lock_guard lock(barrier_mu_);
      broken_ = true;
    }
    barrier_cv_.notify_all();
    return;
  }
  if (Status r = ResetLog(); !r.ok())
    LogWarn("redo log could not start over", {{"error", r.error().message}});
  projection_commits_.fetch_add(1, std::memory_order_relaxed);
  SetProjected(*last);
}

Status GroupCommitWriter::ResetLog() {
  // What the database holds may still be only in the page cache (commits under
  // synchronous=NORMAL, of this process or of one killed before it; a commit that wrote nothing
  // syncs nothing): its WAL goes to disk before the records that can restore it go away.
  if (redo_options_.durable_sync != "normal") PARLEY_TRY(SyncWal(*conn_));
  return log_->Reset();
}

void GroupCommitWriter::SetProjected(uint64_t lsn) {
  {
    std::lock_guard lock(barrier_mu_);
    projected_lsn_.store(lsn, std::memory_order_release);
  }
  barrier_cv_.notify_all();
}

}  // namespace parley::storage::sqlite
