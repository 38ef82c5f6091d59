// LocalBlobStore: the embedded BlobStore, files in one directory (DATA_DIR/media).
//
// A blob `key` lives at ROOT/<xx>/<key>, where xx is the first byte of SHA-256(key) in hex, so no
// directory grows past a few thousand entries per million blobs. Keys are validated (never a
// client-chosen path). A write goes to ROOT/tmp/ first; Commit fsyncs the file, renames it into
// place and fsyncs the directory, so a crash leaves either the whole blob or none of it. Open()
// deletes what a crash left in ROOT/tmp/. Thread-safe.
#pragma once

#include <string>

#include "storage/blob_store.h"

namespace parley::storage::local {

class LocalBlobStore final : public BlobStore {
 public:
  explicit LocalBlobStore(std::string root) : root_(std::move(root)) {}

  // Creates ROOT and ROOT/tmp (mode 0700) if absent and empties ROOT/tmp. Call once, first.
  Status Open();

  Result<std::unique_ptr<BlobWriter>> Create(std::string_view key) override;
  Result<std::unique_ptr<BlobReader>> Open(std::string_view key) override;
  Status Remove(std::string_view key) override;
  Status Ping() override;

  // Where the blob `key` lives (for tests and operators).
  std::string PathOf(std::string_view key) const;

 private:
  std::string ShardOf(std::string_view key) const;

  const std::string root_;
};

}  // namespace parley::storage::local
