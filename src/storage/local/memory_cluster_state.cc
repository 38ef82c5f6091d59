#include "storage/local/memory_cluster_state.h"

namespace parley::storage {

namespace {
Error BadId() { return MakeError(ErrorCode::kInvalidArgument, "invalid user or device id"); }
}  // namespace

Status MemoryConnectionRegistry::Connected(std::string_view user_id, std::string_view device_id) {
  if (!ValidClusterId(user_id) || !ValidClusterId(device_id)) return BadId();
  std::lock_guard lock(mu_);
  User& u = users_[std::string(user_id)];
  u.connections++;
  u.devices[std::string(device_id)]++;
  return OkStatus();
}

Status MemoryConnectionRegistry::Disconnected(std::string_view user_id,
                                              std::string_view device_id) {
  if (!ValidClusterId(user_id) || !ValidClusterId(device_id)) return BadId();
  std::lock_guard lock(mu_);
  auto u = users_.find(std::string(user_id));
  if (u == users_.end()) return OkStatus();
  auto d = u->second.devices.find(std::string(device_id));
  if (d == u->second.devices.end()) return OkStatus();  // no matching Connected(): ignored
  if (--d->second == 0) u->second.devices.erase(d);
  if (--u->second.connections == 0) users_.erase(u);
  return OkStatus();
}

Result<int64_t> MemoryConnectionRegistry::UserConnections(std::string_view user_id) {
  if (!ValidClusterId(user_id)) return BadId();
  std::lock_guard lock(mu_);
  auto u = users_.find(std::string(user_id));
  return u == users_.end() ? int64_t{0} : u->second.connections;
}

Result<bool> MemoryConnectionRegistry::DeviceOnline(std::string_view user_id,
                                                    std::string_view device_id) {
  if (!ValidClusterId(user_id) || !ValidClusterId(device_id)) return BadId();
  std::lock_guard lock(mu_);
  auto u = users_.find(std::string(user_id));
  return u != users_.end() && u->second.devices.count(std::string(device_id)) > 0;
}

Result<std::vector<std::string>> MemoryConnectionRegistry::NodesOf(std::string_view user_id) {
  if (!ValidClusterId(user_id)) return BadId();
  std::lock_guard lock(mu_);
  std::vector<std::string> nodes;
  if (users_.count(std::string(user_id))) nodes.push_back(node_id_);
  return nodes;
}

Result<std::vector<std::vector<std::string>>> MemoryConnectionRegistry::DeliveryNodes(
    const std::vector<std::string>& user_ids) {
  for (const auto& u : user_ids)
    if (!ValidClusterId(u)) return BadId();
  std::lock_guard lock(mu_);
  std::vector<std::vector<std::string>> out(user_ids.size());
  for (size_t i = 0; i < user_ids.size(); ++i)
    if (users_.count(user_ids[i])) out[i].push_back(node_id_);
  return out;
}

Result<std::vector<ConnectionRegistry::LiveNode>> MemoryConnectionRegistry::LiveNodes() {
  return std::vector<LiveNode>{{node_id_, true}};
}

Result<std::optional<std::string>> MemoryHotCache::Get(std::string_view key) {
  if (!ValidCacheKey(key)) return MakeError(ErrorCode::kInvalidArgument, "invalid cache key");
  std::lock_guard lock(mu_);
  auto it = entries_.find(std::string(key));
  if (it == entries_.end()) return std::optional<std::string>();
  if (it->second.expires <= std::chrono::steady_clock::now()) {
    entries_.erase(it);
    return std::optional<std::string>();
  }
  return std::optional<std::string>(it->second.value);
}

Status MemoryHotCache::Set(std::string_view key, std::string_view value, int64_t ttl_ms) {
  if (!ValidCacheKey(key)) return MakeError(ErrorCode::kInvalidArgument, "invalid cache key");
  if (value.size() > kMaxValueBytes)
    return MakeError(ErrorCode::kInvalidArgument, "cache value too large");
  if (ttl_ms <= 0) return MakeError(ErrorCode::kInvalidArgument, "ttl must be positive");
  std::lock_guard lock(mu_);
  entries_[std::string(key)] = {std::string(value),
                                std::chrono::steady_clock::now() + std::chrono::milliseconds(ttl_ms)};
  return OkStatus();
}

Status MemoryHotCache::Delete(std::string_view key) {
  if (!ValidCacheKey(key)) return MakeError(ErrorCode::kInvalidArgument, "invalid cache key");
  std::lock_guard lock(mu_);
  entries_.erase(std::string(key));
  return OkStatus();
}

size_t MemoryHotCache::size() {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  size_t n = 0;
  for (const auto& [k, e] : entries_) n += e.expires > now;
  return n;
}

}  // namespace parley::storage
