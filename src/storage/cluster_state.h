// Cluster state: what several `parleyd` nodes must agree on that is not durable data.
//
// - ConnectionRegistry: which nodes hold a user's (and a device's) WebSocket connections. It
//   answers "is this user online anywhere" (presence), "is this device online anywhere" (push
//   notifications) and "which nodes should get this user's messages" (routing).
// - SharedRateLimiter: token buckets that hold across nodes.
// - RevocationList: revoked devices and logged-out access tokens, seen by every node as soon as
//   the revoking request returns (the event bus tells the others too, but later).
// - HotCache: a shared key-value cache with expiry in front of the stores (CachedAuthStore).
//
// Adapters: local/memory_cluster_state.h (embedded profile: one process, today's behaviour) and
// redis/redis_cluster_state.h (scale-out profile). See DESIGN.md "Deployment profiles".
//
// Ids (user, device, node) are at most kMaxClusterIdBytes of [A-Za-z0-9._-] (UUIDs, host names);
// anything else is kInvalidArgument, so keys stay bounded and unambiguous. Every method is
// thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace parley::storage {

inline constexpr size_t kMaxClusterIdBytes = 128;

// True if `id` is 1..kMaxClusterIdBytes of [A-Za-z0-9._-].
bool ValidClusterId(std::string_view id);

class ConnectionRegistry {
 public:
  virtual ~ConnectionRegistry() = default;

  // This node's id: the value NodesOf() returns for connections made here.
  virtual const std::string& node_id() const = 0;

  // One more / one fewer open connection of (user, device) on this node. Call Disconnected()
  // exactly once per Connected(); a Disconnected() without a matching Connected() is ignored.
  // Errors: kInvalidArgument (bad id); kUnavailable (shared state unreachable). On kUnavailable
  // the call still counts locally and the shared state is repaired when it is reachable again,
  // so callers log and go on; they never retry.
  virtual Status Connected(std::string_view user_id, std::string_view device_id) = 0;
  virtual Status Disconnected(std::string_view user_id, std::string_view device_id) = 0;

  // Open connections of the user across all live nodes (0 if none). Connections held by nodes
  // that stopped heartbeating are not counted. Errors: kInvalidArgument, kUnavailable.
  virtual Result<int64_t> UserConnections(std::string_view user_id) = 0;
  // Whether the device has an open connection on any live node.
  virtual Result<bool> DeviceOnline(std::string_view user_id, std::string_view device_id) = 0;
  // The live nodes holding at least one connection of the user, sorted, without duplicates.
  virtual Result<std::vector<std::string>> NodesOf(std::string_view user_id) = 0;

  // For routing live events (services/delivery): per user of `user_ids`, in the same order, the
  // live nodes holding at least one of its connections that read the events addressed to them
  // (EventBus::PublishTo), sorted. Nodes that do not (an older version, which reads every event)
  // are left out. One round trip for all users. Errors: kInvalidArgument, kUnavailable.
  virtual Result<std::vector<std::vector<std::string>>> DeliveryNodes(
      const std::vector<std::string>& user_ids) = 0;
  struct LiveNode {
    std::string node_id;
    bool addressed = false;  // reads the events addressed to it
  };
  // Every live node, sorted by id. Errors: kUnavailable.
  virtual Result<std::vector<LiveNode>> LiveNodes() = 0;
};

class SharedRateLimiter {
 public:
  virtual ~SharedRateLimiter() = default;

  // Same contract as RateLimiter::Allow (common/rate_limiter.h): 0 if allowed (a token was
  // taken), else the whole seconds to wait (at least 1). Unlimited if per_minute <= 0. Keys are
  // any bytes; long keys are hashed. What happens when the shared state is unreachable is the
  // adapter's constructor option (see redis/redis_rate_limiter.h); it never blocks longer than
  // the adapter's command timeout.
  virtual int64_t Allow(std::string_view key) = 0;
  // The same for a cost of `tokens` (> 0; e.g. bytes): waits until that many are there; a cost
  // above the burst is taken as the burst (RateLimiter::Allow).
  virtual int64_t Take(std::string_view key, double tokens) = 0;
  virtual bool unlimited() const = 0;
};

class RevocationList {
 public:
  virtual ~RevocationList() = default;

  // Records that access tokens of `device_id` (resp. the access token `jti`) are refused, for
  // `ttl_ms` (the longest an access token issued before now can still be valid: after that the
  // store's record and each node's memory suffice). Errors: kInvalidArgument (bad id, ttl <= 0),
  // kUnavailable. Callers revoke in the store first; this only shortens the time other nodes
  // take to learn it.
  virtual Status RevokeDevice(std::string_view device_id, int64_t ttl_ms) = 0;
  virtual Status DenyToken(std::string_view jti, int64_t ttl_ms) = 0;
  // True if the device is revoked or the token denied. Errors: kInvalidArgument, kUnavailable.
  virtual Result<bool> IsRevoked(std::string_view device_id, std::string_view jti) = 0;
};

class HotCache {
 public:
  virtual ~HotCache() = default;

  // Keys are 1..kMaxClusterIdBytes of [A-Za-z0-9._:-]; values any bytes up to kMaxValueBytes.
  static constexpr size_t kMaxValueBytes = 64 * 1024;

  // The value, or std::nullopt on a miss (absent or expired). Errors: kInvalidArgument,
  // kUnavailable (callers then read the store).
  virtual Result<std::optional<std::string>> Get(std::string_view key) = 0;
  // Stores `value` for `ttl_ms` (> 0). Errors: kInvalidArgument, kUnavailable.
  virtual Status Set(std::string_view key, std::string_view value, int64_t ttl_ms) = 0;
  // Removes the key (absent is fine). Errors: kInvalidArgument, kUnavailable.
  virtual Status Delete(std::string_view key) = 0;
};

// True if `key` is a valid HotCache key.
bool ValidCacheKey(std::string_view key);

}  // namespace parley::storage
