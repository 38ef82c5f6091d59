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

}  // namespace parley::storage
