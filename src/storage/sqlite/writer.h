// GroupCommitWriter: the single thread that writes a SQLite database.
//
// Jobs queue up while a transaction commits; the writer then runs every queued job (up to
// max_batch) in ONE transaction, each inside its own savepoint so a failing job rolls back alone,
// commits once, and only then calls each job's completion, in order. WAL checkpoints run beside
// it (WalCheckpointer), never inside a commit.
//
// Sends and receipt marks (SubmitHot) run on the writer's in-memory state (HotState) and
// without a savepoint: they change the state only after all their statements succeeded, and a
// failure after one of their writes makes the writer roll the whole batch back and run it again,
// every job in a savepoint. A hot job that cannot use the state (say a conversation to create)
// asks for a cold run (HotState::Cold): the writer writes the state out, forgets it, and runs
// the job again with no state. So a write is acknowledged
// only once durable, and all writes that arrived during one commit share the next (group commit).
// If the commit fails (I/O error, full disk) every job of the batch gets kUnavailable.
//
// With a redo log (redo_path set; storage/sqlite/redo_log.h), a batch of hot jobs only commits
// by appending one record to the log (one write, one fdatasync): the database's transaction
// stays open across batches (the "projection", each batch in a savepoint of it) and commits
// without an fsync once RedoOptions::max_age old (quiet_age when no job waits), when
// kProjectionMaxStatements are held, after RedoOptions::idle without work, before any other
// job, and when a reader asks (AwaitProjected).
// Any other batch commits durably as before, and then starts the log over (everything in it is
// durable in the database); so does a projection commit once the log has grown past
// kMaxLogBytes. Should a projection commit fail, the writer rolls it back and applies the log
// again; if that fails too, it refuses every write (kUnavailable) until restarted.
// Submit is thread-safe. Completions run on the completion thread, one after another in commit
// order, while the writer already runs the next batch; they must not block. The queue and threads
// are storage/group_commit.h's; this class is how a SQLite batch runs.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "storage/group_commit.h"
#include "storage/model.h"
#include "storage/sqlite/checkpointer.h"
#include "storage/sqlite/conn.h"
#include "storage/sqlite/hot_state.h"
#include "storage/sqlite/redo_log.h"

namespace parley::storage::sqlite {

// Test-only fault injection: the commits numbered fail_after+1 … fail_after+fail_count (counted
// from Start) fail as on a full disk: the batch is rolled back and every job gets kUnavailable.
// parleyd sets it only when PARLEY_ENABLE_FAULT_INJECTION=1 (tests/integration/test_crash.py).
struct WriteFaults {
  uint64_t fail_after = 0;
  uint64_t fail_count = 0;  // 0 = no faults
  // Unit tests: the first N projection commits (redo log) fail as on an I/O error.
  uint64_t fail_projection_commits = 0;
  // Unit tests: runs on the writer thread before each batch (a test holds the writer there to
  // make the jobs it queues meanwhile one batch).
  std::function<void()> before_batch;
};

// The redo log of a writer (see above).
struct RedoOptions {
  std::string path;  // the log's file; "" = no log: every batch commits the database durably
  // The synchronous mode of durable commits ("full" or "normal"); with "normal" the log is not
  // fsynced either.
  std::string durable_sync = "full";
  // The projection commits once max_age old; sooner as soon as no job waits, once quiet_age old
  // and ten times as old as a commit takes on average (up to max_age): its commit then
  // delays only the jobs that arrive during it, and such commits take about a tenth of the
  // writer's time at most (small and frequent commits at low load, large ones at saturation);
  // and after `idle` without work.
  std::chrono::milliseconds max_age{100};
  std::chrono::milliseconds quiet_age{5};
  std::chrono::milliseconds idle{10};
};

class GroupCommitWriter {
 public:
  GroupCommitWriter(std::unique_ptr<SqliteConn> conn, size_t max_batch, WriteFaults faults = {},
                    RedoOptions redo = {});
  ~GroupCommitWriter();

  // Starts the writer, completion and checkpoint threads. With a redo log: first applies what
  // the log holds beyond the database (RedoLog::Replay), then empties it.
  Status Start();
  // Finishes every queued job, then stops the thread. Jobs submitted after Stop fail.
  void Stop();

  template <typename T>
  void Submit(std::function<Result<T>(SqliteConn&)> fn, Done<T> done) {
    queue_.Submit<T>(std::move(fn), std::move(done));
  }

  // A job that keeps the writer's state: `fn` gets it, or nullptr when it runs cold (from the
  // rows alone, in a savepoint). See hot_state.h for what such a job may do.
  template <typename T>
  void SubmitHot(std::function<Result<T>(SqliteConn&, HotState*)> fn, Done<T> done) {
    JobOptions options;
    options.savepoint = false;
    options.keeps_writer_state = true;
    queue_.Submit<T>(
        [this, fn = std::move(fn)](SqliteConn& c) { return fn(c, cold_ ? nullptr : &state_); },
        std::move(done), std::move(options));
  }

  // For readers of what hot jobs write (messages, cursors, marks, conversations): returns once
  // the database shows every write acknowledged before the call (commits the projection if it
  // must). Not on the writer or completion thread. kUnavailable if the writer stopped or broke.
  Status AwaitProjected();

  uint64_t batches() const { return batches_.load(std::memory_order_relaxed); }
  uint64_t projection_commits() const {
    return projection_commits_.load(std::memory_order_relaxed);
  }
  // WAL checkpoints: passes of the checkpoint thread, and tails the writer copied itself.
  uint64_t checkpoint_passes() const { return checkpointer_.background_passes(); }
  uint64_t checkpoint_catch_ups() const { return checkpointer_.catch_ups(); }
  // Per batch: transaction to commit. Per write: queued to committed.
  const Histogram& batch_seconds() const { return queue_.batch_seconds(); }
  const Histogram& write_seconds() const { return queue_.write_seconds(); }
  uint64_t jobs() const { return jobs_.load(std::memory_order_relaxed); }

 private:
  using Queue = GroupCommitQueue<SqliteConn>;
  enum class Ran { kAll, kFailed, kAgainCarefully };
  static constexpr uint32_t kProjectionMaxStatements = 50'000;
  static constexpr uint64_t kMaxLogBytes = 64ull << 20;

  // On the queue's writer thread:
  void RunBatch(std::deque<Queue::Job>& batch);
  // A batch committed durably by the database (every batch without a redo log).
  void RunDurable(std::deque<Queue::Job>& batch);
  // A batch of hot jobs committed by the redo log, inside the projection.
  void RunLogged(std::deque<Queue::Job>& batch);
  // Runs the batch's jobs in the open transaction; `careful`: every job in a savepoint.
  Ran RunJobs(std::deque<Queue::Job>& batch, bool careful);
  // Runs one job; false: it failed after writing without a savepoint (the batch must run again).
  bool RunJob(Queue::Job& job, bool savepoint);
  // Whether the fault injection fails the commit now tried.
  bool InjectedFault();
  // Commits the projection if one is open and a rule above says so (`force`: in any case);
  // `durable` makes the commit fsync and then starts the log over.
  void MaybeCommitProjection(bool force, bool durable = false);
  // After a failed projection commit: rolls back, applies the log again; broken_ if it cannot.
  void RecoverProjection();
  void SetProjected(uint64_t lsn);
  // Starts the log over once the database's WAL is on disk (with durable_sync "full").
  Status ResetLog();
  bool IsHotOnly(const std::deque<Queue::Job>& batch) const;

  std::unique_ptr<SqliteConn> conn_;  // used by the writer thread only
  const WriteFaults faults_;
  const RedoOptions redo_options_;
  std::unique_ptr<RedoLog> log_;  // writer thread only (after Start)
  RedoBuffer redo_;               // writer thread only: the running batch's statements
  bool open_ = false;             // writer thread only: the projection's transaction is open
  std::chrono::steady_clock::time_point opened_at_{};
  std::chrono::steady_clock::duration projection_commit_avg_{};  // writer thread only
  uint32_t projected_statements_ = 0;  // writer thread only: held by the open projection
  uint64_t next_lsn_ = 1;              // writer thread only
  std::atomic<uint64_t> logged_lsn_{0};     // the last record on disk
  std::atomic<uint64_t> projected_lsn_{0};  // the last record the database shows
  std::atomic<bool> broken_{false};         // the projection could not be recovered
  std::atomic<std::thread::id> writer_thread_{};
  std::mutex barrier_mu_;
  std::condition_variable barrier_cv_;
  bool barrier_wanted_ = false;  // guarded by barrier_mu_: a reader waits for a commit
  bool stopped_ = false;         // guarded by barrier_mu_
  std::atomic<uint64_t> projection_commits_{0};
  uint64_t commits_tried_ = 0;  // writer thread only
  uint64_t projection_commits_tried_ = 0;  // writer thread only
  HotState state_;              // writer thread only
  bool cold_ = false;           // writer thread only: the hot job now running runs cold
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> jobs_{0};
  WalCheckpointer checkpointer_;  // WAL checkpoints off the commit path
  Queue queue_;  // last: its threads stop first
};

}  // namespace parley::storage::sqlite
