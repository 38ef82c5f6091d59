// EventBus: publish/subscribe on the seed's topics.
//
// Contract: Publish is thread-safe and never blocks on I/O. Subscribers of a topic see its events
// in publish order per key. Handlers run on the publisher's thread (in-process adapter) or on a
// consumer thread (Kafka); they must be quick and must not block: post real work elsewhere.
// Subscribe before Start(); subscriptions live as long as the bus.
#pragma once

#include <functional>
#include <string_view>

#include "events/event.h"

namespace parley::events {

using Handler = std::function<void(std::string_view topic, const EventPtr& event)>;

class EventBus {
 public:
  virtual ~EventBus() = default;
  virtual void Publish(std::string_view topic, EventPtr event) = 0;
  virtual void Subscribe(std::string_view topic, Handler handler) = 0;
};

}  // namespace parley::events
