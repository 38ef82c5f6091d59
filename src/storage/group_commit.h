// GroupCommitQueue: the queue and threads both group-commit writers share (sqlite's
// GroupCommitWriter, postgres' PgWriter); each adapter supplies how a batch runs.
//
// Submit queues a job (thread-safe). One writer thread takes every queued job (up to max_batch)
// and hands the batch to `run_batch`, which runs the jobs in one transaction and ends by calling
// Complete(batch, commit status). A completion thread then calls each job's completion, in commit
// order, while the writer already runs the next batch: completions must not block. Stop runs
// every job queued until then (jobs submitted while stopping included), then stops both threads;
// later jobs fail at once with kUnavailable, as do all jobs when the queue was never started.
// Two timings for /metrics: each batch's run (transaction to commit) and each job's whole write
// (queued to committed, its completion about to run).
#pragma once

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/histogram.h"
#include "storage/model.h"

namespace parley::storage {

// How a job wants to run, for adapters that can use it (PostgreSQL's PgWriter; the SQLite
// writer, alone on its database, ignores both).
struct JobOptions {
  // Names of what the job writes (a conversation id, a device id), locked for the batch before
  // any job runs, in one fixed order on every node: batches of different nodes that touch the
  // same conversation run one after the other, and can never deadlock on it.
  std::vector<std::string> lock_keys;
  // False: the job writes nothing before it can fail, and raises nothing of its own (a refusal
  // is its result), so it runs without a savepoint of its own.
  bool savepoint = true;
  // SQLite: the job reads and updates the writer's in-memory state (sqlite/hot_state.h) instead
  // of the rows it mirrors; before any other job the writer writes that state out and forgets
  // it. PostgreSQL ignores it.
  bool keeps_writer_state = false;
};

template <typename Conn>
class GroupCommitQueue {
 public:
  struct Job {
    // Runs inside the batch's transaction (a job may be run again when a batch is retried: its
    // result is the last run's).
    std::function<Status(Conn&)> run;
    std::function<void(const Status&)> complete;  // the commit's outcome
    std::chrono::steady_clock::time_point queued{};
    JobOptions options;
    // Optional, for adapters that pipeline (PostgreSQL): send(&conn) sends the job's statement
    // without waiting, and `run` then finishes with its answer; send(nullptr) forgets an answer
    // an earlier attempt left unused, so that `run` runs the statement itself.
    std::function<void(Conn*)> send;
  };
  using RunBatch = std::function<void(std::deque<Job>&)>;

  GroupCommitQueue(size_t max_batch, RunBatch run_batch)
      : max_batch_(max_batch == 0 ? 1 : max_batch), run_batch_(std::move(run_batch)) {}
  ~GroupCommitQueue() { Stop(); }
  GroupCommitQueue(const GroupCommitQueue&) = delete;
  GroupCommitQueue& operator=(const GroupCommitQueue&) = delete;

  // Optional, before Start: `idle` runs on the writer thread when the queue has stayed empty for
  // `after` since the last batch (once per quiet spell).
  void SetIdle(std::chrono::milliseconds after, std::function<void()> idle) {
    idle_after_ = after;
    idle_ = std::move(idle);
  }

  // Starts the writer and completion threads (thread names: at most 15 characters).
  void Start(const char* writer_name, const char* completion_name) {
    completion_thread_ = std::thread([this, completion_name] {
      pthread_setname_np(pthread_self(), completion_name);
      CompletionLoop();
    });
    thread_ = std::thread([this, writer_name] {
      pthread_setname_np(pthread_self(), writer_name);
      Loop();
    });
  }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      if (!thread_.joinable()) exited_ = true;  // never started: later submits fail
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    {
      std::lock_guard lock(done_mu_);
      writer_exited_ = true;
    }
    done_cv_.notify_all();
    if (completion_thread_.joinable()) completion_thread_.join();
  }

  // Queues fn; `done` gets its result once the batch it ran in has committed, or the error of
  // the job or of the commit.
  template <typename T>
  void Submit(std::function<Result<T>(Conn&)> fn, Done<T> done, JobOptions options = {},
              std::function<void(Conn*)> send = {}) {
    auto slot = std::make_shared<std::optional<Result<T>>>();
    Job job;
    job.run = [fn = std::move(fn), slot](Conn& c) -> Status {
      slot->reset();
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
    job.options = std::move(options);
    job.send = std::move(send);
    Enqueue(std::move(job));
  }

  // For run_batch: hands a finished batch's completions to the completion thread; `batch` is left
  // empty.
  void Complete(std::deque<Job>& batch, const Status& status) {
    {
      std::lock_guard lock(done_mu_);
      done_.emplace_back(std::move(batch), status);
    }
    done_cv_.notify_one();
    batch.clear();
  }

  // Whether jobs wait for the writer (for run_batch: work that can wait while they do).
  bool HasQueued() {
    std::lock_guard lock(mu_);
    return !queue_.empty();
  }

  const Histogram& batch_seconds() const { return batch_seconds_; }
  const Histogram& write_seconds() const { return write_seconds_; }

 private:
  void Enqueue(Job job) {
    job.queued = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(mu_);
      if (!exited_) {
        queue_.push_back(std::move(job));
        cv_.notify_one();
        return;
      }
    }
    job.complete(MakeError(ErrorCode::kUnavailable, "store is shut down"));
  }

  void Loop() {
    std::deque<Job> batch;
    bool idle_due = false;  // a batch ran since the last idle call
    while (true) {
      {
        std::unique_lock lock(mu_);
        auto ready = [&] { return stopping_ || !queue_.empty(); };
        if (idle_ && idle_due) {
          if (!cv_.wait_for(lock, idle_after_, ready)) {
            idle_due = false;
            lock.unlock();
            idle_();
            continue;
          }
        } else {
          cv_.wait(lock, ready);
        }
        if (queue_.empty() && stopping_) {
          exited_ = true;
          return;
        }
        while (!queue_.empty() && batch.size() < max_batch_) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      const auto started = std::chrono::steady_clock::now();
      run_batch_(batch);
      batch_seconds_.ObserveSince(started);
      batch.clear();
      idle_due = true;
    }
  }

  void CompletionLoop() {
    while (true) {
      std::pair<std::deque<Job>, Status> item;
      {
        std::unique_lock lock(done_mu_);
        done_cv_.wait(lock, [&] { return writer_exited_ || !done_.empty(); });
        if (done_.empty()) return;
        item = std::move(done_.front());
        done_.pop_front();
      }
      const auto now = std::chrono::steady_clock::now();
      for (auto& job : item.first) {
        write_seconds_.Observe(now - job.queued);
        job.complete(item.second);
      }
    }
  }

  const size_t max_batch_;
  const RunBatch run_batch_;
  std::chrono::milliseconds idle_after_{0};
  std::function<void()> idle_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;  // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  bool exited_ = false;    // guarded by mu_: the loop has returned (or never started)
  std::thread thread_;
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  std::deque<std::pair<std::deque<Job>, Status>> done_;  // guarded by done_mu_
  bool writer_exited_ = false;                            // guarded by done_mu_
  std::thread completion_thread_;
  Histogram batch_seconds_;
  Histogram write_seconds_;
};

}  // namespace parley::storage
