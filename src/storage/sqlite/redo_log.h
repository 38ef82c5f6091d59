// RedoLog: the SQLite writer's append-only log of acknowledged writes not yet committed to the
// database (see writer.h for how the writer uses it).
//
// A record is [u32 payload length][u32 CRC-32 of the rest][u64 lsn][u8 type][payload], little
// endian; lsns only grow, one by one. Append writes a whole batch of records with one pwrite and
// makes it durable with one fdatasync before returning; only then may the batch be acknowledged.
// The file is written full of zeros ahead of use (8 MiB, then doubled as needed) and records
// overwrite it in place, so an Append's fdatasync flushes data blocks and no file metadata.
// Reset, once every record is committed to the database, starts the next batch at offset 0
// again (no I/O). Read returns the records from the start of the file up to the first that is
// torn or corrupt (a crash inside an Append: that batch was never acknowledged) or whose lsn does
// not follow its predecessor's (an older run's records, left behind by a Reset).
//
// RedoBuffer encodes one record's payload; RedoReader decodes it and reports a short or malformed
// payload as an error (never reads past its end).
//
// Not thread-safe: the writer thread (and Start/Stop on the owner's thread) use it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace parley::storage::sqlite {

class RedoBuffer {
 public:
  RedoBuffer& I64(int64_t v);
  RedoBuffer& Str(std::string_view s);
  RedoBuffer& Bool(bool b) { return I64(b ? 1 : 0); }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

class RedoReader {
 public:
  explicit RedoReader(std::string_view payload) : rest_(payload) {}
  Result<int64_t> I64();
  Result<std::string> Str();
  Result<bool> Bool();
  bool done() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

struct RedoRecord {
  uint64_t lsn = 0;
  uint8_t type = 0;
  std::string payload;
};

class RedoLog {
 public:
  RedoLog() = default;
  ~RedoLog();
  RedoLog(const RedoLog&) = delete;
  RedoLog& operator=(const RedoLog&) = delete;

  // Opens (creating) the log file.
  Status Open(const std::string& path);
  // Every intact record from the start, in order.
  Result<std::vector<RedoRecord>> Read();
  // Encodes one record onto `batch` (then passed to Append).
  static void Encode(std::string& batch, uint64_t lsn, uint8_t type, std::string_view payload);
  // Writes `batch` after the last record and waits until it is on disk. On failure the file's
  // end stays where it was (the next Append overwrites whatever part was written).
  Status Append(std::string_view batch);
  // The next batch goes to offset 0: call once every record written is committed elsewhere.
  void Reset();
  uint64_t size() const { return end_; }

 private:
  Status Grow(uint64_t need);

  int fd_ = -1;
  std::string path_;
  uint64_t end_ = 0;        // where the next batch goes
  uint64_t allocated_ = 0;  // the file's size, all of it written
};

}  // namespace parley::storage::sqlite
