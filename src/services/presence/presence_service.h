// Presence service: who is online. A user with a connected device is `online` unless they chose
// another status; `presence_offline_after_ms` after their last device goes away they are
// `offline`, with last_seen_at = when it went away. Status is visible only to the user and to
// those who share a conversation with them. Changes are published as USER_STATUS_CHANGED.
//
// Connections are counted by a ConnectionRegistry: in memory on one node, in Redis across the
// nodes of a cluster, so a user whose other device is connected to another node stays online.
// With `shared_state` (a cluster), the chosen status is read from the store on every query, since
// another node may have changed it.
//
// Thread-safe: state is guarded by mu_; timers run on the blocking pool.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "services/context.h"
#include "storage/cluster_state.h"
#include "transport/router.h"

namespace parley::services {

struct PresenceStatus {
  std::string user_id;
  std::string status;  // online, away, busy, offline
  std::string text;
  int64_t last_seen_at = 0;
};

class PresenceService {
 public:
  PresenceService(Context& ctx, storage::ConnectionRegistry& registry, bool shared_state)
      : ctx_(ctx), registry_(registry), shared_state_(shared_state) {}
  void Register(transport::Router& router);

  // From the gateway, on a device's WebSocket opening and closing. `recorded` (optional) runs
  // on the blocking pool once the connection registry has the connection (or refused it).
  void DeviceConnected(const std::string& user_id, const std::string& device_id,
                       std::function<void()> recorded = {});
  void DeviceDisconnected(const std::string& user_id, const std::string& device_id);
  // Re-evaluates users whose connections vanished without a disconnect (a crashed node, in a
  // cluster): those with none left go offline after the grace period.
  void Recheck(const std::vector<std::string>& user_ids);
  // Cancels timers. Pending offline transitions are dropped (the next start sees no one online).
  void Stop();

 private:
  struct State {
    bool loaded = false;
    int connections = 0;
    bool in_grace = false;        // last device gone, not yet offline
    uint64_t generation = 0;      // bumps on every connect: stale offline timers do nothing
    std::string chosen = "online";
    std::string text;
    int64_t last_seen_at = 0;
    std::string published;        // the status last published
    std::shared_ptr<boost::asio::steady_timer> timer;
  };
  static std::string Effective(const State& s);
  // Loads the chosen status from the store on first use. Requires mu_ held; may read the store.
  State& Get(const std::string& user_id);
  // Publishes USER_STATUS_CHANGED if the effective status or text changed. Requires mu_ held.
  void MaybePublish(const std::string& user_id, State& s, bool force);
  void Persist(const std::string& user_id, const State& s);
  // Starts the grace period after which a user with no connections is offline. Requires mu_.
  void StartGrace(const std::string& user_id, State& s, int64_t gone_at, bool force_publish);
  // The user's open connections on every node (the registry), or `fallback` if it cannot say.
  int Connections(const std::string& user_id, int fallback);

  boost::asio::awaitable<transport::HttpResponse> Update(transport::HttpRequest& req);
  boost::asio::awaitable<transport::HttpResponse> GetStatus(transport::HttpRequest& req);

  Context& ctx_;
  storage::ConnectionRegistry& registry_;
  const bool shared_state_;
  std::mutex mu_;
  std::unordered_map<std::string, State> users_;  // guarded by mu_
  bool stopped_ = false;                          // guarded by mu_
};

}  // namespace parley::services
