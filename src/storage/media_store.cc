#include "storage/media_store.h"

namespace parley::storage {

std::string_view ThumbnailStateName(ThumbnailState s) {
  switch (s) {
    case ThumbnailState::kNone: return "none";
    case ThumbnailState::kPending: return "pending";
    case ThumbnailState::kReady: return "ready";
    case ThumbnailState::kFailed: return "failed";
  }
  return "none";
}

Error QuotaExceeded(uint64_t used, uint64_t quota, uint64_t size) {
  std::string m = "storage quota exceeded: " + std::to_string(used) + " of " +
                  std::to_string(quota) + " bytes used";
  if (size > 0) m += " (this upload: " + std::to_string(size) + " bytes)";
  return MakeError(ErrorCode::kPayloadTooLarge, std::move(m));
}

}  // namespace parley::storage
