// RedisConnectionRegistry: the ConnectionRegistry of the scale-out profile, shared through Redis.
//
// Keys (P = key_prefix, default "parley:"):
//   P node:<node>                 heartbeat, PX heartbeat_ttl_ms, refreshed every
//                                 heartbeat_interval_ms by a background thread: "a" if the node
//                                 reads the events addressed to it (reads_addressed), else "1"
//                                 (also what versions before addressed delivery write)
//   P nodes                       set of node ids that may have entries (for the sweeper)
//   P uconn:<user>                hash node -> open connections of the user on that node
//   P dconn:<user>:<device>       hash node -> open connections of the device on that node
//   P nodeconns:<node>            set of "<user> <device>" with entries of that node
// Reads count only nodes whose heartbeat key exists and delete the fields of the others (lazy
// purge); every sweep_every_beats heartbeats a node also purges all entries of dead nodes.
// Needs a single Redis (or a Sentinel primary), not Redis Cluster: scripts touch keys of
// several users.
//
// This node keeps its own counts in memory and writes absolute values, so a write that failed
// (Redis down) or state Redis lost (restart, or our heartbeat expired and others purged us) is
// rewritten from memory by the heartbeat thread as soon as Redis answers again.
//
// Node ids must be unique among live nodes; a node restarting with the same id replaces what its
// previous run left. Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "storage/cluster_state.h"
#include "storage/redis/redis_client.h"

namespace parley::storage::redis {

struct RedisRegistryOptions {
  std::string node_id;  // [A-Za-z0-9._-]; empty: a random id
  std::string key_prefix = "parley:";
  int heartbeat_ttl_ms = 10000;
  int heartbeat_interval_ms = 3000;
  int sweep_every_beats = 10;
  // This node reads the events addressed to it (EventBus::PublishTo), so others may route live
  // events to it instead of relying on it reading every event.
  bool reads_addressed = false;
};

class RedisConnectionRegistry final : public ConnectionRegistry {
 public:
  // `client` (and `route_reads`, if given) must outlive this registry. DeliveryNodes and
  // LiveNodes use `route_reads` when given: they are asked on the path of every live event, so a
  // client with short timeouts suits them.
  RedisConnectionRegistry(RedisClient& client, RedisRegistryOptions options,
                          RedisClient* route_reads = nullptr);
  ~RedisConnectionRegistry() override;  // Stop() if still running

  // Replaces what a previous run with this node id left, publishes the heartbeat and starts the
  // heartbeat thread. kInvalidArgument (bad node id or prefix), kUnavailable (Redis unreachable:
  // nothing is started). Call once.
  Status Start();
  // Graceful shutdown: stops the heartbeat thread and removes this node's heartbeat and entries,
  // so its users stop counting at once. Best effort if Redis is unreachable (the entries then
  // expire with the heartbeat). Idempotent.
  void Stop();
  // Stops the heartbeat thread and leaves everything in Redis, as a crash would. For tests.
  void Abandon();

  // `fn` is called on the heartbeat thread with the users (sorted, unique) whose connections on a
  // dead node this node's sweeper just removed, so that presence can re-evaluate them: a crashed
  // node sends no disconnects. Each dead entry is swept by exactly one node. `fn` must not block
  // long (post the work elsewhere). May be set at any time; replaces the previous one.
  using UsersPurged = std::function<void(const std::vector<std::string>& user_ids)>;
  void SetOnUsersPurged(UsersPurged fn);

  const std::string& node_id() const override { return node_id_; }
  Status Connected(std::string_view user_id, std::string_view device_id) override;
  Status Disconnected(std::string_view user_id, std::string_view device_id) override;
  Result<int64_t> UserConnections(std::string_view user_id) override;
  Result<bool> DeviceOnline(std::string_view user_id, std::string_view device_id) override;
  Result<std::vector<std::string>> NodesOf(std::string_view user_id) override;
  Result<std::vector<std::vector<std::string>>> DeliveryNodes(
      const std::vector<std::string>& user_ids) override;
  Result<std::vector<LiveNode>> LiveNodes() override;

 private:
  struct User {
    int64_t connections = 0;
    std::unordered_map<std::string, int64_t> devices;  // device_id -> open connections (> 0)
  };

  Status Change(std::string_view user_id, std::string_view device_id, int delta);
  // Writes this node's counts of (user, device) to Redis.
  Status Write(std::string_view user_id, std::string_view device_id, int64_t user_count,
               int64_t device_count);
  // Live (node, count) pairs of a uconn/dconn hash; purges fields of dead nodes.
  Result<std::vector<std::pair<std::string, int64_t>>> Live(const std::string& key);
  // Rewrites all of this node's state from memory. Takes resync_mu_ exclusively.
  Status Resync();
  Status Heartbeat(bool* lost);
  // The heartbeat's value: "a" if this node reads addressed events, else "1".
  const char* Beat() const { return options_.reads_addressed ? "a" : "1"; }
  void Sweep();
  // Removes all entries of `node`, adding the users they belonged to to *users (if not null);
  // refuses (returns false) while its heartbeat exists.
  bool Purge(const std::string& node, std::vector<std::string>* users);
  void Run();
  void StopThread();

  RedisClient& client_;
  RedisClient& route_reads_;
  const RedisRegistryOptions options_;  // constant after construction
  const std::string node_id_;           // constant after construction
  const std::string heartbeat_key_;     // constant after construction

  // Writes take resync_mu_ shared and their user's stripe, so writes of one user are ordered;
  // Resync() takes resync_mu_ exclusively.
  std::shared_mutex resync_mu_;
  std::array<std::mutex, 64> stripes_;
  std::mutex mu_;
  std::unordered_map<std::string, User> users_;  // guarded by mu_: this node's connections
  std::atomic<bool> dirty_{false};  // a write failed: Redis may disagree with users_

  std::mutex purged_mu_;
  UsersPurged on_users_purged_;  // guarded by purged_mu_

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stopping_ = false;  // guarded by run_mu_
  bool running_ = false;   // guarded by run_mu_
  std::thread thread_;
};

}  // namespace parley::storage::redis
