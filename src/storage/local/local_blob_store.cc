#include "storage/local/local_blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/encoding.h"

namespace parley::storage::local {
namespace {

Error IoError(std::string_view what, const std::string& path, int err) {
  return MakeError(ErrorCode::kUnavailable,
                   std::string(what) + " " + path + ": " + std::strerror(err));
}

Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) return OkStatus();
  return IoError("cannot create", path, errno);
}

Status SyncDir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return IoError("cannot sync", path, err);
  return OkStatus();
}

class FileWriter final : public BlobWriter {
 public:
  FileWriter(int fd, std::string tmp, std::string dir, std::string final_path)
      : fd_(fd), tmp_(std::move(tmp)), dir_(std::move(dir)), final_(std::move(final_path)) {}
  ~FileWriter() override {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }

  Status Append(std::span<const char> bytes) override {
    if (fd_ < 0) return MakeError(ErrorCode::kInternal, "blob writer already closed");
    const char* p = bytes.data();
    size_t left = bytes.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return IoError("cannot write", tmp_, errno);
      p += n;
      left -= static_cast<size_t>(n);
    }
    size_ += bytes.size();
    return OkStatus();
  }

  Status Commit() override {
    if (fd_ < 0) return MakeError(ErrorCode::kInternal, "blob writer already closed");
    int rc = ::fsync(fd_);
    int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (rc != 0) return IoError("cannot sync", tmp_, err);
    PARLEY_TRY(MakeDir(dir_));
    if (::rename(tmp_.c_str(), final_.c_str()) != 0) return IoError("cannot rename to", final_, errno);
    committed_ = true;
    return SyncDir(dir_);
  }

 private:
  int fd_;
  const std::string tmp_, dir_, final_;
  bool committed_ = false;
};

class FileReader final : public BlobReader {
 public:
  FileReader(int fd, uint64_t size, std::string path)
      : fd_(fd), size_(size), path_(std::move(path)) {}
  ~FileReader() override { ::close(fd_); }

  uint64_t size() const override { return size_; }

  Result<size_t> ReadAt(uint64_t offset, std::span<char> out) override {
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n = ::pread(fd_, out.data() + done, out.size() - done,
                          static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return IoError("cannot read", path_, errno);
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    return done;
  }

 private:
  const int fd_;
  const uint64_t size_;
  const std::string path_;
};

Error BadKey() { return MakeError(ErrorCode::kInvalidArgument, "malformed blob key"); }

}  // namespace

Status LocalBlobStore::Open() {
  PARLEY_TRY(MakeDir(root_));
  std::string tmp = root_ + "/tmp";
  PARLEY_TRY(MakeDir(tmp));
  DIR* d = ::opendir(tmp.c_str());
  if (!d) return IoError("cannot list", tmp, errno);
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    ::unlink((tmp + "/" + name).c_str());  // leftovers of writes a crash interrupted
  }
  ::closedir(d);
  return OkStatus();
}

std::string LocalBlobStore::ShardOf(std::string_view key) const {
  return root_ + "/" + HexEncode(Sha256(key).substr(0, 1));
}

std::string LocalBlobStore::PathOf(std::string_view key) const {
  return ShardOf(key) + "/" + std::string(key);
}

Result<std::unique_ptr<BlobWriter>> LocalBlobStore::Create(std::string_view key) {
  if (!IsValidBlobKey(key)) return BadKey();
  std::string tmp = root_ + "/tmp/" + HexEncode(RandomBytes(16)) + ".part";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("cannot create", tmp, errno);
  return std::unique_ptr<BlobWriter>(
      std::make_unique<FileWriter>(fd, std::move(tmp), ShardOf(key), PathOf(key)));
}

Result<std::unique_ptr<BlobReader>> LocalBlobStore::Open(std::string_view key) {
  if (!IsValidBlobKey(key)) return BadKey();
  std::string path = PathOf(key);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return MakeError(ErrorCode::kNotFound, "no such blob");
    return IoError("cannot open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return IoError("cannot stat", path, err);
  }
  return std::unique_ptr<BlobReader>(
      std::make_unique<FileReader>(fd, static_cast<uint64_t>(st.st_size), std::move(path)));
}

Status LocalBlobStore::Remove(std::string_view key) {
  if (!IsValidBlobKey(key)) return BadKey();
  std::string path = PathOf(key);
  if (::unlink(path.c_str()) == 0 || errno == ENOENT) return OkStatus();
  return IoError("cannot remove", path, errno);
}

Status LocalBlobStore::Ping() {
  std::string tmp = root_ + "/tmp";
  if (::access(tmp.c_str(), W_OK) != 0) return IoError("cannot write to", tmp, errno);
  return OkStatus();
}

}  // namespace parley::storage::local
