// GroupCommitWriter: the single thread that writes a SQLite database.
//
// Jobs queue up while a transaction commits; the writer then runs every queued job (up to
// max_batch) in ONE transaction, each inside its own savepoint so a failing job rolls back alone,
// commits once, and only then calls each job's completion, in order. WAL checkpoints run beside
// it (WalCheckpointer), never inside a commit. So a write is acknowledged
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

namespace parley::storage::sqlite {

// Test-only fault injection: the commits numbered fail_after+1 … fail_after+fail_count (counted
// from Start) fail as on a full disk: the batch is rolled back and every job gets kUnavailable.
// parleyd sets it only when PARLEY_ENABLE_FAULT_INJECTION=1 (tests/integration/test_crash.py).
struct WriteFaults {
  uint64_t fail_after = 0;
  uint64_t fail_count = 0;  // 0 = no faults
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

  uint64_t batches() const { return batches_.load(std::memory_order_relaxed); }
  // Per batch: transaction to commit. Per write: queued to committed.
  const Histogram& batch_seconds() const { return queue_.batch_seconds(); }
  const Histogram& write_seconds() const { return queue_.write_seconds(); }
  uint64_t jobs() const { return jobs_.load(std::memory_order_relaxed); }

 private:
  using Queue = GroupCommitQueue<SqliteConn>;
  void RunBatch(std::deque<Queue::Job>& batch);  // on the queue's writer thread

  std::unique_ptr<SqliteConn> conn_;  // used by the writer thread only
  const WriteFaults faults_;
  uint64_t commits_tried_ = 0;  // writer thread only
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> jobs_{0};
  WalCheckpointer checkpointer_;  // WAL checkpoints off the commit path
  Queue queue_;  // last: its threads stop first
};

}  // namespace parley::storage::sqlite
