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
// Submit is thread-safe. Completions run on the completion thread, one after another in commit
// order, while the writer already runs the next batch; they must not block. The queue and threads
// are storage/group_commit.h's; this class is how a SQLite batch runs.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>

#include "storage/group_commit.h"
#include "storage/model.h"
#include "storage/sqlite/checkpointer.h"
#include "storage/sqlite/conn.h"
#include "storage/sqlite/hot_state.h"

namespace parley::storage::sqlite {

// Test-only fault injection: the commits numbered fail_after+1 … fail_after+fail_count (counted
// from Start) fail as on a full disk: the batch is rolled back and every job gets kUnavailable.
// parleyd sets it only when PARLEY_ENABLE_FAULT_INJECTION=1 (tests/integration/test_crash.py).
struct WriteFaults {
  uint64_t fail_after = 0;
  uint64_t fail_count = 0;  // 0 = no faults
  // Unit tests: runs on the writer thread before each batch (a test holds the writer there to
  // make the jobs it queues meanwhile one batch).
  std::function<void()> before_batch;
};

class GroupCommitWriter {
 public:
  GroupCommitWriter(std::unique_ptr<SqliteConn> conn, size_t max_batch, WriteFaults faults = {});
  ~GroupCommitWriter();

  // Starts the writer, completion and checkpoint threads.
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

  uint64_t batches() const { return batches_.load(std::memory_order_relaxed); }
  // Per batch: transaction to commit. Per write: queued to committed.
  const Histogram& batch_seconds() const { return queue_.batch_seconds(); }
  const Histogram& write_seconds() const { return queue_.write_seconds(); }
  uint64_t jobs() const { return jobs_.load(std::memory_order_relaxed); }

 private:
  using Queue = GroupCommitQueue<SqliteConn>;
  enum class Ran { kAll, kFailed, kAgainCarefully };
  void RunBatch(std::deque<Queue::Job>& batch);  // on the queue's writer thread
  // Runs the batch's jobs in an open transaction; `careful`: every job in a savepoint.
  Ran RunJobs(std::deque<Queue::Job>& batch, bool careful);
  // Runs one job; false: it failed after writing without a savepoint (the batch must run again).
  bool RunJob(Queue::Job& job, bool savepoint);

  std::unique_ptr<SqliteConn> conn_;  // used by the writer thread only
  const WriteFaults faults_;
  uint64_t commits_tried_ = 0;  // writer thread only
  HotState state_;              // writer thread only
  bool cold_ = false;           // writer thread only: the hot job now running runs cold
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> jobs_{0};
  WalCheckpointer checkpointer_;  // WAL checkpoints off the commit path
  Queue queue_;  // last: its threads stop first
};

}  // namespace parley::storage::sqlite
