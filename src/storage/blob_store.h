// BlobStore: the bytes of uploaded media, by key. Metadata lives in MediaStore.
//
// Keys are chosen by the server, never by a client: 1-128 characters of [a-z0-9._-], not
// starting with '.' (a media id, or a media id plus a variant suffix such as ".thumb"). Blobs are
// immutable once committed. All methods block on I/O: call them from a pool thread, never an I/O
// thread. The store is thread-safe; a BlobWriter or BlobReader is used by one thread at a time
// (it may move between pool threads).
// Errors: kInvalidArgument for a malformed key; kUnavailable when the storage fails (disk full,
// I/O error, unreachable object store); per method below.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "common/result.h"

namespace parley::storage {

// One blob being written. Nothing is visible under the key until Commit succeeds; a writer
// destroyed without a successful Commit discards what it wrote.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  virtual Status Append(std::span<const char> bytes) = 0;
  // Makes the blob durable and visible under its key (replacing any blob of that key).
  virtual Status Commit() = 0;
  uint64_t size() const { return size_; }

 protected:
  uint64_t size_ = 0;  // bytes appended so far
};

// One committed blob, open for reading.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  virtual uint64_t size() const = 0;
  // Reads up to out.size() bytes at `offset`; returns how many (0 only at or past the end).
  virtual Result<size_t> ReadAt(uint64_t offset, std::span<char> out) = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  // Starts writing the blob `key`.
  virtual Result<std::unique_ptr<BlobWriter>> Create(std::string_view key) = 0;
  // kNotFound if no committed blob has this key.
  virtual Result<std::unique_ptr<BlobReader>> Open(std::string_view key) = 0;
  // Deletes a blob; one that does not exist is not an error.
  virtual Status Remove(std::string_view key) = 0;
  // Is the storage answering (for /readyz)?
  virtual Status Ping() = 0;
};

// Whether `key` is a well-formed blob key (see above).
bool IsValidBlobKey(std::string_view key);

}  // namespace parley::storage
