#include "storage/sqlite/checkpointer.h"

#include <pthread.h>

#include "common/log.h"
#include "storage/sqlite/conn.h"

namespace parley::storage::sqlite {

WalCheckpointer::~WalCheckpointer() { Stop(); }

Status WalCheckpointer::Start(SqliteConn& writer, const char* thread_name) {
  writer_db_ = writer.raw();
  const char* path = sqlite3_db_filename(writer_db_, "main");
  if (!path || !*path) return OkStatus();  // in-memory or temporary: nothing to checkpoint
  auto conn = SqliteConn::Open(path, SqliteConn::Mode::kReadWrite, "full");
  if (!conn.ok()) return conn.error();
  conn_ = std::move(*conn);
  sqlite3_wal_autocheckpoint(conn_->raw(), 0);
  // sqlite3_wal_autocheckpoint installs a hook of its own: turn it off first, then watch.
  sqlite3_wal_autocheckpoint(writer_db_, 0);
  sqlite3_wal_hook(writer_db_, &WalCheckpointer::OnCommit, this);
  thread_ = std::thread([this, thread_name] {
    pthread_setname_np(pthread_self(), thread_name);
    Loop();
  });
  return OkStatus();
}

void WalCheckpointer::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  conn_.reset();
}

int WalCheckpointer::OnCommit(void* self_ptr, sqlite3*, const char*, int pages) {
  auto* self = static_cast<WalCheckpointer*>(self_ptr);
  self->wal_pages_.store(pages, std::memory_order_relaxed);
  if (pages < self->threshold_pages_) return SQLITE_OK;
  bool wake = false;
  {
    std::lock_guard lock(self->mu_);
    if (!self->running_) {
      self->running_ = self->wanted_ = true;
      wake = true;
    }
  }
  if (wake) self->cv_.notify_one();
  return SQLITE_OK;
}

void WalCheckpointer::Loop() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || wanted_; });
      if (stopping_) return;
      wanted_ = false;
    }
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(conn_->raw(), "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      LogWarn("sqlite checkpoint failed", {{"error", sqlite3_errmsg(conn_->raw())}});
    }
    passes_.fetch_add(1, std::memory_order_relaxed);
    backfilled_.store(rc == SQLITE_OK ? done : 0, std::memory_order_relaxed);
    finished_.store(true, std::memory_order_release);
    std::lock_guard lock(mu_);
    running_ = false;
  }
}

void WalCheckpointer::AfterBatch() {
  if (!finished_.exchange(false, std::memory_order_acq_rel)) return;
  // Frames committed while the background pass ran are left. Many of them: another background
  // pass first (the writer's time is the acks'); a few: copy them here, so the WAL starts over.
  const int left = wal_pages_.load(std::memory_order_relaxed) -
                   backfilled_.load(std::memory_order_relaxed);
  // (Past 4x the threshold the writer copies them itself regardless: the WAL must stay bounded
  // even when the background passes cannot keep up.)
  const bool bounded = wal_pages_.load(std::memory_order_relaxed) < 4 * threshold_pages_;
  if (background_only_ && bounded && left <= 0) return;  // all copied: the WAL starts over
  if ((left > threshold_pages_ / 4 || background_only_) && bounded) {
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      if (!running_) running_ = wanted_ = wake = true;
    }
    if (wake) cv_.notify_one();
    return;
  }
  int log = 0, done = 0;
  int rc = sqlite3_wal_checkpoint_v2(writer_db_, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
    LogWarn("sqlite checkpoint failed", {{"error", sqlite3_errmsg(writer_db_)}});
  }
  catch_ups_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace parley::storage::sqlite
