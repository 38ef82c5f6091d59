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

}  // namespace parley::storage
