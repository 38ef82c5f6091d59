// EventBus: publish/subscribe on the seed's topics.
//
// Contract: Publish is thread-safe and never blocks on I/O. Subscribers of a topic see its events
// in publish order per key. Handlers run on the publisher's thread (in-process adapter) or on a
// consumer thread (Kafka); they must be quick and must not block: post real work elsewhere.
// Subscribe before Start(); subscriptions live as long as the bus.
//
// Delivery scope (what a subscription sees when several parleyd nodes share one bus):
//   kEveryNode  every node's subscribers see every event of the topic. The gateway uses this to
//               reach the WebSockets connected to this node. A node that was down does not
//               catch up on what it missed (it needs only live events).
//   kOneNode    each event is handled by the subscribers of one node only, whichever holds the
//               event's partition (audit records, thumbnails, push notifications). Events
//               published while no node subscribed are handled when one does.
//   kAddressed  only the events PublishTo() addressed to this node (the gateway, when deliveries
//               are routed: a node reads the live events of the users it holds, not everyone's).
//               Like kEveryNode, a node that was down does not catch up.
// Both are at least once across a crash or a rebalance: an adapter drops duplicates it can see
// (by event_id) but a handler that must act exactly once checks event_id itself. The in-process
// bus has one node, so both scopes mean the same there.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "events/event.h"

namespace parley::events {

using Handler = std::function<void(std::string_view topic, const EventPtr& event)>;

// Tells a publisher when the bus holds what it published (a transactional outbox forgets an
// entry then). Share one between several publishes of an event: `done(true)` runs once every
// record published with it was acknowledged, `done(false)` once they all settled and one failed.
// The creator holds it open until Release(), so acknowledgements that come early do not end it.
// Thread-safe; `done` runs on whichever thread settles last and must be quick.
class Confirmation {
 public:
  explicit Confirmation(std::function<void(bool delivered)> done) : done_(std::move(done)) {}
  void Expect() { left_.fetch_add(1, std::memory_order_relaxed); }  // a record is on its way
  void Settle(bool ok) {                                           // … and arrived, or not
    if (!ok) failed_.store(true, std::memory_order_relaxed);
    if (left_.fetch_sub(1, std::memory_order_acq_rel) == 1) done_(!failed_.load());
  }
  void Release() { Settle(true); }  // the creator's hold, once everything is published

 private:
  std::atomic<int> left_{1};
  std::atomic<bool> failed_{false};
  std::function<void(bool)> done_;
};
using ConfirmationPtr = std::shared_ptr<Confirmation>;

enum class Delivery { kEveryNode, kOneNode, kAddressed };

class EventBus {
 public:
  virtual ~EventBus() = default;
  // `confirm` (optional): Expect()ed and Settle()d for each record the bus makes; the
  // in-process bus makes none (its subscribers ran before Publish returns).
  virtual void Publish(std::string_view topic, EventPtr event,
                       ConfirmationPtr confirm = nullptr) = 0;
  virtual void Subscribe(std::string_view topic, Handler handler,
                         Delivery delivery = Delivery::kEveryNode) = 0;
  // False when nothing can receive an event of `topic` (the in-process bus with no subscriber):
  // a publisher may then skip building it. A shared bus (Kafka) always has an audience.
  virtual bool HasAudience(std::string_view topic) const { return true; }
  // Publishes `event` on `topic` for the kAddressed subscribers of the nodes named (ids as
  // ConnectionRegistry::node_id()); nothing if `node_ids` is empty. Thread-safe, never blocks on
  // I/O. A bus that does not address nodes (AddressesNodes() false: one node) publishes it to
  // every subscriber of `topic`.
  virtual void PublishTo(std::string_view topic, EventPtr event,
                         const std::vector<std::string>& node_ids,
                         ConfirmationPtr confirm = nullptr) {
    if (!node_ids.empty()) Publish(topic, std::move(event), std::move(confirm));
  }
  // Whether PublishTo reaches only the nodes it names (a shared bus: Kafka).
  virtual bool AddressesNodes() const { return false; }
};

}  // namespace parley::events
