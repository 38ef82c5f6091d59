// Hub: the live WebSocket sessions of this node, by user and by device. Thread-safe; lookups take
// a shared lock and copy out the sessions, so delivering never holds the lock.
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace parley::services {

class WsSession;

class Hub {
 public:
  void Add(const std::shared_ptr<WsSession>& s);
  void Remove(const WsSession* s);
  std::vector<std::shared_ptr<WsSession>> ForUser(const std::string& user_id) const;
  std::vector<std::shared_ptr<WsSession>> ForDevice(const std::string& device_id) const;
  std::vector<std::shared_ptr<WsSession>> All() const;
  size_t size() const;

 private:
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::vector<std::weak_ptr<WsSession>>> by_user_;  // guarded by mu_
  size_t count_ = 0;  // guarded by mu_
};

}  // namespace parley::services
