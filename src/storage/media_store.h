// MediaStore: metadata of uploaded media (the seed's media table plus size, hash, file name and
// thumbnail state). The bytes live in a BlobStore under `blob_key`.
// Threading and errors as in auth_store.h: reads are synchronous (call from a pool), writes
// asynchronous with a completion on the store's completion thread after the commit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/model.h"

namespace parley::storage {

// none: not an image the server thumbnails (or encrypted); pending: queued for the processing
// worker; ready: the thumbnail blob exists; failed: processing gave up (see thumb_error).
enum class ThumbnailState { kNone, kPending, kReady, kFailed };

struct Thumbnail {
  std::string blob_key;
  std::string media_type;  // image/jpeg or image/png
  uint64_t size = 0;
  std::string sha256;      // lowercase hex
  int width = 0;
  int height = 0;
};

struct Media {
  std::string media_id;
  std::string uploader_id;
  std::string media_type;  // lowercase type/subtype, no parameters
  std::string blob_key;    // the seed's media_url: where the bytes are in the BlobStore
  std::optional<std::string> message_id;  // the first message of the uploader that named it
  int64_t created_at = 0;
  uint64_t size = 0;
  std::string sha256;  // lowercase hex of the bytes
  std::string filename;  // sanitized, may be empty
  ThumbnailState thumbnail_state = ThumbnailState::kNone;
  std::optional<Thumbnail> thumbnail;  // set when kReady
  std::string thumb_error;             // set when kFailed: why, for operators (not secret)
};

class MediaStore {
 public:
  virtual ~MediaStore() = default;

  // Stores new metadata. kConflict if the media_id exists. With `quota_bytes` > 0:
  // kPayloadTooLarge (QuotaExceeded) if the uploader's stored bytes (StoredBytes) plus this
  // media's size would exceed it; checked in the write, so concurrent uploads cannot all pass.
  virtual void InsertMedia(Media media, uint64_t quota_bytes, Done<Unit> done) = 0;
  // kNotFound if absent.
  virtual Result<Media> GetMedia(std::string_view media_id) = 0;
  // The bytes of the media `uploader_id` has stored: the sum of their sizes (thumbnails, which
  // the server makes, not counted). 0 for a user with none.
  virtual Result<uint64_t> StoredBytes(std::string_view uploader_id) = 0;
  // Records the outcome of thumbnail processing: kReady with `thumbnail`, or kFailed with
  // `error`. kNotFound if no such media.
  virtual void SetThumbnail(std::string media_id, ThumbnailState state,
                            std::optional<Thumbnail> thumbnail, std::string error,
                            Done<Unit> done) = 0;
  // Sets message_id if it is unset and `uploader_id` uploaded the media; otherwise changes
  // nothing (not an error). kNotFound if no such media.
  virtual void LinkMessage(std::string media_id, std::string uploader_id, std::string message_id,
                           Done<Unit> done) = 0;
  // Ids of media whose thumbnail is pending, oldest first, up to `limit` (to resume after a
  // restart).
  virtual Result<std::vector<std::string>> PendingThumbnails(int limit) = 0;
};

std::string_view ThumbnailStateName(ThumbnailState s);  // none, pending, ready, failed
// kPayloadTooLarge "storage quota exceeded: USED of QUOTA bytes used (this upload: SIZE bytes)";
// `size` 0 leaves the parenthesis out.
Error QuotaExceeded(uint64_t used, uint64_t quota, uint64_t size);

}  // namespace parley::storage
