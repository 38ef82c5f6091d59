// DeliveryRouter: how the live events of message-events (MESSAGE_SENT, MESSAGE_DELIVERED/READ,
// TYPING, TO_DEVICE_SENT) reach the gateways that hold their recipients' WebSockets.
//
// Broadcast (the embedded profile, or a bus or cluster state that cannot address nodes): the
// event goes on message-events, which every node's gateway reads whole. Nothing else happens.
//
// Routed (Kafka + Redis; Profile::routes_deliveries()): the event goes to the nodes that hold a
// connection of one of its recipients, by the connection registry (EventBus::PublishTo on topic
// `deliveries`); each gateway reads only what is addressed to its node, so its cost grows with
// its own connections, not with the cluster's traffic. MESSAGE_SENT also goes on message-events,
// where push notifications, media linking and the shared search index read it once per cluster;
// the other kinds do only while a node of an older version is alive (its gateway reads
// message-events). Routed events carry "routed": true in their payload; an event without it on
// message-events comes from an older node, and the bridge (a kOneNode reader of message-events)
// routes it to the newer nodes holding its recipients. Rolling upgrades work in both directions.
//
// Caching: the registry's answer for a user is kept kRouteCacheTtl; connections opened or closed
// on this node drop its entry here at once (Forget), and a user's first connection on a node is
// announced to the other nodes (ROUTES_CHANGED on their topics: UserConnected), which drop theirs
// when it arrives. Until then, and at most kRouteCacheTtl after the registry has it, another
// node's events can miss the new connection: a WebSocket session reads its pending messages once
// more kSettleAfterConnect after it connects (WsSession::SettleReplay), which covers them. If the
// registry cannot answer, the event goes to every live node last seen (LiveNodes, refreshed every
// kLiveNodesTtl) and on message-events.
//
// Thread-safe; Publish may block on one registry round trip (short timeouts) on a cache miss.
#pragma once

#include <boost/json/object.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/metrics.h"
#include "events/event_bus.h"
#include "storage/cluster_state.h"

namespace parley::services {

inline constexpr auto kRouteCacheTtl = std::chrono::milliseconds(1000);
inline constexpr auto kLiveNodesTtl = std::chrono::milliseconds(5000);
// The registry's write of a new connection (on the blocking pool, ~1 ms) plus kRouteCacheTtl,
// with room to spare.
inline constexpr auto kSettleAfterConnect = std::chrono::milliseconds(2500);

class DeliveryRouter {
 public:
  // `registry` nullptr: broadcast. Otherwise routed, and `bus` must address nodes.
  DeliveryRouter(events::EventBus& bus, storage::ConnectionRegistry* registry, Metrics& metrics);

  // Routed only: learns the live nodes and subscribes the bridge. Call before the bus starts.
  void Start();
  bool routed() const { return registry_ != nullptr; }
  events::EventBus& bus() { return bus_; }

  // Publishes a live event of message-events for the users in `recipients` (the gateway reads
  // the rest of its payload). `event_id` empty: a fresh one (see events::MakeEventWithId).
  // `confirm` (optional) is passed to every publish of it (events::Confirmation).
  void Publish(std::string_view type, std::string key, boost::json::object payload,
               const std::vector<std::string>& recipients, std::string event_id = {},
               events::ConfirmationPtr confirm = nullptr);
  // Drops what is cached about the user (a connection of theirs opened or closed here, or
  // another node's ROUTES_CHANGED).
  void Forget(const std::string& user_id);
  // The user's first connection on this node, once the registry has it: Forget, and (routed)
  // tell the other live nodes to forget too.
  void UserConnected(const std::string& user_id);

  // The users a live event of message-events is for, read from its payload (what the gateway
  // delivers to); empty for other kinds.
  static std::vector<std::string> Recipients(const events::Event& e);

 private:
  struct Entry {
    std::vector<std::string> nodes;
    std::chrono::steady_clock::time_point fetched;
  };
  // The addressed nodes holding a connection of one of `users`, sorted, unique. *legacy: the
  // event must go on message-events too (a live node may read only that, or the registry could
  // not answer).
  std::vector<std::string> Route(const std::vector<std::string>& users, bool* legacy);
  void RefreshLiveNodes(std::chrono::steady_clock::time_point now);
  void Bridge(const events::EventPtr& e);

  events::EventBus& bus_;
  storage::ConnectionRegistry* const registry_;
  std::atomic<uint64_t>& routed_events_;
  std::atomic<uint64_t>& fallbacks_;
  std::atomic<uint64_t>& bridged_;

  std::mutex mu_;
  std::unordered_map<std::string, Entry> cache_;  // guarded by mu_
  std::vector<std::string> addressed_nodes_;      // guarded by mu_: live, reading addressed events
  bool legacy_alive_ = true;                      // guarded by mu_: some live node does not
  std::chrono::steady_clock::time_point live_nodes_at_{};  // guarded by mu_
  std::chrono::steady_clock::time_point registry_down_until_{};  // guarded by mu_
  uint64_t forget_epoch_ = 0;  // guarded by mu_: Forget/UserConnected calls so far
};

}  // namespace parley::services
