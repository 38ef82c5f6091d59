#include "storage/sqlite/writer.h"

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
}  // namespace

Status GroupCommitWriter::Start() {
  if (!redo_options_.path.empty()) {
    PARLEY_TRY(conn_->Exec(
        "CREATE TABLE IF NOT EXISTS redo_applied(id INTEGER PRIMARY KEY CHECK (id = 0), "
        "lsn INTEGER NOT NULL); INSERT OR IGNORE INTO redo_applied VALUES (0, 0)"));
    log_ = std::make_unique<RedoLog>();
    PARLEY_TRY(log_->Open(redo_options_.path));
    PARLEY_TRY(Recover());
    const uint64_t replayed = next_lsn_ - 1 - committed_lsn_.load();
    PARLEY_TRY(Commit());
    if (replayed > 0) LogInfo("store replayed its redo log", {{"records", replayed}});
    queue_.SetIdleTick(redo_options_.commit_every, [this] { return IdleTick(); });
  }
  PARLEY_TRY(checkpointer_.Start(*conn_, "pd-checkpoint"));
  queue_.Start("pd-writer", "pd-complete");
  return OkStatus();
}

void GroupCommitWriter::Stop() {
  queue_.Stop();  // runs every queued job; the writer thread has exited when it returns
  if (tx_open_ && !broken_) (void)Commit();
  {
    std::lock_guard lock(visible_mu_);
    stopped_ = true;
  }
  visible_cv_.notify_all();
  checkpointer_.Stop();
}

void GroupCommitWriter::AbandonForTest() {
  queue_.Stop();
  if (tx_open_) (void)conn_->Exec("ROLLBACK");
  tx_open_ = false;
  Stop();
}

bool GroupCommitWriter::InjectFault() {
  ++steps_tried_;
  return steps_tried_ > faults_.fail_after && steps_tried_ - faults_.fail_after <= faults_.fail_count;
}

Status GroupCommitWriter::Begin() {
  PARLEY_TRY(Run(*conn_, "BEGIN IMMEDIATE"));
  tx_open_ = true;
  tx_began_ = std::chrono::steady_clock::now();
  return OkStatus();
}

void GroupCommitWriter::SetCommitted(uint64_t lsn) {
  {
    std::lock_guard lock(visible_mu_);
    committed_lsn_.store(lsn, std::memory_order_release);
  }
  visible_cv_.notify_all();
}

Status GroupCommitWriter::Commit(bool injected) {
  const uint64_t last = next_lsn_ - 1;
  Status st = OkStatus();
  if (log_) {
    Stmt s = conn_->Prepare("UPDATE redo_applied SET lsn = ? WHERE id = 0");
    auto r = s.Bind(1, static_cast<int64_t>(last)).Run();
    if (!r.ok()) st = r.error();
  }
  if (st.ok()) {
    st = injected ? Status(MakeError(ErrorCode::kUnavailable,
                                     "database or disk is full (injected fault)"))
                  : Run(*conn_, "COMMIT");
  }
  if (!st.ok()) {
    LogError("store commit failed", {{"error", st.error().message}});
    (void)conn_->Exec("ROLLBACK");
    tx_open_ = false;
    if (log_) {
      // The log still holds every acknowledged write the rollback took away: put them back.
      Status rec = Recover();
      if (!rec.ok()) {
        broken_ = true;
        LogError("store cannot rebuild its acknowledged writes from the redo log; every write "
                 "fails until restart",
                 {{"error", rec.error().message}});
      }
    }
    return MakeError(ErrorCode::kUnavailable, "store could not commit");
  }
  tx_open_ = false;
  commits_.fetch_add(1, std::memory_order_relaxed);
  if (log_) {
    log_->Reset();
    SetCommitted(last);
  }
  checkpointer_.AfterBatch();  // the acks are on their way: copy the WAL's tail now
  return OkStatus();
}

Status GroupCommitWriter::Recover() {
  auto records = log_->Read();
  if (!records.ok()) return records.error();
  int64_t applied = 0;
  {
    Stmt s = conn_->Prepare("SELECT lsn FROM redo_applied WHERE id = 0");
    auto row = s.Step();
    if (!row.ok()) return row.error();
    if (*row) applied = s.Int(0);
  }
  PARLEY_TRY(Begin());
  uint64_t last = static_cast<uint64_t>(applied);
  for (const auto& r : *records) {
    if (r.lsn <= last) continue;
    Status st = OkStatus();
    auto replay = replays_.find(r.type);
    if (r.lsn != last + 1) {
      st = MakeError(ErrorCode::kInternal, "record " + std::to_string(r.lsn) +
                                               " follows " + std::to_string(last));
    } else if (replay == replays_.end()) {
      st = MakeError(ErrorCode::kInternal, "no replay for record type " + std::to_string(r.type));
    } else {
      RedoReader reader(r.payload);
      st = replay->second(*conn_, reader);
    }
    if (!st.ok()) {
      (void)conn_->Exec("ROLLBACK");
      tx_open_ = false;
      return MakeError(ErrorCode::kInternal, "redo log " + redo_options_.path + ": " +
                                                 st.error().message);
    }
    last = r.lsn;
  }
  next_lsn_ = last + 1;
  logged_lsn_.store(last, std::memory_order_release);
  SetCommitted(static_cast<uint64_t>(applied));
  return OkStatus();
}

bool GroupCommitWriter::IdleTick() {
  if (!tx_open_ || broken_) return false;
  if (commit_wanted_.exchange(false) ||
      std::chrono::steady_clock::now() - tx_began_ >= redo_options_.commit_every) {
    (void)Commit();
  }
  return tx_open_;  // a failed commit reopened it (Recover): try again
}

Status GroupCommitWriter::AwaitVisible() {
  const uint64_t target = logged_lsn_.load(std::memory_order_acquire);
  if (committed_lsn_.load(std::memory_order_acquire) >= target) return OkStatus();
  commit_wanted_.store(true);
  // Wakes an idle writer: the batch this empty job runs in commits.
  Submit<Unit>([](SqliteConn&) -> Result<Unit> { return Unit{}; }, [](Result<Unit>) {});
  std::unique_lock lock(visible_mu_);
  bool visible = visible_cv_.wait_for(lock, std::chrono::seconds(5), [&] {
    return stopped_ || committed_lsn_.load(std::memory_order_acquire) >= target;
  });
  if (!visible || committed_lsn_.load(std::memory_order_acquire) < target) {
    return MakeError(ErrorCode::kUnavailable, "store could not make recent writes visible");
  }
  return OkStatus();
}

void GroupCommitWriter::RunBatch(std::deque<Queue::Job>& batch) {
  batches_.fetch_add(1, std::memory_order_relaxed);
  jobs_.fetch_add(batch.size(), std::memory_order_relaxed);
  if (broken_) {
    queue_.Complete(batch, MakeError(ErrorCode::kUnavailable, "store unavailable"));
    return;
  }
  if (!tx_open_) {
    Status begin = Begin();
    if (!begin.ok()) {
      LogError("store begin failed", {{"error", begin.error().message}});
      queue_.Complete(batch, MakeError(ErrorCode::kUnavailable, "store unavailable"));
      return;
    }
  }
  const bool logging = log_ != nullptr;
  bool commit = !logging || commit_wanted_.exchange(false);
  std::string records;
  uint64_t lsn = next_lsn_;
  SqliteConn::RedoSink redo;
  sqlite3* db = conn_->raw();
  for (auto& job : batch) {
    if (!Run(*conn_, "SAVEPOINT job").ok()) continue;  // the job keeps no value: it fails
    redo.clear();
    conn_->SetRedoSink(logging ? &redo : nullptr);
    const int64_t before = sqlite3_total_changes64(db);
    Status r = job.run(*conn_);
    conn_->SetRedoSink(nullptr);
    if (!r.ok()) {
      (void)Run(*conn_, "ROLLBACK TO job");
    } else if (sqlite3_total_changes64(db) != before) {
      if (redo.empty()) commit = true;  // wrote what the log cannot redo
      for (auto& [type, payload] : redo) RedoLog::Encode(records, lsn++, type, payload);
    }
    (void)Run(*conn_, "RELEASE job");
  }
  if (logging && !commit &&
      (std::chrono::steady_clock::now() - tx_began_ >= redo_options_.commit_every ||
       log_->size() + records.size() > redo_options_.max_log_bytes)) {
    commit = true;
  }
  if (commit) {
    queue_.Complete(batch, Commit(InjectFault()));
    return;
  }
  if (records.empty()) {  // wrote nothing: nothing to make durable
    queue_.Complete(batch, OkStatus());
    return;
  }
  Status appended = InjectFault() ? Status(MakeError(ErrorCode::kUnavailable,
                                                     "disk is full (injected fault)"))
                                  : log_->Append(records);
  if (!appended.ok()) {
    LogError("store log append failed", {{"error", appended.error().message}});
    // Undo the batch: roll everything back and replay the log, which ends before it. (A savepoint
    // around each batch would cost every job of a long transaction more than this rare path.)
    (void)conn_->Exec("ROLLBACK");
    tx_open_ = false;
    if (Status rec = Recover(); !rec.ok()) {
      broken_ = true;
      LogError("store cannot rebuild its acknowledged writes from the redo log; every write "
               "fails until restart",
               {{"error", rec.error().message}});
    }
    commit_wanted_.store(true);  // the next batch commits what the log holds
    queue_.Complete(batch, MakeError(ErrorCode::kUnavailable, "store could not write its log"));
    return;
  }
  next_lsn_ = lsn;
  logged_lsn_.store(lsn - 1, std::memory_order_release);
  log_appends_.fetch_add(1, std::memory_order_relaxed);
  queue_.Complete(batch, OkStatus());
}

}  // namespace parley::storage::sqlite
