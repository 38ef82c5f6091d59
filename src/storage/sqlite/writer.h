// GroupCommitWriter: the single thread that writes a SQLite database.
//
// Jobs queue up while the writer is busy; the writer then runs every queued job (up to
// max_batch) as one batch, each job inside its own savepoint so a failing job rolls back alone,
// makes the batch durable once, and only then calls each job's completion, in order, on a
// completion thread (while the writer already runs the next batch; completions must not block).
// So a write is acknowledged only once durable, and all writes that arrived during one durable
// step share the next (group commit). If that step fails (I/O error, full disk) every job of the
// batch gets kUnavailable and nothing of the batch stays.
//
// How a batch becomes durable:
// - Without a redo log (RedoOptions::path empty): its transaction commits (synchronous=FULL).
// - With one: the writer keeps ONE transaction open across batches. A batch whose jobs all
//   logged what they wrote (SqliteConn::Redo) appends those records to the log with one pwrite
//   and one fdatasync, and is acknowledged; the transaction commits later, every
//   `commit_every` (or when the log passes `max_log_bytes`), then the log starts over. So the
//   database pages a write dirties are written once per commit, for many batches, instead of
//   once per batch. A batch with a job that wrote without logging commits at once (with every
//   logged write before it). A commit (batch or idle tick) records the last lsn it contains in
//   the database (table redo_applied); Start replays the log's later records before anything
//   else runs (after a crash: the acknowledged writes the last commit did not contain), and a
//   failed commit does the same in the running process. Replaying a record runs the job's
//   registered Replay on the state the job ran on, so it writes exactly what the job wrote.
// - Readers see only committed data: AwaitVisible makes every write acknowledged so far visible
//   (asking for a commit and waiting for it when some are only in the log). A reader of a table
//   that logged jobs write calls it first.
// WAL checkpoints run beside the writer (WalCheckpointer), never inside a commit.
//
// Submit is thread-safe, as is AwaitVisible (not from the writer thread: a job uses its
// connection). The queue and threads are storage/group_commit.h's; this class is how a SQLite
// batch runs.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "storage/group_commit.h"
#include "storage/model.h"
#include "storage/sqlite/checkpointer.h"
#include "storage/sqlite/conn.h"
#include "storage/sqlite/redo_log.h"

namespace parley::storage::sqlite {

// Test-only fault injection: the durable steps (log appends and commits) numbered fail_after+1 …
// fail_after+fail_count (counted from Start) fail as on a full disk: the batch is rolled back and
// every job gets kUnavailable. parleyd sets it only when PARLEY_ENABLE_FAULT_INJECTION=1
// (tests/integration/test_crash.py).
struct WriteFaults {
  uint64_t fail_after = 0;
  uint64_t fail_count = 0;  // 0 = no faults
};

struct RedoOptions {
  std::string path;  // the log file; empty: no log, every batch commits
  std::chrono::milliseconds commit_every{10};
  uint64_t max_log_bytes = 32u << 20;
};

class GroupCommitWriter {
 public:
  // Redoes one logged write: reads the payload the job gave SqliteConn::Redo and writes what
  // the job wrote, on the connection's open transaction.
  using Replay = std::function<Status(SqliteConn&, RedoReader&)>;

  GroupCommitWriter(std::unique_ptr<SqliteConn> conn, size_t max_batch, WriteFaults faults = {},
                    RedoOptions redo = {});
  ~GroupCommitWriter();

  // Before Start: how records of `type` are replayed.
  void RegisterReplay(uint8_t type, Replay replay) { replays_[type] = std::move(replay); }

  // Opens the log and replays what the database lacks of it (an error if a record cannot be
  // replayed: nothing acknowledged is dropped), then starts the writer, completion and
  // checkpoint threads.
  Status Start();
  // Finishes every queued job, commits, then stops the threads. Jobs submitted after Stop fail.
  void Stop();
  // Tests: stops like a process killed after its last acknowledgement: the open transaction is
  // rolled back, not committed (the log keeps what it held).
  void AbandonForTest();

  template <typename T>
  void Submit(std::function<Result<T>(SqliteConn&)> fn, Done<T> done) {
    queue_.Submit<T>(std::move(fn), std::move(done));
  }

  // Returns once every write acknowledged before the call is visible to readers; kUnavailable
  // if the commit that would make them so fails or takes over 5 s.
  Status AwaitVisible();

  uint64_t batches() const { return batches_.load(std::memory_order_relaxed); }
  uint64_t commits() const { return commits_.load(std::memory_order_relaxed); }
  uint64_t log_appends() const { return log_appends_.load(std::memory_order_relaxed); }
  // Per batch: its jobs to durable. Per write: queued to durable.
  const Histogram& batch_seconds() const { return queue_.batch_seconds(); }
  const Histogram& write_seconds() const { return queue_.write_seconds(); }
  uint64_t jobs() const { return jobs_.load(std::memory_order_relaxed); }

 private:
  using Queue = GroupCommitQueue<SqliteConn>;
  void RunBatch(std::deque<Queue::Job>& batch);  // on the queue's writer thread
  bool IdleTick();  // ditto, while no job is queued; false: nothing left to commit
  bool InjectFault();
  Status Begin();
  // Commits the open transaction with the lsn of the last logged record; then the log starts
  // over. On failure (`injected`: as if) the transaction is rolled back and rebuilt from the log
  // (Recover).
  Status Commit(bool injected = false);
  // Opens a transaction holding every logged record the database lacks.
  Status Recover();
  void SetCommitted(uint64_t lsn);

  std::unique_ptr<SqliteConn> conn_;  // used by the writer thread only (Start/Stop: the owner's)
  const WriteFaults faults_;
  const RedoOptions redo_options_;
  std::map<uint8_t, Replay> replays_;
  std::unique_ptr<RedoLog> log_;  // null without a log
  uint64_t steps_tried_ = 0;      // writer thread only (fault injection)
  bool tx_open_ = false;          // writer thread only
  bool broken_ = false;           // writer thread only: the log could not be replayed
  std::chrono::steady_clock::time_point tx_began_{};
  uint64_t next_lsn_ = 1;         // writer thread only
  std::atomic<bool> commit_wanted_{false};
  std::atomic<uint64_t> logged_lsn_{0};     // last record appended to the log
  std::atomic<uint64_t> committed_lsn_{0};  // last record contained in a commit
  std::mutex visible_mu_;
  std::condition_variable visible_cv_;
  bool stopped_ = false;  // guarded by visible_mu_
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> log_appends_{0};
  std::atomic<uint64_t> jobs_{0};
  WalCheckpointer checkpointer_;  // WAL checkpoints off the commit path
  Queue queue_;  // last: its threads stop first
};

}  // namespace parley::storage::sqlite
