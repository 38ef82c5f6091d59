// In-memory cluster state for the embedded profile (one process): the behaviour parleyd had
// before the scale-out profile. The registry counts this process's connections; the limiter is
// a common/rate_limiter.h RateLimiter. Neither can be unavailable. Thread-safe.
// MemoryHotCache is the HotCache contract in memory (the embedded profile needs no cache in
// front of SQLite; unit tests of cache users use it).
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/rate_limiter.h"
#include "storage/cluster_state.h"

namespace parley::storage {

class MemoryConnectionRegistry final : public ConnectionRegistry {
 public:
  explicit MemoryConnectionRegistry(std::string node_id = "local") : node_id_(std::move(node_id)) {}

  const std::string& node_id() const override { return node_id_; }
  Status Connected(std::string_view user_id, std::string_view device_id) override;
  Status Disconnected(std::string_view user_id, std::string_view device_id) override;
  Result<int64_t> UserConnections(std::string_view user_id) override;
  Result<bool> DeviceOnline(std::string_view user_id, std::string_view device_id) override;
  Result<std::vector<std::string>> NodesOf(std::string_view user_id) override;
  // This process, for the users connected here; it counts as reading addressed events.
  Result<std::vector<std::vector<std::string>>> DeliveryNodes(
      const std::vector<std::string>& user_ids) override;
  Result<std::vector<LiveNode>> LiveNodes() override;

 private:
  struct User {
    int64_t connections = 0;
    std::unordered_map<std::string, int64_t> devices;  // device_id -> open connections (> 0)
  };

  const std::string node_id_;  // constant after construction
  std::mutex mu_;
  std::unordered_map<std::string, User> users_;  // guarded by mu_; only users with connections
};

class MemoryRateLimiter final : public SharedRateLimiter {
 public:
  MemoryRateLimiter(double per_minute, double burst) : limiter_(per_minute, burst) {}
  int64_t Allow(std::string_view key) override { return limiter_.Allow(key); }
  int64_t Take(std::string_view key, double tokens) override {
    return limiter_.Allow(key, tokens);
  }
  bool unlimited() const override { return limiter_.unlimited(); }

 private:
  RateLimiter limiter_;
};

class MemoryHotCache final : public HotCache {
 public:
  Result<std::optional<std::string>> Get(std::string_view key) override;
  Status Set(std::string_view key, std::string_view value, int64_t ttl_ms) override;
  Status Delete(std::string_view key) override;
  size_t size();  // entries not yet expired

 private:
  struct Entry {
    std::string value;
    std::chrono::steady_clock::time_point expires;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // guarded by mu_
};

}  // namespace parley::storage
