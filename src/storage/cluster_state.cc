#include "storage/cluster_state.h"

namespace parley::storage {

bool ValidClusterId(std::string_view id) {
  if (id.empty() || id.size() > kMaxClusterIdBytes) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool ValidCacheKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxClusterIdBytes) return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == ':';
    if (!ok) return false;
  }
  return true;
}

}  // namespace parley::storage
