#include "services/delivery/delivery_router.h"

#include <algorithm>

#include "common/json_fields.h"
#include "common/log.h"
#include "events/event.h"

namespace parley::services {

namespace {

constexpr size_t kMaxCachedUsers = 200000;  // past it the cache starts again empty
constexpr auto kRegistryBackoff = std::chrono::milliseconds(1000);

void AddStrings(const boost::json::value* v, std::vector<std::string>* out) {
  if (!v || !v->is_array()) return;
  for (const auto& e : v->as_array())
    if (e.is_string()) out->emplace_back(e.as_string());
}

}  // namespace

DeliveryRouter::DeliveryRouter(events::EventBus& bus, storage::ConnectionRegistry* registry,
                               Metrics& metrics)
    : bus_(bus),
      registry_(registry),
      routed_events_(metrics.Counter("parley_delivery_routed_events_total",
                                     "Live events addressed to the nodes holding their "
                                     "recipients (routed delivery)")),
      fallbacks_(metrics.Counter("parley_delivery_route_fallbacks_total",
                                 "Live events sent to every live node because the connection "
                                 "registry could not answer")),
      bridged_(metrics.Counter(
          "parley_delivery_bridged_events_total",
          "Events of older nodes (not routed) routed by this node's bridge")) {}

void DeliveryRouter::Start() {
  if (!routed()) return;
  RefreshLiveNodes(std::chrono::steady_clock::now());
  bus_.Subscribe(events::topic::kMessage,
                 [this](std::string_view, const events::EventPtr& e) { Bridge(e); },
                 events::Delivery::kOneNode);
}

std::vector<std::string> DeliveryRouter::Recipients(const events::Event& e) {
  std::vector<std::string> users;
  const auto& p = e.payload;
  if (e.type == events::type::kMessageSent) {
    AddStrings(p.if_contains("member_ids"), &users);
  } else if (e.type == events::type::kMessageDelivered || e.type == events::type::kMessageRead) {
    const auto* r = p.if_contains("recipient_ids");
    AddStrings(r ? r : p.if_contains("member_ids"), &users);
  } else if (e.type == events::type::kTyping) {
    AddStrings(p.if_contains("recipient_ids"), &users);
  } else if (e.type == events::type::kToDevice) {
    if (const auto* u = p.if_contains("to_user_id"); u && u->is_string())
      users.emplace_back(u->as_string());
  }
  return users;
}

void DeliveryRouter::Publish(std::string_view type, std::string key, boost::json::object payload,
                             const std::vector<std::string>& recipients, std::string event_id,
                             events::ConfirmationPtr confirm) {
  auto make = [&] {
    return event_id.empty()
               ? events::MakeEvent(type, std::move(key), std::move(payload))
               : events::MakeEventWithId(std::move(event_id), type, std::move(key),
                                         std::move(payload));
  };
  if (!routed()) {
    bus_.Publish(events::topic::kMessage, make(), confirm);
    return;
  }
  payload["routed"] = true;
  events::EventPtr event = make();
  bool legacy = false;
  std::vector<std::string> nodes = Route(recipients, &legacy);
  if (!nodes.empty()) {
    bus_.PublishTo(events::topic::kDeliveries, event, nodes, confirm);
    routed_events_.fetch_add(1, std::memory_order_relaxed);
  }
  if (legacy || type == events::type::kMessageSent) {
    bus_.Publish(events::topic::kMessage, event, confirm);
  }
}

void DeliveryRouter::Forget(const std::string& user_id) {
  if (!routed()) return;
  std::lock_guard lock(mu_);
  cache_.erase(user_id);
  ++forget_epoch_;
}

void DeliveryRouter::UserConnected(const std::string& user_id) {
  if (!routed()) return;
  std::vector<std::string> others;
  {
    std::lock_guard lock(mu_);
    cache_.erase(user_id);
    ++forget_epoch_;
    for (const auto& n : addressed_nodes_)
      if (n != registry_->node_id()) others.push_back(n);
  }
  bus_.PublishTo(events::topic::kDeliveries,
                 events::MakeEvent(events::type::kRoutesChanged, user_id, {{"user_id", user_id}}),
                 others);
}

void DeliveryRouter::RefreshLiveNodes(std::chrono::steady_clock::time_point now) {
  auto live = registry_->LiveNodes();
  std::lock_guard lock(mu_);
  live_nodes_at_ = now;
  if (!live.ok()) {
    legacy_alive_ = true;  // cannot tell: message-events too, as older nodes read it
    return;
  }
  addressed_nodes_.clear();
  legacy_alive_ = false;
  for (const auto& n : *live) {
    if (n.addressed) {
      addressed_nodes_.push_back(n.node_id);
    } else {
      legacy_alive_ = true;
    }
  }
}

std::vector<std::string> DeliveryRouter::Route(const std::vector<std::string>& users,
                                               bool* legacy) {
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::string> nodes, misses;
  bool registry_down;
  bool refresh;
  uint64_t epoch;
  {
    std::lock_guard lock(mu_);
    for (const auto& u : users) {
      auto it = cache_.find(u);
      if (it != cache_.end() && now - it->second.fetched < kRouteCacheTtl) {
        nodes.insert(nodes.end(), it->second.nodes.begin(), it->second.nodes.end());
      } else {
        misses.push_back(u);
      }
    }
    registry_down = now < registry_down_until_;
    refresh = !registry_down && now - live_nodes_at_ >= kLiveNodesTtl;
    if (refresh) live_nodes_at_ = now;  // one thread refreshes
    epoch = forget_epoch_;
  }
  if (refresh) RefreshLiveNodes(now);
  bool fallback = registry_down;
  if (!misses.empty() && !registry_down) {
    auto found = registry_->DeliveryNodes(misses);
    std::lock_guard lock(mu_);
    if (!found.ok()) {
      registry_down_until_ = now + kRegistryBackoff;
      fallback = true;
      LogWarn("delivery: connection registry unavailable; sending to every node",
              {{"error", found.error().message}});
    } else {
      if (cache_.size() + misses.size() > kMaxCachedUsers) cache_.clear();
      // An answer read while a user connected somewhere may predate it: used, not kept.
      const bool keep = epoch == forget_epoch_;
      for (size_t i = 0; i < misses.size(); ++i) {
        nodes.insert(nodes.end(), (*found)[i].begin(), (*found)[i].end());
        if (keep) cache_[misses[i]] = Entry{std::move((*found)[i]), now};
      }
    }
  }
  fallback = fallback && !misses.empty();
  std::lock_guard lock(mu_);
  if (fallback) {
    nodes = addressed_nodes_;
    fallbacks_.fetch_add(1, std::memory_order_relaxed);
  }
  *legacy = legacy_alive_ || fallback;
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  return nodes;
}

void DeliveryRouter::Bridge(const events::EventPtr& e) {
  const auto* mark = e->payload.if_contains("routed");
  if (mark && mark->is_bool() && mark->as_bool()) return;  // a routing node sent it already
  std::vector<std::string> users = Recipients(*e);
  if (users.empty()) return;
  bool legacy = false;
  std::vector<std::string> nodes = Route(users, &legacy);
  if (nodes.empty()) return;
  bus_.PublishTo(events::topic::kDeliveries, e, nodes);
  bridged_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace parley::services
