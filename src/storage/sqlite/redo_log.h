// The SQLite writer's redo log: where sends and receipt marks become durable.
//
// A batch of sends and marks (the writer's hot jobs) commits by appending ONE record to this
// file and calling fdatasync: its statements are already applied inside the database's open
// transaction (the "projection"), which commits later and without an fsync of its own, every
// ~100 ms or when a reader needs it (GroupCommitWriter). A commit of SQLite writes every page a
// batch dirtied (4 KiB each, ~26 KB a message at 9,200 msgs/s); a record is the statements'
// bound values (~1 KB a message).
//
// A record holds what the batch's statements wrote, as SQL text and bound values (RedoBuffer,
// filled by SqliteConn while it records): replayed in order on the database as it was when the
// projection began, the same statements write the same rows (they are deterministic: ids,
// times and seqs are bound values). Layout, little-endian:
//   u32 body_len, u32 crc32c(lsn bytes + body), u64 lsn, body
//   body = u32 n_sql, n_sql × (u32 len, SQL text), u32 n_stmt,
//          n_stmt × (u32 sql_index, u16 n_params, n_params × (u16 index, u8 type, value))
//   value: type 1 i64; 2 text, 3 blob: u32 len + bytes; 0 null: nothing.
// LSNs count up by one per record, across restarts (the database keeps the last one applied,
// table redo_state). Once everything in it is durable in the database, records start again from
// the file's beginning (the file keeps its size: see RedoLog).
//
// Recovery (Replay, before anything else opens the database): every record after the applied
// LSN, in order, is applied in one transaction together with the new applied LSN; the first
// record that is incomplete, fails its CRC or does not follow its predecessor ends the log
// (a batch whose record was not wholly written was never acknowledged).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace parley::storage::sqlite {

class SqliteConn;

// The statements one batch wrote, in order (see SqliteConn::SetRedo).
class RedoBuffer {
 public:
  struct Mark {
    size_t bytes = 0;
    uint32_t count = 0;
  };
  // One statement that wrote: its SQL text (stable for the connection's life: the prepared
  // statement's own) and its parameters, encoded by Stmt (n_params × (u16, u8, value)).
  void Add(const char* sql, std::string_view params, uint16_t n_params);
  Mark mark() const { return {stmts_.size(), count_}; }
  // Forgets the statements added since `m` (a job rolled back to its savepoint).
  void RollbackTo(Mark m);
  void Clear();
  bool empty() const { return count_ == 0; }
  uint32_t statements() const { return count_; }
  // The whole record for `lsn` (header and body).
  std::string Encode(uint64_t lsn) const;

 private:
  std::vector<const char*> sqls_;
  std::unordered_map<const char*, uint32_t> sql_index_;
  std::string stmts_;
  uint32_t count_ = 0;
};

class RedoLog {
 public:
  // Opens (creating) the log at `path`; its first record goes at the file's beginning, so open
  // it only once every record it holds is in the database (after Replay). `sync`: fdatasync
  // each append.
  //
  // The file is never shortened: a thread of the log (pd-redo-fill) writes and syncs zeros ahead
  // of the records (as much again as the log holds, 256 KiB to 4 MiB), and after Reset the
  // records start again from the beginning. A record's fdatasync then writes its data only:
  // appending to the end of the file would also write the file's size and extents with every
  // record (docs/benchmarks.md: fewer syncs over 3 ms, a lower p50, with the file preallocated).
  static Result<std::unique_ptr<RedoLog>> Open(const std::string& path, bool sync);
  ~RedoLog();
  RedoLog(const RedoLog&) = delete;
  RedoLog& operator=(const RedoLog&) = delete;

  // Writes the record after the last one and, with sync, waits until it is on disk. On failure
  // its header is zeroed (best effort) and the next record takes its place.
  Status Append(std::string_view record);
  // The next record goes at the beginning again: call only once every record in the log is
  // durable in the database. The older records left behind it are never replayed: they do not
  // follow it (their LSNs are smaller).
  Status Reset();
  // Bytes of records since the last Reset.
  uint64_t bytes() const { return end_; }
  // Bytes of the file written (records or zeros) and on disk.
  uint64_t capacity() const;

  // Applies the records of the log at `path` that follow `applied_lsn` to `conn` (read-write,
  // outside a transaction) in one transaction that also stores the new applied LSN, committed
  // durably. Returns the last LSN applied (`applied_lsn` if none). A missing file is an empty
  // log. The log ends at the first record that is cut short, fails its CRC, does not follow the
  // one before it (LSNs grow by one), or is zeros.
  static Result<uint64_t> Replay(const std::string& path, SqliteConn& conn, uint64_t applied_lsn);

 private:
  RedoLog(int fd, uint64_t capacity, bool sync);
  Error Failed(const std::string& what);
  void Fill();  // the filler thread

  const int fd_;
  uint64_t end_ = 0;  // the caller's thread only
  const bool sync_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t capacity_;       // guarded by mu_
  uint64_t wanted_ = 0;     // guarded by mu_: what the filler works towards
  bool filling_ = false;    // guarded by mu_: the filler writes past capacity_
  bool fill_failed_ = false;  // guarded by mu_: no more filling until Reset
  bool stopping_ = false;   // guarded by mu_
  std::thread filler_;
};

// The table that keeps the last LSN the database holds, created if absent; and its value.
Status EnsureRedoState(SqliteConn& conn);
Result<uint64_t> AppliedLsn(SqliteConn& conn);
// Sets it (inside the caller's transaction).
Status SetAppliedLsn(SqliteConn& conn, uint64_t lsn);

uint32_t Crc32c(uint32_t crc, const void* data, size_t size);

}  // namespace parley::storage::sqlite
