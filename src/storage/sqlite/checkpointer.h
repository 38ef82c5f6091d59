// WalCheckpointer: moves a SQLite database's WAL checkpoints off the writer's commit path.
//
// With SQLite's automatic checkpoint, the COMMIT that crosses the threshold also copies the WAL
// into the database file and fsyncs it, so every write of that batch waits for a checkpoint and
// a second fsync before it is acknowledged. Here the writer connection's automatic checkpoint is
// off; a commit that leaves the WAL at or above `threshold_pages` wakes a thread of this class,
// which runs a PASSIVE checkpoint on a connection of its own while the writer goes on committing.
// A background pass cannot reset the WAL (the writer keeps appending meanwhile), so once one has
// finished, the writer's next call to AfterBatch copies the frames written since from its own
// connection if they are few (else it asks for another background pass first); the next write
// transaction then starts the WAL from its beginning. So the WAL stays near `threshold_pages`
// under any steady load, and no acknowledgement waits for the bulk of a checkpoint.
//
// Durability is unchanged: a checkpoint only copies committed frames (and fsyncs the database
// file before the WAL may be reused, as SQLite always does).
//
// AfterBatch is called on the writer's thread; Start and Stop on the owner's, while the writer
// thread is not running.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"

namespace parley::storage::sqlite {

class SqliteConn;

class WalCheckpointer {
 public:
  explicit WalCheckpointer(int threshold_pages = 4000) : threshold_pages_(threshold_pages) {}
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Turns off `writer`'s automatic checkpoint and watches its commits. Opens the checkpoint
  // connection to the same database file and starts the thread (named `thread_name`).
  Status Start(SqliteConn& writer, const char* thread_name);
  // Before Start: the writer never copies frames itself (AfterBatch asks for another background
  // pass instead) unless the WAL has grown past 4x the threshold. For a writer whose commits do
  // not sync (the redo log's projection): a copy on its own connection would sync the WAL and
  // the database file on the path of the acknowledgements.
  void SetBackgroundOnly(bool on) { background_only_ = on; }
  // Stops the thread (a pass in progress finishes first).
  void Stop();
  // On the writer's thread, between batches (outside any transaction): if a background pass has
  // finished since the last call, checkpoints what was committed since it.
  void AfterBatch();

  uint64_t background_passes() const { return passes_.load(std::memory_order_relaxed); }
  uint64_t catch_ups() const { return catch_ups_.load(std::memory_order_relaxed); }
  // Frames in the WAL after the last commit.
  int wal_pages() const { return wal_pages_.load(std::memory_order_relaxed); }

 private:
  static int OnCommit(void* self, sqlite3* db, const char* schema, int pages);
  void Loop();

  const int threshold_pages_;
  bool background_only_ = false;
  sqlite3* writer_db_ = nullptr;          // the writer's connection (writer thread only)
  std::unique_ptr<SqliteConn> conn_;      // the checkpoint thread's own connection
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool wanted_ = false;    // guarded by mu_: a commit crossed the threshold
  bool running_ = false;   // guarded by mu_: a pass is in progress (or wanted)
  bool stopping_ = false;  // guarded by mu_
  std::atomic<bool> finished_{false};  // a pass finished; the writer catches up
  std::atomic<int> wal_pages_{0};
  std::atomic<int> backfilled_{0};  // frames the last background pass copied
  std::atomic<uint64_t> passes_{0};
  std::atomic<uint64_t> catch_ups_{0};
};

}  // namespace parley::storage::sqlite
