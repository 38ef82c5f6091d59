#include "storage/sqlite/redo_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>

#include "common/log.h"
#include "storage/sqlite/conn.h"

namespace parley::storage::sqlite {
namespace {

constexpr size_t kHeader = 16;  // u32 body_len, u32 crc, u64 lsn
constexpr size_t kFillChunk = 256 << 10;
// A batch's record is far smaller (a statement's values are bounded by the request limits); a
// longer length read back is garbage.
constexpr uint32_t kMaxRecordBytes = 1u << 30;

void PutU16(std::string& out, uint16_t v) { out.append(reinterpret_cast<const char*>(&v), 2); }
void PutU32(std::string& out, uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }
void PutU64(std::string& out, uint64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); }

// A bounds-checked reader of a record's body.
struct Cursor {
  std::string_view in;
  bool ok = true;
  template <typename T>
  T Get() {
    T v{};
    if (in.size() < sizeof(T)) {
      ok = false;
      return v;
    }
    std::memcpy(&v, in.data(), sizeof(T));
    in.remove_prefix(sizeof(T));
    return v;
  }
  std::string_view Bytes(size_t n) {
    if (in.size() < n) {
      ok = false;
      return {};
    }
    auto v = in.substr(0, n);
    in.remove_prefix(n);
    return v;
  }
};

Error SysError(const std::string& what) {
  return MakeError(ErrorCode::kUnavailable, what + ": " + std::strerror(errno));
}

const std::array<uint32_t, 256>& CrcTable() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t Crc32cHw(uint32_t crc, const unsigned char* p,
                                                     size_t n) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return c32;
}
#endif

// One record's statements applied on `conn` (statements prepared once per replay).
Status ApplyRecord(SqliteConn& conn, std::string_view body,
                   std::map<std::string, sqlite3_stmt*, std::less<>>& prepared) {
  Cursor r{body};
  const uint32_t n_sql = r.Get<uint32_t>();
  std::vector<sqlite3_stmt*> stmts;
  for (uint32_t i = 0; r.ok && i < n_sql; ++i) {
    std::string_view sql = r.Bytes(r.Get<uint32_t>());
    if (!r.ok) break;
    auto it = prepared.find(sql);
    if (it == prepared.end()) {
      sqlite3_stmt* s = nullptr;
      int rc = sqlite3_prepare_v2(conn.raw(), sql.data(), static_cast<int>(sql.size()), &s,
                                  nullptr);
      if (rc != SQLITE_OK) return SqliteError(rc, conn.raw(), "redo log: prepare");
      it = prepared.emplace(std::string(sql), s).first;
    }
    stmts.push_back(it->second);
  }
  const uint32_t n_stmt = r.Get<uint32_t>();
  for (uint32_t i = 0; r.ok && i < n_stmt; ++i) {
    const uint32_t idx = r.Get<uint32_t>();
    const uint16_t n_params = r.Get<uint16_t>();
    if (!r.ok || idx >= stmts.size()) break;
    sqlite3_stmt* s = stmts[idx];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    int rc = SQLITE_OK;
    for (uint16_t p = 0; r.ok && p < n_params; ++p) {
      const int index = r.Get<uint16_t>();
      const uint8_t type = r.Get<uint8_t>();
      if (type == 1) {
        rc = sqlite3_bind_int64(s, index, r.Get<int64_t>());
      } else if (type == 2 || type == 3) {
        std::string_view v = r.Bytes(r.Get<uint32_t>());
        rc = type == 2 ? sqlite3_bind_text(s, index, v.data(), static_cast<int>(v.size()),
                                           SQLITE_STATIC)
                       : sqlite3_bind_blob(s, index, v.data(), static_cast<int>(v.size()),
                                           SQLITE_STATIC);
      } else if (type == 0) {
        rc = sqlite3_bind_null(s, index);
      } else {
        r.ok = false;
      }
      if (rc != SQLITE_OK) return SqliteError(rc, conn.raw(), "redo log: bind");
    }
    if (!r.ok) break;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) return SqliteError(rc, conn.raw(), "redo log: replay a statement");
  }
  if (!r.ok || !r.in.empty())
    return MakeError(ErrorCode::kInternal, "redo log: a record that passed its CRC is malformed");
  return OkStatus();
}

}  // namespace

uint32_t Crc32c(uint32_t crc, const void* data, size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
#if defined(__x86_64__)
  static const bool hw = __builtin_cpu_supports("sse4.2");
  if (hw) return ~Crc32cHw(crc, p, size);
#endif
  const auto& t = CrcTable();
  while (size--) crc = t[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

void RedoBuffer::Add(const char* sql, std::string_view params, uint16_t n_params) {
  auto [it, inserted] = sql_index_.try_emplace(sql, static_cast<uint32_t>(sqls_.size()));
  if (inserted) sqls_.push_back(sql);
  PutU32(stmts_, it->second);
  PutU16(stmts_, n_params);
  stmts_.append(params);
  ++count_;
}

void RedoBuffer::RollbackTo(Mark m) {
  stmts_.resize(m.bytes);
  count_ = m.count;
}

void RedoBuffer::Clear() {
  sqls_.clear();
  sql_index_.clear();
  stmts_.clear();
  count_ = 0;
}

std::string RedoBuffer::Encode(uint64_t lsn) const {
  std::string out(kHeader, '\0');
  PutU32(out, static_cast<uint32_t>(sqls_.size()));
  for (const char* sql : sqls_) {
    const size_t n = std::strlen(sql);
    PutU32(out, static_cast<uint32_t>(n));
    out.append(sql, n);
  }
  PutU32(out, count_);
  out.append(stmts_);
  const uint32_t body_len = static_cast<uint32_t>(out.size() - kHeader);
  std::memcpy(out.data(), &body_len, 4);
  std::memcpy(out.data() + 8, &lsn, 8);
  const uint32_t crc = Crc32c(0, out.data() + 8, out.size() - 8);
  std::memcpy(out.data() + 4, &crc, 4);
  return out;
}

Result<std::unique_ptr<RedoLog>> RedoLog::Open(const std::string& path, bool sync) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return SysError("open " + path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Error e = SysError("stat " + path);
    ::close(fd);
    return e;
  }
  // What a process killed while filling left may not be on disk yet: settle it once, so that
  // the records' syncs write data only.
  if (st.st_size > 0 && sync && ::fdatasync(fd) != 0) {
    Error e = SysError("redo log fdatasync");
    ::close(fd);
    return e;
  }
  return std::unique_ptr<RedoLog>(new RedoLog(fd, static_cast<uint64_t>(st.st_size), sync));
}

RedoLog::RedoLog(int fd, uint64_t capacity, bool sync) : fd_(fd), sync_(sync), capacity_(capacity) {
  filler_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "pd-redo-fill");
    Fill();
  });
}

RedoLog::~RedoLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  filler_.join();
  ::close(fd_);
}

uint64_t RedoLog::capacity() const {
  std::lock_guard lock(mu_);
  return capacity_;
}

Status RedoLog::Append(std::string_view record) {
  const uint64_t need = end_ + record.size();
  bool past = false;  // the record goes past the filled part: it extends the file itself
  {
    std::unique_lock lock(mu_);
    if (need > capacity_) {
      cv_.wait(lock, [&] { return !filling_; });  // the filler writes only past capacity_
      past = need > capacity_;
      if (past) wanted_ = capacity_;  // the filler resumes after this record
    }
  }
  size_t done = 0;
  while (done < record.size()) {
    ssize_t n = ::pwrite(fd_, record.data() + done, record.size() - done,
                         static_cast<off_t>(end_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Failed("redo log write");
    done += static_cast<size_t>(n);
  }
  if (sync_ && ::fdatasync(fd_) != 0) return Failed("redo log fdatasync");
  end_ = need;
  {
    std::lock_guard lock(mu_);
    if (past) capacity_ = std::max(capacity_, need);
    // Zeros ahead of the records: as much again as the log holds, from 256 KiB up to 4 MiB.
    const uint64_t ahead = std::clamp<uint64_t>(end_, 256 << 10, 4 << 20);
    if (!fill_failed_ && capacity_ < end_ + ahead / 2) wanted_ = std::max(wanted_, end_ + ahead);
  }
  cv_.notify_all();
  return OkStatus();
}

Error RedoLog::Failed(const std::string& what) {
  Error e = SysError(what);
  // Best effort: the record's header zeroed ends the log before it (the next record, which takes
  // its place and LSN, overwrites it anyway).
  static const char zeros[kHeader] = {};
  (void)::pwrite(fd_, zeros, kHeader, static_cast<off_t>(end_));
  return e;
}

Status RedoLog::Reset() {
  end_ = 0;
  std::lock_guard lock(mu_);
  fill_failed_ = false;  // try again (a full disk may have room now)
  return OkStatus();
}

void RedoLog::Fill() {
  static const std::string zeros(kFillChunk, '\0');
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || wanted_ > capacity_; });
    if (stopping_) return;
    const uint64_t from = capacity_;
    filling_ = true;
    lock.unlock();
    bool ok = true;
    for (size_t done = 0; ok && done < zeros.size();) {
      ssize_t n = ::pwrite(fd_, zeros.data() + done, zeros.size() - done,
                           static_cast<off_t>(from + done));
      if (n < 0 && errno == EINTR) continue;
      ok = n > 0;
      if (ok) done += static_cast<size_t>(n);
    }
    // Only zeros on disk count: a record's sync must not have to write the file's size.
    ok = ok && (!sync_ || ::fdatasync(fd_) == 0);
    const int err = errno;
    lock.lock();
    filling_ = false;
    if (ok) {
      capacity_ = from + kFillChunk;
    } else {
      LogWarn(
          "redo log: zero-filling ahead failed; records extend the file until it starts over",
              {{"error", std::string(std::strerror(err))}});
      wanted_ = capacity_;
      fill_failed_ = true;
    }
    cv_.notify_all();
  }
}

Result<uint64_t> RedoLog::Replay(const std::string& path, SqliteConn& conn, uint64_t applied_lsn) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return applied_lsn;
    return SysError("open " + path);
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    Error e = SysError("stat " + path);
    ::close(fd);
    return e;
  }
  const uint64_t file_size = static_cast<uint64_t>(info.st_size);
  // Read as far as the records go (the rest of the file is zeros or older records).
  std::string data;
  uint64_t base = 0;  // the file offset of data[0]
  size_t pos = 0;     // where the next record starts in `data`
  auto have = [&](size_t n) -> Status {
    while (data.size() - pos < n) {
      if (pos > (1u << 20) && pos > data.size() / 2) {
        data.erase(0, pos);
        base += pos;
        pos = 0;
      }
      const size_t old = data.size();
      const uint64_t left = file_size - std::min<uint64_t>(file_size, base + old);
      const size_t more = static_cast<size_t>(
          std::min<uint64_t>(left, std::max<size_t>(1 << 20, n - (old - pos))));
      if (more == 0) break;
      data.resize(old + more);
      ssize_t got = ::read(fd, data.data() + old, more);
      data.resize(old + static_cast<size_t>(std::max<ssize_t>(got, 0)));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return SysError("read " + path);
      if (got == 0) break;
    }
    return OkStatus();
  };
  uint64_t last = applied_lsn;
  uint64_t prev = 0;  // the LSN of the record before, in the file
  uint64_t replayed = 0;
  std::map<std::string, sqlite3_stmt*, std::less<>> prepared;
  Status st = conn.Exec("BEGIN IMMEDIATE");
  while (st.ok()) {
    if (Status h = have(kHeader); !h.ok()) {
      st = h;
      break;
    }
    if (data.size() - pos < kHeader) break;
    uint32_t body_len, crc;
    uint64_t lsn;
    std::memcpy(&body_len, data.data() + pos, 4);
    std::memcpy(&crc, data.data() + pos + 4, 4);
    std::memcpy(&lsn, data.data() + pos + 8, 8);
    if (body_len == 0 && crc == 0 && lsn == 0) break;  // zeros: never written
    // A length past the file's end is no record (the middle of an older one, say).
    if (body_len > kMaxRecordBytes || base + pos + kHeader + body_len > file_size) break;
    if (Status h = have(kHeader + body_len); !h.ok()) {
      st = h;
      break;
    }
    // Cut short, corrupt, not after the record before it (an older record of a file used again
    // from its beginning) or not following the last one applied: the end of what was written.
    if (data.size() - pos - kHeader < body_len ||
        Crc32c(0, data.data() + pos + 8, 8 + body_len) != crc)
      break;
    if ((prev != 0 && lsn <= prev) || (lsn > last && lsn != last + 1)) break;
    if (lsn == last + 1) {
      st = ApplyRecord(conn, std::string_view(data).substr(pos + kHeader, body_len), prepared);
      if (!st.ok()) break;
      last = lsn;
      ++replayed;
    }
    prev = lsn;
    pos += kHeader + body_len;
  }
  ::close(fd);
  for (auto& [sql, s] : prepared) sqlite3_finalize(s);
  if (st.ok() && last != applied_lsn) st = SetAppliedLsn(conn, last);
  if (st.ok()) st = conn.Exec("COMMIT");
  if (!st.ok()) {
    (void)conn.Exec("ROLLBACK");
    return st.error();
  }
  if (replayed > 0)
    LogInfo("redo log replayed", {{"records", static_cast<int64_t>(replayed)},
                                  {"last_lsn", static_cast<int64_t>(last)}});
  return last;
}

Status EnsureRedoState(SqliteConn& conn) {
  return conn.Exec(
      "CREATE TABLE IF NOT EXISTS redo_state(id INTEGER PRIMARY KEY CHECK (id = 1), "
      "applied_lsn INTEGER NOT NULL); "
      "INSERT OR IGNORE INTO redo_state(id, applied_lsn) VALUES (1, 0)");
}

Result<uint64_t> AppliedLsn(SqliteConn& conn) {
  Stmt s = conn.Prepare("SELECT applied_lsn FROM redo_state WHERE id = 1");
  auto row = s.Step();
  if (!row.ok()) return row.error();
  if (!*row) return MakeError(ErrorCode::kInternal, "redo_state has no row");
  return static_cast<uint64_t>(s.Int(0));
}

Status SetAppliedLsn(SqliteConn& conn, uint64_t lsn) {
  Stmt s = conn.Prepare("UPDATE redo_state SET applied_lsn = ? WHERE id = 1");
  auto r = s.Bind(1, static_cast<int64_t>(lsn)).Run();
  if (!r.ok()) return r.error();
  return OkStatus();
}

}  // namespace parley::storage::sqlite
