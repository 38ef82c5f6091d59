#include "storage/sqlite/redo_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace parley::storage::sqlite {
namespace {

constexpr size_t kHeader = 4 + 4 + 8 + 1;
constexpr uint32_t kMaxPayload = 64u << 20;  // far above any record; a larger length is garbage
constexpr uint64_t kMinSize = 8u << 20;     // the file's first allocation

uint32_t Crc32(std::string_view data) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint64_t GetLe(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

Error IoError(const std::string& what, int err) {
  return MakeError(ErrorCode::kUnavailable, what + ": " + std::strerror(err));
}

}  // namespace

RedoBuffer& RedoBuffer::I64(int64_t v) {
  PutU64(bytes_, static_cast<uint64_t>(v));
  return *this;
}

RedoBuffer& RedoBuffer::Str(std::string_view s) {
  PutU32(bytes_, static_cast<uint32_t>(s.size()));
  bytes_.append(s);
  return *this;
}

Result<int64_t> RedoReader::I64() {
  if (rest_.size() < 8) return MakeError(ErrorCode::kInternal, "redo record: short integer");
  int64_t v = static_cast<int64_t>(GetLe(rest_.data(), 8));
  rest_.remove_prefix(8);
  return v;
}

Result<std::string> RedoReader::Str() {
  if (rest_.size() < 4) return MakeError(ErrorCode::kInternal, "redo record: short string length");
  uint64_t n = GetLe(rest_.data(), 4);
  if (rest_.size() - 4 < n) return MakeError(ErrorCode::kInternal, "redo record: short string");
  std::string s(rest_.substr(4, n));
  rest_.remove_prefix(4 + n);
  return s;
}

Result<bool> RedoReader::Bool() {
  auto v = I64();
  if (!v.ok()) return v.error();
  if (*v != 0 && *v != 1) return MakeError(ErrorCode::kInternal, "redo record: bad boolean");
  return *v == 1;
}

RedoLog::~RedoLog() {
  if (fd_ >= 0) ::close(fd_);
}

Status RedoLog::Open(const std::string& path) {
  path_ = path;
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) return IoError("open " + path, errno);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return IoError("stat " + path, errno);
  allocated_ = static_cast<uint64_t>(st.st_size);
  end_ = allocated_;  // Read() finds the real end
  return OkStatus();
}

Result<std::vector<RedoRecord>> RedoLog::Read() {
  std::string data;
  data.resize(allocated_);
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::pread(fd_, data.data() + got, data.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError("read " + path_, errno);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  data.resize(got);
  std::vector<RedoRecord> out;
  size_t at = 0;
  while (data.size() - at >= kHeader) {
    uint32_t len = static_cast<uint32_t>(GetLe(data.data() + at, 4));
    if (len > kMaxPayload || data.size() - at - kHeader < len) break;  // torn, or zeros
    uint32_t crc = static_cast<uint32_t>(GetLe(data.data() + at + 4, 4));
    std::string_view body(data.data() + at + 8, kHeader - 8 + len);
    if (Crc32(body) != crc) break;  // torn or never written whole
    RedoRecord r;
    r.lsn = GetLe(body.data(), 8);
    // Records of one run of the log have consecutive lsns; what follows a gap is an older run's,
    // left behind when the log started over from offset 0.
    if (!out.empty() && r.lsn != out.back().lsn + 1) break;
    r.type = static_cast<uint8_t>(body[8]);
    r.payload.assign(body.substr(9));
    out.push_back(std::move(r));
    at += kHeader + len;
  }
  // The next batch goes after the last intact record: a torn tail is overwritten.
  end_ = at;
  return out;
}

void RedoLog::Encode(std::string& batch, uint64_t lsn, uint8_t type, std::string_view payload) {
  size_t start = batch.size();
  PutU32(batch, static_cast<uint32_t>(payload.size()));
  PutU32(batch, 0);  // the CRC, filled in below
  PutU64(batch, lsn);
  batch.push_back(static_cast<char>(type));
  batch.append(payload);
  uint32_t crc = Crc32(std::string_view(batch).substr(start + 8));
  for (int i = 0; i < 4; ++i) batch[start + 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xFF);
}

Status RedoLog::Grow(uint64_t need) {
  // Zeros written (not fallocate's unwritten extents) so that a later overwrite changes no
  // metadata: each Append's fdatasync then flushes data blocks only.
  uint64_t target = std::max<uint64_t>(need, std::max<uint64_t>(kMinSize, 2 * allocated_));
  std::string zeros(1 << 20, '\0');
  for (uint64_t at = allocated_; at < target;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), target - at));
    ssize_t w = ::pwrite(fd_, zeros.data(), n, static_cast<off_t>(at));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return IoError("write " + path_, errno);
    at += static_cast<uint64_t>(w);
  }
  if (::fsync(fd_) != 0) return IoError("fsync " + path_, errno);
  allocated_ = target;
  return OkStatus();
}

Status RedoLog::Append(std::string_view batch) {
  if (end_ + batch.size() > allocated_) PARLEY_TRY(Grow(end_ + batch.size()));
  size_t done = 0;
  while (done < batch.size()) {
    ssize_t n = ::pwrite(fd_, batch.data() + done, batch.size() - done,
                         static_cast<off_t>(end_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError("write " + path_, errno);
    done += static_cast<size_t>(n);
  }
  if (::fdatasync(fd_) != 0) return IoError("fdatasync " + path_, errno);
  end_ += batch.size();
  return OkStatus();
}

void RedoLog::Reset() { end_ = 0; }

}  // namespace parley::storage::sqlite
