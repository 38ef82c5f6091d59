// GroupCommitWriter: the single thread that writes a SQLite database.
//
// Jobs queue up while a transaction commits; the writer then runs every queued job (up to
// max_batch) in ONE transaction, each inside its own savepoint so a failing job rolls back alone,
// commits once, and only then calls each job's completion, in order. So a write is acknowledged
// only once durable, and all writes that arrived during one commit share the next (group commit).
// If the commit fails (I/O error, full disk) every job of the batch gets kUnavailable.
// Submit is thread-safe. Completions run on the completion thread, one after another in commit
// order, while the writer already runs the next batch; they must not block.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "storage/model.h"
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

  void Start();
  // Finishes every queued job, then stops the thread. Jobs submitted after Stop fail.
  void Stop();

  template <typename T>
  void Submit(std::function<Result<T>(SqliteConn&)> fn, Done<T> done) {
    auto slot = std::make_shared<std::optional<Result<T>>>();
    Job job;
    job.run = [fn = std::move(fn), slot](SqliteConn& c) -> Status {
      slot->emplace(fn(c));
      if (!(*slot)->ok()) return (*slot)->error();
      return OkStatus();
    };
    job.complete = [slot, done = std::move(done)](const Status& commit) {
      if (!commit.ok()) {
        done(commit.error());
      } else if (!slot->has_value()) {
        done(MakeError(ErrorCode::kUnavailable, "store could not run the write"));
      } else {
        done(std::move(**slot));
      }
    };
    Enqueue(std::move(job));
  }

  uint64_t batches() const { return batches_.load(std::memory_order_relaxed); }
  uint64_t jobs() const { return jobs_.load(std::memory_order_relaxed); }

 private:
  struct Job {
    std::function<Status(SqliteConn&)> run;
    std::function<void(const Status&)> complete;
  };
  void Enqueue(Job job);
  void Loop();
  void RunBatch(std::deque<Job>& batch);
  // Hands a finished batch's completions to the completion thread.
  void Complete(std::deque<Job>& batch, const Status& status);
  void CompletionLoop();

  std::unique_ptr<SqliteConn> conn_;  // used by the writer thread only
  const size_t max_batch_;
  const WriteFaults faults_;
  uint64_t commits_tried_ = 0;  // writer thread only
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;  // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  bool exited_ = false;    // guarded by mu_: the loop has returned
  std::thread thread_;
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  std::deque<std::pair<std::deque<Job>, Status>> done_;  // guarded by done_mu_
  bool writer_exited_ = false;                            // guarded by done_mu_
  std::thread completion_thread_;
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> jobs_{0};
};

}  // namespace parley::storage::sqlite
