#include "storage/blob_store.h"

namespace parley::storage {

bool IsValidBlobKey(std::string_view key) {
  if (key.empty() || key.size() > 128 || key.front() == '.') return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace parley::storage
