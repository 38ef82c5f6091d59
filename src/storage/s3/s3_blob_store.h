// S3BlobStore: the scale-out BlobStore, objects in one bucket of an S3-compatible object store
// (AWS S3, S3Proxy, MinIO, Ceph RGW, …), spoken to over HTTP with path-style URLs
// (http://host:port/bucket/key) and SigV4-signed requests (sigv4.h).
//
// - The object key is the blob key (already restricted to [a-z0-9._-], so never a path).
// - A writer buffers up to `part_size` bytes. A blob that fits is one PUT at Commit; a larger one
//   becomes a multipart upload (CreateMultipartUpload when the first part is full, UploadPart per
//   part, CompleteMultipartUpload at Commit). Nothing is visible before Commit. A writer destroyed
//   without a successful Commit, or whose upload failed, aborts its multipart upload
//   (AbortMultipartUpload); a crash leaves the parts behind, so give the bucket a lifecycle rule
//   that aborts incomplete multipart uploads after a day.
// - A reader asks HEAD for the size (and ETag) once, then one ranged GET per ReadAt (with
//   If-Match, so a blob replaced under the same key is never read half old, half new).
// - Errors: kInvalidArgument for a malformed key; kNotFound from Open when the object does not
//   exist; kUnavailable when the store cannot be reached, times out, refuses the credentials or
//   answers 5xx. Messages name the operation and S3's error code, never a secret or a signature.
// Thread-safe; every call blocks (pool threads only).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "storage/blob_store.h"
#include "storage/s3/s3_http.h"
#include "storage/s3/s3_url.h"

namespace parley::storage::s3 {

struct S3Options {
  S3Url url;
  uint64_t part_size = 8ull << 20;  // multipart part size; S3 wants >= 5 MiB (but the last)
  HttpOptions http;
};

class S3BlobStore final : public BlobStore {
 public:
  explicit S3BlobStore(S3Options options);
  ~S3BlobStore() override;

  // Checks the options and that the bucket answers (Ping). Call once, first.
  Status Open();

  Result<std::unique_ptr<BlobWriter>> Create(std::string_view key) override;
  Result<std::unique_ptr<BlobReader>> Open(std::string_view key) override;
  Status Remove(std::string_view key) override;
  Status Ping() override;

  // A presigned GET URL of the blob `key` valid for `expires_s` seconds from now (1 s to 7 days),
  // so that a download can be redirected to the object store. The URL carries a signature (not
  // the secret): treat it as a bearer credential for that one object until it expires.
  Result<std::string> PresignGet(std::string_view key, int64_t expires_s) const;
  // The same at a given Unix time (tests).
  Result<std::string> PresignGetAt(std::string_view key, int64_t expires_s, int64_t now_s) const;

  // The upload ids of multipart uploads in progress for `key` (operators and tests: a writer that
  // was abandoned must leave none).
  Result<std::vector<std::string>> MultipartUploads(std::string_view key);

  const S3Url& url() const { return options_.url; }

  // detail: one signed request to the bucket (used by the writer and reader).
  struct Call;
  Result<HttpResponse> Send(Call call);

 private:
  const S3Options options_;
  std::unique_ptr<HttpClient> http_;
};

}  // namespace parley::storage::s3
